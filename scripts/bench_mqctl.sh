#!/usr/bin/env bash
# scripts/bench_mqctl.sh: the mqctl part of `make bench` (called at the end of
# scripts/bench.sh, on its cluster; or alone, on a throwaway cluster of its own).
#
#   bench produce   mqctl bench produce: 4 connections, 100-byte values,
#                   100 records per mq.produce_batch call, MQCTL_BENCH_SECONDS
#   bench consume   mqctl bench consume: 4 connections, 1000 records per fetch,
#                   the records just produced
#   bench latency   mqctl bench latency: 200 records/s, produce -> blocking poll
#   memory          mqctl produce of a MQCTL_BENCH_BYTES file (default 1 GiB of
#                   100-byte lines) from stdin, then mqctl consume of
#                   MQCTL_BENCH_RECORDS (default 10 million) of them to
#                   /dev/null: the peak resident memory of mqctl itself
#                   (VmHWM, printed by -v), which must stay bounded (< 64 MB)
#
# Prints a Markdown table.  MQCTL_BENCH_CONN (a conninfo) selects an existing
# database with mqext; without it a cluster is started here and stopped on
# exit, by its data directory.  Needs about twice MQCTL_BENCH_BYTES of disk
# (the input file and the log).
set -euo pipefail
. "$(dirname "$0")/common.sh"

SECS=${MQCTL_BENCH_SECONDS:-10}
BYTES=${MQCTL_BENCH_BYTES:-1073741824}
RECORDS=${MQCTL_BENCH_RECORDS:-10000000}
MEM_LIMIT_KB=65536
MQCTL="$PGBIN/mqctl"

TMP=$(pg_tmpdir bench_mqctl)
DATA=
cleanup() {
    if [ -n "$DATA" ]; then stop_cluster "$DATA"; fi
    if [ -z "${MQ_KEEP_TMP:-}" ]; then rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${MQCTL_BENCH_CONN:-}" ]; then
    "$REPO/scripts/deps.sh"
    build_install
    DATA="$TMP/data"
    PORT=$(free_port)
    init_cluster "$DATA" "$PORT"
    start_cluster "$DATA"
    as_pg "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE mqctl_bench"
    MQCTL_BENCH_CONN="host=127.0.0.1 port=$PORT user=postgres dbname=mqctl_bench"
fi
CONN=$MQCTL_BENCH_CONN
PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -d "$CONN" -c "CREATE EXTENSION IF NOT EXISTS mqext"

mq() { "$MQCTL" -d "$CONN" "$@"; }
field() { sed -n "s|^$1: ||p" "$2"; }

echo
echo "== mqctl bench (the command-line client) =="
mq topics create mqctl-bench -p 4 --if-not-exists

mq bench produce -t mqctl-bench -c 4 -s 100 -b 100 -T "$SECS" | tee "$TMP/produce.out"
mq bench consume -t mqctl-bench -c 4 -b 1000 | tee "$TMP/consume.out"
mq bench latency -t mqctl-bench -r 200 -T "$SECS" | tee "$TMP/latency.out"

# memory while streaming: a large file in, many records out
echo "generating $BYTES bytes of 100-byte lines ..."
head -c "$BYTES" < <(yes "$(printf '%099d' 0)") >"$TMP/input.txt"
mq topics create mqctl-bench-mem -p 4 --if-not-exists
mq produce mqctl-bench-mem -v <"$TMP/input.txt" 2>&1 | tee "$TMP/mem_produce.out"
rm -f "$TMP/input.txt"
mq consume mqctl-bench-mem -e -c "$RECORDS" -v -f '%s\n' 2>"$TMP/mem_consume.out" >/dev/null
cat "$TMP/mem_consume.out"

P_KB=$(sed -n 's/.*peak memory \([0-9]*\) kB.*/\1/p' "$TMP/mem_produce.out")
P_REC=$(sed -n 's/.*produced \([0-9]*\) records.*/\1/p' "$TMP/mem_produce.out")
P_RATE=$(sed -n 's/.* \([0-9]*\) records\/s, \([0-9.]*\) MB\/s.*/\1 records\/s, \2 MB\/s/p' "$TMP/mem_produce.out")
C_KB=$(sed -n 's/.*peak memory \([0-9]*\) kB.*/\1/p' "$TMP/mem_consume.out")
C_REC=$(sed -n 's/.*consumed \([0-9]*\) records.*/\1/p' "$TMP/mem_consume.out")
C_RATE=$(sed -n 's/.*: \([0-9]*\) records\/s.*/\1 records\/s/p' "$TMP/mem_consume.out")
verdict() { if [ "${1:-999999999}" -lt "$MEM_LIMIT_KB" ]; then echo "< 64 MB: met"; else echo "< 64 MB: **MISSED**"; fi; }

cat <<EOF

## mqctl, the command-line client

- Same kind of client as kcat: one process, libpq over TCP on 127.0.0.1; bench runs ${SECS} s; values of 100 bytes; null keys

| Measurement | Result | Target |
|---|---:|---|
| bench produce: 4 connections, 100 records per mq.produce_batch (records/s) | $(field 'records/s' "$TMP/produce.out") ($(field 'MB/s' "$TMP/produce.out") MB/s) | — |
| bench produce: latency per call, ms | $(field 'latency (per call) ms' "$TMP/produce.out") | — |
| bench consume: 4 connections, mq.fetch of 1000 (records/s) | $(field 'records/s' "$TMP/consume.out") ($(field 'MB/s' "$TMP/consume.out") MB/s) | — |
| bench latency: produce → blocking poll, 200 records/s, ms | $(field 'latency (produce to consume) ms' "$TMP/latency.out") | — |
| mqctl produce of a ${BYTES}-byte file from stdin ($P_REC records; $P_RATE): peak memory of mqctl | ${P_KB} kB | $(verdict "$P_KB") |
| mqctl consume of $C_REC records to /dev/null ($C_RATE): peak memory of mqctl | ${C_KB} kB | $(verdict "$C_KB") |
EOF
exit 0
