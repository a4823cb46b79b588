# scripts/common.sh: helpers shared by run.sh, test.sh and bench.sh (sourced).

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Run a command as the postgres OS user when we are root (Postgres refuses
# to run as root), as ourselves otherwise.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# A directory the server user owns.
pg_tmpdir() {
    local d
    d=$(mktemp -d "${TMPDIR:-/tmp}/mqext.$1.XXXXXX")
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$d"; fi
    chmod 755 "$d"
    echo "$d"
}

# A free TCP port on 127.0.0.1.
free_port() {
    perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0) or die; print $s->sockport, "\n";'
}

# Build and install the extension (install needs root on Debian).
build_install() {
    make -C "$REPO" -s all
    make -C "$REPO" -s install
}

# initdb + start a cluster: init_cluster DATADIR PORT
init_cluster() {
    local data=$1 port=$2
    as_pg "$PGBIN/initdb" -D "$data" -A trust -U postgres --no-sync -E UTF8 --locale=C >/dev/null
    cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
shared_preload_libraries = 'mqext'
max_prepared_transactions = 10
CONF
}

start_cluster() {
    local data=$1
    as_pg "$PGBIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null
}

stop_cluster() {
    local data=$1
    [ -f "$data/postmaster.pid" ] || return 0
    as_pg "$PGBIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}
