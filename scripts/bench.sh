#!/usr/bin/env bash
# scripts/bench.sh: `make bench`.  mqext against Postgres' own limits, in one
# run on one throwaway cluster (default settings plus
# shared_preload_libraries = 'mqext'; synchronous_commit and fsync on):
#
#   single-record write   pgbench INSERT of one row per transaction
#                         vs pgbench mq.produce of one record per transaction
#   bulk write            COPY of 1M rows (psql \copy, the client streams them)
#                         vs mq.produce_batch of 100 / 1000 records per call
#   read                  SELECT of 1M rows by key range, 500 per statement
#                         vs mq.fetch of 1M records, 500 per call (all seven
#                         columns, the target; and offset + value only)
#
# All payloads and values are 100 bytes; pgbench runs with -n -M prepared
# over TCP on 127.0.0.1 for both sides, the payloads sent as parameters.
# Prints a Markdown table; a missed target is marked MISSED but the exit
# status stays 0 (non-zero only when a step fails).  Only the server started
# here is stopped here, by its data directory, also on failure.
#
# Every figure is the best of MQ_BENCH_ROUNDS (default 3) rounds, raw and
# mqext interleaved; MQ_BENCH_SECONDS (default 8) is the length of each
# timed pgbench run.  Runtime is about 3 minutes.
set -euo pipefail
. "$(dirname "$0")/common.sh"

SECS=${MQ_BENCH_SECONDS:-8}
ROUNDS=${MQ_BENCH_ROUNDS:-3}
ROWS=1000000                    # COPY / SELECT / fetch volume
CHUNK=500                       # rows per SELECT / fetch
PAYLOAD=100                     # bytes per row / record

"$REPO/scripts/deps.sh"
build_install

