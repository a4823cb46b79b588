#!/usr/bin/env bash
# scripts/test.sh: `make test`.  Installs what is missing, builds, installs,
# then runs every suite on throwaway clusters it starts itself (pg_regress
# and pg_isolation_regress --temp-instance, PostgreSQL::Test::Cluster for
# TAP), and ends with the line "N passed, N failed".  Only servers started
# here are stopped here, by data directory.
set -uo pipefail
. "$(dirname "$0")/common.sh"

"$REPO/scripts/deps.sh" || exit 1
build_install || { echo "0 passed, 1 failed"; exit 1; }

PGXS_DIR=$("$PGBIN/pg_config" --pkglibdir)/pgxs
REGRESS=$(make -s -C "$REPO" print-regress)
ISOLATION=$(make -s -C "$REPO" print-isolation)
ONLY=${MQ_TEST_ONLY:-unit regress isolation tap}

TMP=$(pg_tmpdir test)
[ -n "${MQ_KEEP_TMP:-}" ] && echo "test files kept in $TMP"
cleanup() {
    # pg_regress stops its own temp instances; TAP clusters are stopped by
    # PostgreSQL::Test::Cluster.  Stop anything left under our temp dir.
    for pid in "$TMP"/*/*/postmaster.pid "$TMP"/*/*/*/postmaster.pid; do
        [ -f "$pid" ] && stop_cluster "$(dirname "$pid")"
    done
    if [ -z "${MQ_KEEP_TMP:-}" ]; then rm -rf "$TMP"; fi
}
trap cleanup EXIT

passed=0
failed=0
failures=()

count() {   # count SUITE LOGFILE: tally "... ok" / "... FAILED" lines
    local suite=$1 log=$2 ok bad
    ok=$(grep -cE '^(ok [0-9]+|test .* \.\.\. ok|     [^ ].* \.\.\. ok)' "$log" || true)
    bad=$(grep -E '^(not ok [0-9]+|test .* \.\.\. FAILED|     [^ ].* \.\.\. FAILED|.*\.\.\. failed)' "$log" || true)
    passed=$((passed + ok))
    if [ -n "$bad" ]; then
        failed=$((failed + $(echo "$bad" | wc -l)))
        while IFS= read -r l; do failures+=("$suite: $l"); done <<<"$bad"
    fi
}

section() { echo; echo "==== $* ===="; }

if [[ " $ONLY " == *" unit "* ]]; then
    section "C unit tests of the codecs against the Kafka vectors"
    if make -s -C "$REPO" unittest 2>&1 | tee "$TMP/unit.log"; then :; else
        grep -q '^not ok' "$TMP/unit.log" || { failures+=("unit: build or run failed"); failed=$((failed + 1)); }
    fi
    count unit "$TMP/unit.log"
fi

if [[ " $ONLY " == *" regress "* ]]; then
    section "pg_regress: $REGRESS"
    mkdir -p "$TMP/regress" && chown -R postgres:postgres "$TMP/regress" 2>/dev/null
    (cd "$REPO" && as_pg env MQ_REPO="$REPO" "$PGXS_DIR/src/test/regress/pg_regress" \
        --inputdir="$REPO" --outputdir="$TMP/regress" \
        --temp-instance="$TMP/regress/instance" --temp-config="$REPO/test/mqext.conf" \
        --port="$(free_port)" --bindir="$PGBIN" --dbname=mqext_regress \
        --encoding=UTF8 --no-locale \
        $REGRESS) 2>&1 | tee "$TMP/regress.log"
    count regress "$TMP/regress.log"
    [ -f "$TMP/regress/regression.diffs" ] && cat "$TMP/regress/regression.diffs"
fi

if [[ " $ONLY " == *" isolation "* ]]; then
    section "isolation: $ISOLATION"
    mkdir -p "$TMP/isolation" && chown -R postgres:postgres "$TMP/isolation" 2>/dev/null
    (cd "$REPO" && as_pg "$PGXS_DIR/src/test/isolation/pg_isolation_regress" \
        --inputdir="$REPO/test" --outputdir="$TMP/isolation" \
        --temp-instance="$TMP/isolation/instance" --temp-config="$REPO/test/mqext.conf" \
        --port="$(free_port)" --bindir="$PGBIN" --dbname=mqext_isolation \
        --encoding=UTF8 --no-locale \
        $ISOLATION) 2>&1 | tee "$TMP/isolation.log"
    count isolation "$TMP/isolation.log"
    [ -f "$TMP/isolation/regression.diffs" ] && cat "$TMP/isolation/regression.diffs"
fi

if [[ " $ONLY " == *" tap "* ]] && compgen -G "$REPO/test/t/*.pl" >/dev/null; then
    section "TAP: test/t"
    mkdir -p "$TMP/tap" && chown -R postgres:postgres "$TMP/tap" 2>/dev/null
    for t in "$REPO"/test/t/${MQ_TAP:-}*.pl; do
        name=$(basename "$t")
        if (cd "$TMP/tap" && as_pg env PATH="$PGBIN:$PATH" PERL5LIB="$PGXS_DIR/src/test/perl:$REPO/test/perl" \
                TESTDIR="$TMP/tap" TESTDATADIR="$TMP/tap/$name" PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
                MQ_REPO="$REPO" prove -v "$t") >"$TMP/tap/$name.log" 2>&1; then
            echo "tap $name ... ok"
            passed=$((passed + 1))
        else
            echo "tap $name ... FAILED"
            cat "$TMP/tap/$name.log"
            failures+=("tap: $name")
            failed=$((failed + 1))
        fi
    done
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
    echo "Failed:"
    printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
