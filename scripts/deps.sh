#!/usr/bin/env bash
# scripts/deps.sh: install what building and testing mqext needs, on Debian 12.
# Idempotent: installs only what is missing (apt-get update first, as root).
set -euo pipefail

# libkrb5-dev: PostgreSQL's libpq/libpq-be.h (the client socket, watched by
# blocking polls) includes gssapi.h, which Debian's server headers lack.
# libio-pty-perl: TAP 007 types a password into mqctl on a pseudo-terminal.
pkgs=(postgresql-15 postgresql-server-dev-15 postgresql-client-15 libpq-dev
      postgresql-15-pgtap postgresql-contrib libipc-run-perl libio-pty-perl
      libkrb5-dev make gcc clang-14 libclang-rt-14-dev perl)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]}; run as root to install them" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