TMP=$(pg_tmpdir bench)
DATA="$TMP/data"
PORT=$(free_port)
cleanup() {
    stop_cluster "$DATA"
    if [ -z "${MQ_KEEP_TMP:-}" ]; then rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

init_cluster "$DATA" "$PORT"
start_cluster "$DATA"

DB=bench
CONN=(-h 127.0.0.1 -p "$PORT" -U postgres)
psql_() { as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "${CONN[@]}" "$@"; }
sql() { psql_ -d "$DB" -Atc "$1"; }

psql_ -d postgres -c "CREATE DATABASE $DB"
cp "$REPO"/bench/*.sql "$TMP/"
chmod 644 "$TMP"/*.sql
psql_ -d "$DB" -f "$TMP/setup.sql" >/dev/null

JOBS=$(nproc); [ "$JOBS" -gt 8 ] && JOBS=8

# The same 100 bytes everywhere, given as 100 plain characters (bytea's
# escape input format, as cheap to parse as text); the arrays for
# produce_batch are one bytea[] parameter (1000 x 101 bytes: under the
# 128 kB limit of one command-line argument, which pgbench -D goes through).
V=$(printf 'x%.0s' $(seq 1 $PAYLOAD))
arr() { local n=$1 a; a=$(printf "$V,%.0s" $(seq 1 "$n")); echo "{${a%,}}"; }
ARR100=$(arr 100)
ARR1000=$(arr 1000)

# pgbench_tps LOG ARGS...: run pgbench, print its tps (excluding connecting)
pgbench_tps() {
    local log=$1; shift
    if ! as_pg "$PGBIN/pgbench" -n -M prepared "${CONN[@]}" "$@" "$DB" >"$log" 2>&1; then
        echo "bench: pgbench $* failed:" >&2
        cat "$log" >&2
        return 1
    fi
    awk '/^tps = / { print $3; exit }' "$log"
}

# Each measurement starts after a checkpoint, so no run pays for another's.
settle() { sql "CHECKPOINT" >/dev/null; }
now() { date +%s.%N; }
mul() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a * b }'; }

# record KEY VALUE UNIT LABEL: print one result, keep the best of the rounds
declare -A R
record() {
    printf '  round %d  %-56s %10.0f %s\n' "$round" "$4" "$2" "$3" >&2
    R[$1]=$(awk -v a="$2" -v b="${R[$1]:-0}" 'BEGIN { print (a > b) ? a : b }')
}

# A fresh cluster has no WAL segments to recycle, so whichever run first
# writes a lot of WAL would also pay for creating (zero-filling) segment
# files.  Create ~750 MB of segments up front; the checkpoints then recycle
# them, as on a server that has been running for a while.
for _ in $(seq 1 48); do
    echo "INSERT INTO wal_warmup VALUES (1); SELECT pg_switch_wal();"
done | { echo "CREATE TABLE wal_warmup (x int);"; cat; echo "DROP TABLE wal_warmup;"; } |
    psql_ -d "$DB" >/dev/null
settle

perl -e 'my $v = "x" x $ARGV[1]; print "$_\t$v\n" for 0 .. $ARGV[0] - 1' \
    "$ROWS" "$PAYLOAD" >"$TMP/rows.tsv"
chmod 644 "$TMP/rows.tsv"

echo "== mqext benchmark: best of $ROUNDS rounds, $SECS s per timed pgbench run, cluster on 127.0.0.1:$PORT ==" >&2

# --- writes -------------------------------------------------------------------
for round in $(seq 1 "$ROUNDS"); do
    for c in 1 8; do
        j=$((c < JOBS ? c : JOBS))
        settle
        t=$(pgbench_tps "$TMP/insert$c.log" -c "$c" -j "$j" -T "$SECS" -D "v=$V" -f "$TMP/insert.sql")
        record "insert$c" "$t" rows/s "INSERT, 1 row/txn, $c client(s)"
        settle
        t=$(pgbench_tps "$TMP/produce$c.log" -c "$c" -j "$j" -T "$SECS" -D "v=$V" -f "$TMP/produce.sql")
        record "produce$c" "$t" records/s "mq.produce, 1 record/txn, $c client(s)"
    done

    sql "TRUNCATE raw_copy" >/dev/null
    settle
    t0=$(now)
    psql_ -d "$DB" -c "\\copy raw_copy (id, payload) FROM '$TMP/rows.tsv'"
    t1=$(now)
    record copy "$(awk -v n="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')" \
        rows/s "COPY of $ROWS rows (psql \\copy from a file)"

    settle
    t=$(pgbench_tps "$TMP/batch100.log" -c 1 -T "$SECS" -D topic=batch100 -D "arr=$ARR100" -f "$TMP/produce_batch.sql")
    record batch100 "$(mul "$t" 100)" records/s "mq.produce_batch of 100, 1 client"

    # $ROWS records per round: the first $ROWS are what the fetch reads
    settle
    t=$(pgbench_tps "$TMP/batch1000.log" -c 1 -t $((ROWS / 1000)) -D topic=batch1000 -D "arr=$ARR1000" -f "$TMP/produce_batch.sql")
    record batch1000 "$(mul "$t" 1000)" records/s "mq.produce_batch of 1000, 1 client ($ROWS records)"
done
rm -f "$TMP/rows.tsv"

# --- reads --------------------------------------------------------------------
# Both data sets were written in bulk.  Vacuum both (hint bits, statistics);
# an untimed pass of each warms the caches.
n=$(sql "SELECT count(*) FROM raw_copy")
[ "$n" -eq "$ROWS" ] || { echo "bench: raw_copy has $n rows, expected $ROWS" >&2; exit 1; }
n=$(sql "SELECT mq.latest_offset('batch1000', 0)")
[ "$n" -eq $((ROWS * ROUNDS)) ] || { echo "bench: topic batch1000 has $n records, expected $((ROWS * ROUNDS))" >&2; exit 1; }
sql "VACUUM ANALYZE" >/dev/null
settle
reads() {   # reads NAME SCRIPT: one pass over $ROWS rows, $CHUNK at a time
    pgbench_tps "$TMP/$1.log" -c 1 -t $((ROWS / CHUNK)) -D off=0 -f "$TMP/$2"
}
round=0
reads select-warm select.sql >/dev/null
reads fetch-warm fetch.sql >/dev/null
reads fetch-narrow-warm fetch_narrow.sql >/dev/null
for round in $(seq 1 "$ROUNDS"); do
    t=$(reads select select.sql)
    record select "$(mul "$t" "$CHUNK")" rows/s "SELECT by key range, $CHUNK rows/stmt, $ROWS rows"
    t=$(reads fetch fetch.sql)
    record fetch "$(mul "$t" "$CHUNK")" records/s "mq.fetch, $CHUNK records/call, $ROWS records"
    t=$(reads fetch-narrow fetch_narrow.sql)
    record fetch_narrow "$(mul "$t" "$CHUNK")" records/s "mq.fetch as above, offset and value only"
done
# the last chunk was a full one: the offset really advanced
n=$(sql "SELECT count(*) FROM mq.fetch('batch1000', 0, $((ROWS - CHUNK)), $CHUNK)")
[ "$n" -eq "$CHUNK" ] || { echo "bench: last fetch chunk has $n records" >&2; exit 1; }

# --- report -------------------------------------------------------------------
PGVER=$(sql "SELECT version()")
SETTINGS=$(sql "SELECT string_agg(name || ' = ' || current_setting(name), ', ' ORDER BY name)
                  FROM pg_settings
                 WHERE name IN ('shared_preload_libraries', 'synchronous_commit', 'fsync',
                                'wal_level', 'shared_buffers', 'max_wal_size', 'checkpoint_timeout',
                                'full_page_writes', 'wal_sync_method')")
CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
RAM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
FS=$(df -PT "$DATA" | awk 'NR == 2 { print $2 }')

fmt() {
    awk -v x="$1" 'BEGIN {
        s = sprintf("%.0f", x); out = ""
        while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
        print s out }'
}
missed=0
row() {     # row WORKLOAD RAW MQ TARGET(empty = none)
    local ratio verdict
    ratio=$(awk -v a="$3" -v b="$2" 'BEGIN { printf "%.2f", a / b }')
    if [ -z "$4" ]; then
        verdict="—"
    elif awk -v r="$ratio" -v t="$4" 'BEGIN { exit !(r >= t) }'; then
        verdict="≥ $4: met"
    else
        verdict="≥ $4: **MISSED**"; missed=$((missed + 1))
    fi
    printf '| %s | %s | %s | %s× | %s |\n' "$1" "$(fmt "$2")" "$(fmt "$3")" "$ratio" "$verdict"
}

cat <<EOF

## mqext benchmark

- Machine: $(nproc) CPUs ($CPU), $RAM RAM, data directory on $FS
- Server: $PGVER
- Settings: defaults plus shared_preload_libraries (same for every run); $SETTINGS; WAL segments pre-created before the first run; CHECKPOINT before every run
- Client: pgbench -n -M prepared over TCP on 127.0.0.1 (8 clients: -j $JOBS), $PAYLOAD-byte bytea payloads/values sent as parameters (text format; both reads return bytea, so both pay hex output); COPY by psql \\copy from a file; single-partition topics; mq.produce_batch returns only min(offset) to the client; best of $ROUNDS rounds, $SECS s per timed pgbench run

| Workload (per second) | Postgres | mqext | mqext / Postgres | Target |
|---|---:|---:|---:|---|
EOF
row "1 client, 1 row per transaction: INSERT vs mq.produce" "${R[insert1]}" "${R[produce1]}" 0.8
row "8 clients, 1 row per transaction: INSERT vs mq.produce" "${R[insert8]}" "${R[produce8]}" 0.8
row "bulk: COPY of 1M rows vs mq.produce_batch of 100" "${R[copy]}" "${R[batch100]}" ""
row "bulk: COPY of 1M rows vs mq.produce_batch of 1000" "${R[copy]}" "${R[batch1000]}" 2
row "read 1M in chunks of $CHUNK: SELECT id, payload by key range vs SELECT * FROM mq.fetch" "${R[select]}" "${R[fetch]}" 2
row "read 1M in chunks of $CHUNK: the same, but SELECT \"offset\", value FROM mq.fetch" "${R[select]}" "${R[fetch_narrow]}" ""
echo
if [ "$missed" -gt 0 ]; then
    echo "$missed target(s) MISSED."
else
    echo "All targets met."
fi
exit 0
