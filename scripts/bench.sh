#!/usr/bin/env bash
# scripts/bench.sh: `make bench`.  mqext against Postgres' own limits, in one
# run on one throwaway cluster (default settings plus
# shared_preload_libraries = 'mqext'; synchronous_commit and fsync on):
#
#   single-record write   pgbench INSERT of one row per transaction
#                         vs pgbench mq.produce of one record per transaction
#   bulk write            COPY of 1M rows (psql \copy, the client streams them)
#                         vs mq.produce_batch of 100 / 1000 records per call
#                         (through pgbench, the array as a text literal; and
#                         of 1000 through bench/batches.c, the array bound
#                         in the binary format)
#                         vs mq.produce_encoded of a RecordBatch v2 of 1000
#                         records the client encodes itself (bench/batches.c,
#                         a libpq client built here with gcc and mqext's codec;
#                         its encoding time counts), sent as a binary parameter
#                         and the floor of any one-row-per-batch design: the
#                         same encoded batches INSERTed as one bytea row per
#                         transaction into a table stored like a segment
#   read                  SELECT of 1M rows by key range, 500 per statement
#                         vs mq.fetch of 1M records, 500 per call (all seven
#                         columns, the target; and offset + value only)
#                         vs mq.fetch_batches, one stored batch of 500 records
#                         per call (a topic written untimed with produce_batch
#                         of 500), through pgbench; and the SELECT and
#                         mq.fetch_batches again through bench/batches.c with
#                         binary results, the batches' CRC checked and records
#                         decoded by the client; and the same batches stored
#                         as bytea rows (the floor) read one per call
#
# and, in a second table, consumer groups (bench/groups.c, a libpq client
# built here with gcc):
#
#   latency               producer's COMMIT to the return of a poller blocked
#                         in mq.poll, on an idle topic: p50 and p99 of 1000
#   drain                 a group of 4 members draining 1M records from 8
#                         partitions, poll of 500 + mq.commit per transaction,
#                         vs 4 sessions draining a 1M-row queue table with
#                         DELETE ... SELECT ... FOR UPDATE SKIP LOCKED, 500 a time
#   idle                  CPU time of the backends of 100 members blocked in
#                         mq.poll, over 10 s (from /proc of the pids that
#                         pg_stat_activity of this cluster lists for them)
#   rebalance             mq.subscribe / mq.unsubscribe that rebalance a group
#                         of 100 members over 1000 partitions (worst of 6 / 5)
#
# and, in a third table, coordination and operations (bench/ops.c, likewise):
#
#   soak                  50 sessions, each holding an ephemeral node and a
#                         watch, killed (socket reset, FIN, pg_terminate_backend)
#                         and restarted at random for 60 s: no orphaned node,
#                         every deletion notified (to a watcher LISTENing on
#                         each node), and by the dying session itself; the
#                         delay from kill to notification
#   retention             one producer, one record per call, for 30 s while the
#                         worker rolls segments and drops them (housekeeping
#                         every 500 ms, set by ALTER SYSTEM and reset after):
#                         max vs median call latency, against the same producer
#                         on a topic without rolls or retention as a control;
#                         slow calls set against the worker's LOG lines
#
# All payloads and values are 100 bytes; pgbench runs with -n -M prepared
# over TCP on 127.0.0.1 for both sides, the payloads sent as parameters.
# Prints three Markdown tables; a missed target is marked MISSED but the exit
# status stays 0 (non-zero only when a step fails).  Only the server started
# here is stopped here, by its data directory, also on failure.
#
# Every figure of the first two tables is the best of MQ_BENCH_ROUNDS
# (default 3) rounds, raw and mqext interleaved; MQ_BENCH_SECONDS (default 8)
# is the length of each timed pgbench run; the third table's runs are single,
# MQ_BENCH_SOAK_SECONDS (default 60) and MQ_BENCH_RETENTION_SECONDS (default
# 30, each of the two runs) long.  Runtime is about 7.5 minutes (the
# consumer groups take about 2 of them, coordination and operations about
# 2.5).  max_connections is 120 (the 100 members and their controller; the
# default 100 is too few).
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
CLIENT_PID=
cleanup() {
    if [ -n "$CLIENT_PID" ]; then kill "$CLIENT_PID" 2>/dev/null || true; fi
    stop_cluster "$DATA"
    if [ -z "${MQ_KEEP_TMP:-}" ]; then rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

init_cluster "$DATA" "$PORT"
echo "max_connections = 120" >>"$DATA/postgresql.conf"
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
ARR500=$(arr 500)
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

# bench/batches.c: the client of the batch-level API, with mqext's codec
# (pure C, no PostgreSQL header) compiled in; run like bench/groups.c (in
# the background, waited for, so that the EXIT trap can stop it).
gcc -O2 -Wall -o "$TMP/batches" "$REPO/bench/batches.c" "$REPO"/src/codec/{record_batch,crc32c,varint}.c \
    -I"$REPO/src/codec" -I"$("$PGBIN/pg_config" --includedir)" -lpq
CONNINFO="host=127.0.0.1 port=$PORT user=postgres dbname=$DB"
# client PROGRAM LOG ARGS...: run one of the bench clients (bench/*.c) in
# the background and wait for it, so that the EXIT trap can stop it by its
# pid; its KEY=VALUE lines are left in LOG
client() {
    local prog=$1 log=$2 rc=0; shift 2
    "$TMP/$prog" "$@" >"$log" 2>"$log.err" &
    CLIENT_PID=$!
    wait "$CLIENT_PID" || rc=$?
    CLIENT_PID=
    if [ "$rc" -ne 0 ]; then
        echo "bench: $prog $1 failed:" >&2
        cat "$log.err" >&2
        return 1
    fi
}
batches() {     # batches LOG ARGS...: run bench/batches.c, print its per_s
    client batches "$@" && awk -F= '$1 == "per_s" { print $2 }' "$1"
}

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

    settle
    t=$(batches "$TMP/array1000-$round.log" produce-array "$CONNINFO" array1000 "$ROWS" 1000 "$PAYLOAD")
    record array1000 "$t" records/s "mq.produce_batch of 1000, bytea[] bound in binary, 1 client ($ROWS records)"

    settle
    t=$(batches "$TMP/encoded1000-$round.log" produce "$CONNINFO" encoded1000 "$ROWS" 1000 "$PAYLOAD")
    record encoded1000 "$t" records/s "mq.produce_encoded, client-encoded batches of 1000, 1 client ($ROWS records)"

    sql "TRUNCATE raw_blob" >/dev/null
    settle
    t=$(batches "$TMP/blob1000-$round.log" blob "$CONNINFO" blob1000 "$ROWS" 1000 "$PAYLOAD")
    record blob1000 "$t" records/s "the same batches INSERTed as one bytea row per transaction, 1 client ($ROWS records)"
done
rm -f "$TMP/rows.tsv"

# --- reads --------------------------------------------------------------------
# Both data sets were written in bulk.  Vacuum both (hint bits, statistics);
# an untimed pass of each warms the caches.
n=$(sql "SELECT count(*) FROM raw_copy")
[ "$n" -eq "$ROWS" ] || { echo "bench: raw_copy has $n rows, expected $ROWS" >&2; exit 1; }
n=$(sql "SELECT mq.latest_offset('batch1000', 0)")
[ "$n" -eq $((ROWS * ROUNDS)) ] || { echo "bench: topic batch1000 has $n records, expected $((ROWS * ROUNDS))" >&2; exit 1; }
for tp in encoded1000 array1000; do
    n=$(sql "SELECT mq.latest_offset('$tp', 0)")
    [ "$n" -eq $((ROWS * ROUNDS)) ] || { echo "bench: topic $tp has $n records, expected $((ROWS * ROUNDS))" >&2; exit 1; }
done
# mq.fetch_batches returns whole stored batches: for chunks of $CHUNK, a
# topic written (untimed) in batches of $CHUNK
pgbench_tps "$TMP/batch$CHUNK.log" -c 1 -t $((ROWS / CHUNK)) -D topic=batch$CHUNK -D "arr=$ARR500" -f "$TMP/produce_batch.sql" >/dev/null
n=$(sql "SELECT mq.latest_offset('batch$CHUNK', 0)")
[ "$n" -eq "$ROWS" ] || { echo "bench: topic batch$CHUNK has $n records, expected $ROWS" >&2; exit 1; }
# the read side of the floor: batches of $CHUNK as bytea rows (untimed)
batches "$TMP/blob$CHUNK.log" blob "$CONNINFO" blob$CHUNK "$ROWS" "$CHUNK" "$PAYLOAD" >/dev/null
sql "VACUUM ANALYZE" >/dev/null
settle
reads() {   # reads NAME SCRIPT: one pass over $ROWS rows, $CHUNK at a time
    pgbench_tps "$TMP/$1.log" -c 1 -t $((ROWS / CHUNK)) -D off=0 -f "$TMP/$2"
}
round=0
reads select-warm select.sql >/dev/null
reads fetch-warm fetch.sql >/dev/null
reads fetch-narrow-warm fetch_narrow.sql >/dev/null
reads fetch-batches-warm fetch_batches.sql >/dev/null
batches "$TMP/cfetch-warm.log" fetch "$CONNINFO" batch$CHUNK "$ROWS" >/dev/null
batches "$TMP/cselect-warm.log" select "$CONNINFO" "$ROWS" "$CHUNK" >/dev/null
batches "$TMP/cblob-warm.log" blob-fetch "$CONNINFO" blob$CHUNK "$ROWS" >/dev/null
for round in $(seq 1 "$ROUNDS"); do
    t=$(reads select select.sql)
    record select "$(mul "$t" "$CHUNK")" rows/s "SELECT by key range, $CHUNK rows/stmt, $ROWS rows"
    t=$(reads fetch fetch.sql)
    record fetch "$(mul "$t" "$CHUNK")" records/s "mq.fetch, $CHUNK records/call, $ROWS records"
    t=$(reads fetch-narrow fetch_narrow.sql)
    record fetch_narrow "$(mul "$t" "$CHUNK")" records/s "mq.fetch as above, offset and value only"
    t=$(reads fetch-batches fetch_batches.sql)
    record fetch_batches "$(mul "$t" "$CHUNK")" records/s "mq.fetch_batches, 1 batch of $CHUNK records/call"
    t=$(batches "$TMP/cselect-$round.log" select "$CONNINFO" "$ROWS" "$CHUNK")
    record cselect "$t" rows/s "SELECT as above, bench/batches.c, binary results"
    t=$(batches "$TMP/cfetch-$round.log" fetch "$CONNINFO" batch$CHUNK "$ROWS")
    record cfetch "$t" records/s "mq.fetch_batches, bench/batches.c, decoded by the client"
    t=$(batches "$TMP/cblob-$round.log" blob-fetch "$CONNINFO" blob$CHUNK "$ROWS")
    record cblob "$t" records/s "the same batches as bytea rows, one per call, bench/batches.c, decoded by the client"
done
# the last chunk was a full one: the offset really advanced
n=$(sql "SELECT count(*) FROM mq.fetch('batch1000', 0, $((ROWS - CHUNK)), $CHUNK)")
[ "$n" -eq "$CHUNK" ] || { echo "bench: last fetch chunk has $n records" >&2; exit 1; }
n=$(sql "SELECT sum(record_count) FROM mq.fetch_batches('batch$CHUNK', 0, $((ROWS - CHUNK)), 1)")
[ "$n" -eq "$CHUNK" ] || { echo "bench: last fetch_batches chunk has $n records" >&2; exit 1; }

# --- consumer groups ----------------------------------------------------------
# One client process (bench/groups.c), started in the background and waited
# for, so that the EXIT trap can stop it by its pid.
gcc -O2 -Wall -o "$TMP/groups" "$REPO/bench/groups.c" -I"$("$PGBIN/pg_config" --includedir)" -lpq
CONNINFO="host=127.0.0.1 port=$PORT user=postgres dbname=$DB"
LAT_N=${MQ_BENCH_LATENCY_N:-1000}
GROUP_BATCH=500
declare -A G
groups() {      # groups LOG ARGS...: run bench/groups.c, keep its KEY=VALUE lines in G
    local k v
    client groups "$@" || return 1
    while IFS='=' read -r k v; do G[$k]=$v; done <"$1"
}

psql_ -d "$DB" -v rows="$ROWS" -f "$TMP/groups_setup.sql" >/dev/null
sql "VACUUM ANALYZE" >/dev/null
settle

groups "$TMP/latency.log" latency "$CONNINFO" "$LAT_N"
printf '  latency, %d messages: p50 %s ms, p99 %s ms, max %s ms (the COMMIT itself: p50 %s ms)\n' \
    "$LAT_N" "${G[lat_p50_ms]}" "${G[lat_p99_ms]}" "${G[lat_max_ms]}" "${G[commit_p50_ms]}" >&2

for round in $(seq 1 "$ROUNDS"); do
    sql "TRUNCATE mq_queue" >/dev/null
    sql "INSERT INTO mq_queue (payload) SELECT convert_to(repeat('x', $PAYLOAD), 'UTF8') FROM generate_series(1, $ROWS)" >/dev/null
    sql "VACUUM ANALYZE mq_queue" >/dev/null
    settle
    groups "$TMP/queue$round.log" drain-queue "$CONNINFO" 4 "$GROUP_BATCH" "$ROWS"
    record queue "${G[queue_per_s]}" rows/s "queue table, SKIP LOCKED + DELETE of $GROUP_BATCH, 4 sessions"
    settle
    groups "$TMP/drain$round.log" drain-group "$CONNINFO" "drain-$round" drain8 4 "$GROUP_BATCH" "$ROWS"
    record group "${G[group_per_s]}" records/s "group of 4 on 8 partitions, poll of $GROUP_BATCH + commit"
done

settle
groups "$TMP/idle.log" idle "$CONNINFO" idle idle1000 100 5 10 11
printf '  rebalance of %s members over %s partitions: join p50 %s ms, max %s ms; leave p50 %s ms, max %s ms\n' \
    "${G[rebalance_members]}" "${G[rebalance_partitions]}" "${G[join_p50_ms]}" "${G[join_max_ms]}" \
    "${G[leave_p50_ms]}" "${G[leave_max_ms]}" >&2
printf '  %s idle members: %s ms CPU, %s context switches in the first %s s; then %s ms, %s in %s s\n' \
    "${G[rebalance_members]}" "${G[idle_first_cpu_ms]}" "${G[idle_first_switches]}" "${G[idle_first_seconds]}" \
    "${G[idle_cpu_ms]}" "${G[idle_switches]}" "${G[idle_seconds]}" >&2

# --- coordination soak, produce under retention --------------------------------
# bench/ops.c, run like bench/groups.c (in the background, waited for).
gcc -O2 -Wall -o "$TMP/ops" "$REPO/bench/ops.c" -I"$("$PGBIN/pg_config" --includedir)" -lpq
SOAK_N=50
SOAK_SECS=${MQ_BENCH_SOAK_SECONDS:-60}
RET_SECS=${MQ_BENCH_RETENTION_SECONDS:-30}
RET_WARMUP=4
declare -A O
ops() {     # ops LOG PREFIX ARGS...: run bench/ops.c, keep its KEY=VALUE lines in O as PREFIXKEY
    local log=$1 prefix=$2 k v; shift 2
    client ops "$log" "$@" || return 1
    while IFS='=' read -r k v; do O[$prefix$k]=$v; done <"$log"
}

settle
ops "$TMP/soak.log" "" soak "$CONNINFO" "$SOAK_N" "$SOAK_SECS"
printf '  soak: %s sessions killed, %s nodes created, %s deletions notified (%s by the dying session), orphans %s / %s; kill -> notification p50 %s ms, p99 %s ms, max %s ms\n' \
    "${O[soak_killed]}" "${O[soak_created]}" "${O[soak_deleted_notified]}" "${O[soak_deleted_by_owner]}" \
    "${O[soak_orphans_mid]}" "${O[soak_orphans_end]}" "${O[soak_delay_p50_ms]}" "${O[soak_delay_p99_ms]}" \
    "${O[soak_delay_max_ms]}" >&2

# Produce while the worker rolls the segment every 1.5 s and drops each one
# 2 s after its last record, in steps of their own (housekeeping every
# 500 ms), and the same producer on a topic of default config (nothing
# rolled or dropped) as the control.  The server log
# gets %n (Unix time) prefixes meanwhile, so that the worker's LOG lines can
# be set against the producer's slow calls, and every lock wait of 1 ms or
# more is logged (log_lock_waits, deadlock_timeout 1ms): the producer's
# are counted, the direct measure of whether retention blocks it.
sql "ALTER SYSTEM SET mqext.housekeeping_interval = '500ms'" >/dev/null
sql "ALTER SYSTEM SET log_line_prefix = '%n [%p] %a '" >/dev/null
sql "ALTER SYSTEM SET log_lock_waits = on" >/dev/null
sql "ALTER SYSTEM SET deadlock_timeout = '1ms'" >/dev/null
sql "SELECT pg_reload_conf()" >/dev/null
sql "SELECT mq.create_topic('ret_control', 1)" >/dev/null
settle
ops "$TMP/ret_control.log" control_ produce "$CONNINFO" ret_control "$RET_SECS" "$RET_WARMUP" "$TMP/slow_control"
sql "SELECT mq.create_topic('ret', 1, '{\"segment.ms\": 1500, \"retention.ms\": 2000}')" >/dev/null
settle
ops "$TMP/ret.log" ret_ produce "$CONNINFO" ret "$RET_SECS" "$RET_WARMUP" "$TMP/slow_ret"
sql "ALTER SYSTEM RESET mqext.housekeeping_interval" >/dev/null
sql "ALTER SYSTEM RESET log_line_prefix" >/dev/null
sql "ALTER SYSTEM RESET log_lock_waits" >/dev/null
sql "ALTER SYSTEM RESET deadlock_timeout" >/dev/null
sql "SELECT pg_reload_conf()" >/dev/null
# lock_waits START END: the producer's lock waits of 1 ms or more logged
# between START and END
lock_waits() {
    awk -v s0="$1" -v s1="$2" '$1 ~ /^[0-9]+\.[0-9]+$/ && $1 >= s0 && $1 <= s1 && $3 == "mqbench_produce" &&
        /still waiting for/ { n++ } END { print n + 0 }' "$DATA/server.log"
}
RET_LOCK_WAITS=$(lock_waits "${O[ret_start]}" "${O[ret_end]}")
CTL_LOCK_WAITS=$(lock_waits "${O[control_start]}" "${O[control_end]}")
# the worker's steps on a topic, "UNIXTIME roll|drop|rolldrop SEGMENTS_DROPPED",
# from its LOG lines in the server log: a roll, drops, or both in one step
# (one transaction; its lines come within milliseconds, a step is 500 ms
# from the next)
events() {
    awk -v t="\"$1\"" '
        $1 !~ /^[0-9]+\.[0-9]+$/ { next }
        /mqext: dropped segment/ && index($0, "of topic " t " (") { k = "drop" }
        index($0, "mqext: topic " t " rolled") { k = "roll" }
        k == "" { next }
        n && $1 - ts[n] < 0.1 { if (kind[n] != k) kind[n] = "rolldrop"; d[n] += (k == "drop"); k = ""; next }
        { n++; ts[n] = $1; kind[n] = k; d[n] = (k == "drop"); k = "" }
        END { for (i = 1; i <= n; i++) print ts[i], kind[i], d[i] }' "$DATA/server.log"
}
# classify STEPS SLOWFILE START END: "rolls drops alone at_roll at_drop neither
# max_roll max_drop max_neither": the steps logged between START and END
# (rolls; segments dropped, and of them in a step without a roll), and the slow calls (START
# END MS lines) by whether a step was logged from 20 ms before the call
# began to its end (its LOG lines come before its commit), at_roll for a
# step with a roll, with the slowest (ms) of each kind
classify() {
    awk -v s0="$3" -v s1="$4" '
        FILENAME == ARGV[1] {
            if ($1 >= s0 && $1 <= s1) {
                n++; ts[n] = $1; kind[n] = ($2 == "drop") ? "drop" : "roll"
                if ($2 != "drop") c["roll"]++
                c["drop"] += $3
                if ($2 == "drop") c["alone"] += $3
            }
            next
        }
        { k = "neither"
          for (i = 1; i <= n; i++)
              if (ts[i] >= $1 - 0.02 && ts[i] <= $2 + 0.001 && k != "roll") k = kind[i]
          m[k]++; if ($3 > mx[k]) mx[k] = $3 }
        END { printf "%d %d %d %d %d %d %.1f %.1f %.1f\n", c["roll"], c["drop"], c["alone"],
                     m["roll"], m["drop"], m["neither"], mx["roll"], mx["drop"], mx["neither"] }' "$1" "$2"
}
events ret >"$TMP/events_ret"
events ret_control >"$TMP/events_control"
read -r RET_ROLLS RET_DROPS RET_ALONE RET_AT_ROLL RET_AT_DROP RET_NEITHER RET_MAX_ROLL RET_MAX_DROP RET_MAX_NEITHER \
    < <(classify "$TMP/events_ret" "$TMP/slow_ret" "${O[ret_start]}" "${O[ret_end]}")
read -r CTL_ROLLS CTL_DROPS _ _ _ _ _ _ _ \
    < <(classify "$TMP/events_control" "$TMP/slow_control" "${O[control_start]}" "${O[control_end]}")
[ "$RET_DROPS" -gt 0 ] || { echo "bench: no segment of topic ret was dropped while producing" >&2; exit 1; }
[ "$CTL_ROLLS" -eq 0 ] && [ "$CTL_DROPS" -eq 0 ] || { echo "bench: the control topic was rolled or dropped" >&2; exit 1; }
RET_SEGMENTS=$(sql "SELECT count(*) FROM mq.segments WHERE topic = 'ret'")
RET_LOG_START=$(sql "SELECT log_start_offset FROM mq.partitions WHERE topic = 'ret'")
for x in control ret; do
    printf '  produce (%s): %s calls, p50 %s ms, p99 %s ms, p99.9 %s ms, max %s ms (%s x the median), %s calls > 10 x the median\n' \
        "$x" "${O[${x}_n]}" "${O[${x}_p50_ms]}" "${O[${x}_p99_ms]}" "${O[${x}_p999_ms]}" "${O[${x}_max_ms]}" \
        "${O[${x}_ratio]}" "${O[${x}_slow]}" >&2
done
printf '  retention: %s rolls and %s drops (%s in a step without a roll) while producing; slow calls at a roll %s (max %s ms), at a drop alone %s (max %s ms), at neither %s (max %s ms); %s segments left, log start %s\n' \
    "$RET_ROLLS" "$RET_DROPS" "$RET_ALONE" "$RET_AT_ROLL" "$RET_MAX_ROLL" "$RET_AT_DROP" "$RET_MAX_DROP" "$RET_NEITHER" \
    "$RET_MAX_NEITHER" "$RET_SEGMENTS" "$RET_LOG_START" >&2

# --- report -------------------------------------------------------------------
PGVER=$(sql "SELECT version()")
SETTINGS=$(sql "SELECT string_agg(name || ' = ' || current_setting(name), ', ' ORDER BY name)
                  FROM pg_settings
                 WHERE name IN ('shared_preload_libraries', 'synchronous_commit', 'fsync',
                                'wal_level', 'shared_buffers', 'max_wal_size', 'checkpoint_timeout',
                                'full_page_writes', 'wal_sync_method', 'max_connections')")
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
- Client: pgbench -n -M prepared over TCP on 127.0.0.1 (8 clients: -j $JOBS), $PAYLOAD-byte bytea payloads/values sent as parameters (text format; both reads return bytea, so both pay hex output); COPY by psql \\copy from a file; single-partition topics; mq.produce_batch returns only min(offset) to the client; bench/batches.c (one libpq connection, PQexecParams, autocommit) sends each client-encoded batch as one binary parameter and reads with binary results; mq.fetch_batches reads a topic written in batches of $CHUNK; best of $ROUNDS rounds, $SECS s per timed pgbench run

| Workload (per second) | Postgres | mqext | mqext / Postgres | Target |
|---|---:|---:|---:|---|
EOF
row "1 client, 1 row per transaction: INSERT vs mq.produce" "${R[insert1]}" "${R[produce1]}" 0.8
row "8 clients, 1 row per transaction: INSERT vs mq.produce" "${R[insert8]}" "${R[produce8]}" 0.8
row "bulk: COPY of 1M rows vs mq.produce_batch of 100" "${R[copy]}" "${R[batch100]}" ""
row "bulk: COPY of 1M rows vs mq.produce_batch of 1000" "${R[copy]}" "${R[batch1000]}" 2
row "bulk: COPY of 1M rows vs mq.produce_batch of 1000, the bytea[] bound in binary (1 client, bench/batches.c)" "${R[copy]}" "${R[array1000]}" 2
row "bulk: COPY of 1M rows vs mq.produce_encoded of a client-encoded RecordBatch of 1000 (1 client, binary parameter, bench/batches.c; encoding included)" "${R[copy]}" "${R[encoded1000]}" 2
row "bulk: COPY of 1M rows vs Postgres' floor for one row per batch: the same encoded batches INSERTed as one bytea row per transaction (bench/batches.c)" "${R[copy]}" "${R[blob1000]}" ""
row "floor: the same batches as bytea rows vs mq.produce_encoded" "${R[blob1000]}" "${R[encoded1000]}" ""
row "read 1M in chunks of $CHUNK: SELECT id, payload by key range vs SELECT * FROM mq.fetch" "${R[select]}" "${R[fetch]}" 2
row "read 1M in chunks of $CHUNK: the same, but SELECT \"offset\", value FROM mq.fetch" "${R[select]}" "${R[fetch_narrow]}" ""
row "read 1M in chunks of $CHUNK: SELECT id, payload by key range vs SELECT * FROM mq.fetch_batches (one stored batch of $CHUNK per call)" "${R[select]}" "${R[fetch_batches]}" 2
row "read 1M in chunks of $CHUNK, both through bench/batches.c (binary results): SELECT id, payload vs mq.fetch_batches with CRC check and records decoded by the client" "${R[cselect]}" "${R[cfetch]}" 2
row "read floor for one row per batch: the same batches of $CHUNK stored as bytea rows, one per call, vs mq.fetch_batches (both bench/batches.c, decoded by the client)" "${R[cblob]}" "${R[cfetch]}" ""

# verdict NAME VALUE OP LIMIT UNIT: set $NAME to "OP LIMIT UNIT: met" or "...: **MISSED**"
verdict() {
    if awk -v x="$2" -v l="$4" -v op="$3" 'BEGIN { exit !((op == "<") ? (x < l) : (x >= l)) }'; then
        printf -v "$1" '%s %s%s: met' "$3" "$4" "$5"
    else
        printf -v "$1" '%s %s%s: **MISSED**' "$3" "$4" "$5"; missed=$((missed + 1))
    fi
}
GROUP_RATIO=$(awk -v a="${R[group]}" -v b="${R[queue]}" 'BEGIN { printf "%.2f", a / b }')
IDLE_CPU=${G[idle_cpu_ms]}
[ "${G[idle_returns]}" -eq 0 ] || IDLE_CPU=999999   # a poll returned: they were not all idle
verdict V_P50 "${G[lat_p50_ms]}" "<" 2 " ms"
verdict V_P99 "${G[lat_p99_ms]}" "<" 10 " ms"
verdict V_DRAIN "$GROUP_RATIO" "≥" 2 ""
verdict V_IDLE "$IDLE_CPU" "<" 10 " ms (≈ 0)"
verdict V_JOIN "${G[join_max_ms]}" "<" 1000 " ms"
verdict V_LEAVE "${G[leave_max_ms]}" "<" 1000 " ms"

cat <<EOF

## mqext consumer groups

- Same server and run as above; client: bench/groups.c (libpq, one process driving all its connections asynchronously, TCP on 127.0.0.1); members are session-bound (mq.subscribe without member_id); $PAYLOAD-byte values
- Latency: a member blocked in mq.poll(timeout_ms => 60000) on an idle single-partition topic (primed by earlier polls, and seen waiting in pg_stat_activity before each commit); another session runs BEGIN; mq.produce; COMMIT; from sending that COMMIT to the poll's result arriving (the poll's own transaction included), on one client clock; $LAT_N messages after 20 untimed; the COMMIT alone: p50 ${G[commit_p50_ms]} ms
- Drain: 4 members (enable.auto.commit false) each loop on \`SELECT * FROM mq.poll(g, $GROUP_BATCH); SELECT mq.commit(g)\` (one transaction) until a poll returns nothing; baseline: 4 sessions each loop on \`DELETE FROM q WHERE id IN (SELECT id FROM q ORDER BY id LIMIT $GROUP_BATCH FOR UPDATE SKIP LOCKED) RETURNING id, payload\` over a freshly filled and vacuumed 1M-row table; best of $ROUNDS rounds each (a new group each round, same records)
- Idle: 100 members of one group on a 1000-partition topic, each blocked in mq.poll(timeout_ms => 60000); CPU (schedstat) of their backends; the first ${G[idle_first_seconds]} s after all block are left out (${G[idle_first_cpu_ms]} ms, ${G[idle_first_switches]} wakeups: PostgreSQL's idle-stats SIGALRM, armed between the set-up's quick successive polls, still fires in the next query and sets the latch, once per backend within 10 s)
- Rebalance: 99 members blocked in poll; the 100th joins (mq.subscribe, 6 times) and leaves (mq.unsubscribe, 5 times), each time from a settled group (all others blocked again); the call's duration at the client

| Measurement | Result | Target |
|---|---:|---|
| latency, producer's COMMIT → blocked poller's return, p50 | ${G[lat_p50_ms]} ms | $V_P50 |
| latency, producer's COMMIT → blocked poller's return, p99 | ${G[lat_p99_ms]} ms | $V_P99 |
| drain 1M records: group of 4 members on 8 partitions, poll of $GROUP_BATCH + commit per transaction (records/s) | $(fmt "${R[group]}") | — |
| drain 1M rows: queue table, 4 sessions, SKIP LOCKED + DELETE of $GROUP_BATCH per transaction (rows/s) | $(fmt "${R[queue]}") | — |
| drain: group / queue table | ${GROUP_RATIO}× | $V_DRAIN |
| 100 idle members blocked in mq.poll: CPU of their backends over ${G[idle_seconds]} s (wakeups ${G[idle_switches]}, polls returned ${G[idle_returns]}) | ${G[idle_cpu_ms]} ms | $V_IDLE |
| rebalance, 100 members over ${G[rebalance_partitions]} partitions: join (mq.subscribe), worst of 6 (p50) | ${G[join_max_ms]} ms (${G[join_p50_ms]}) | $V_JOIN |
| rebalance, 100 members over ${G[rebalance_partitions]} partitions: leave (mq.unsubscribe), worst of 5 (p50) | ${G[leave_max_ms]} ms (${G[leave_p50_ms]}) | $V_LEAVE |
EOF

# pass NAME OK TEXT: set $NAME to "TEXT: met" if OK is 1, else "TEXT: **MISSED**"
pass() {
    if [ "$2" -eq 1 ]; then
        printf -v "$1" '%s: met' "$3"
    else
        printf -v "$1" '%s: **MISSED**' "$3"; missed=$((missed + 1))
    fi
}
SOAK_SWEPT=$((O[soak_deleted_notified] - O[soak_deleted_by_owner]))
ok=0; [ $((O[soak_orphans_mid] + O[soak_strays_mid] + O[soak_orphans_end] + SOAK_SWEPT)) -eq 0 ] && ok=1
pass V_ORPHANS $ok "0"
ok=0; [ $((O[soak_missing] + O[soak_unexpected] + O[soak_duplicates] + O[soak_absent_mid])) -eq 0 ] &&
    [ "${O[soak_deleted_notified]}" -eq "${O[soak_created]}" ] && ok=1
pass V_NOTIFIED $ok "all notified"
ok=0; awk -v r="${O[ret_ratio]}" 'BEGIN { exit !(r <= 10) }' && ok=1
pass V_RET $ok "≤ 10×"

cat <<EOF

## mqext coordination and operations

- Same server and run as above; client: bench/ops.c (libpq, one process driving all its connections asynchronously, TCP on 127.0.0.1)
- Soak: $SOAK_N sessions, each creating an ephemeral node (a new path per session) and LISTENing on its parent's channel (a membership watch); each lives 0.2–2 s, is killed, and a new session takes its place 0–0.2 s later, for $SOAK_SECS s. Killed at random by a reset socket (SO_LINGER 0 + close: a crashed client), a shut-down socket (FIN without Terminate: a client that exits) or pg_terminate_backend. A watcher session LISTENs on each node's channel before the node's session connects; a deletion counts as done by the dying session when the notification's sender pid is the node's owner (not a sweep by another session or the worker). Orphans: nodes under /soak whose (owner_pid, owner_start) is no live backend in pg_stat_activity, or that belong to no live session of the client, once the killing stopped and every slot lives again; then all $SOAK_N are killed at once (${O[soak_final_max_ms]} ms to the last notification) and /soak must be left empty
- Retention: one session, one ${PAYLOAD}-byte record per call (\`SELECT 1 FROM mq.produce(\$1, \$2::bytea)\`, prepared, autocommit), for $RET_SECS s after $RET_WARMUP s untimed, to a topic with segment.ms 1500 and retention.ms 2000, mqext.housekeeping_interval 500ms (reset afterwards): the worker rolls the segment every 1.5 s and, in a step of its own half a second later, drops the segment whose last record is 2 s old (${RET_ROLLS} rolls and ${RET_DROPS} drops logged while the producer ran, ${RET_ALONE} of the drops in a step without a roll; ${RET_SEGMENTS} segments left at the end, log start offset $(fmt "$RET_LOG_START")). Control: the same producer and settings on a topic of default config (nothing rolled or dropped). A slow call (over 10× the median) is put down to a step of the worker when the step's LOG line is stamped between 20 ms before the call began and its end (both lines come just before their step commits). Every call commits with an fsync: the control shows what slow fsyncs alone do to the maximum

| Measurement | Result | Target |
|---|---:|---|
| soak, $SOAK_N sessions for $SOAK_SECS s: sessions killed (socket reset / FIN / pg_terminate_backend) | $(fmt "${O[soak_killed]}") (${O[soak_killed_rst]} / ${O[soak_killed_fin]} / ${O[soak_killed_terminate]}) | — |
| soak: ephemeral nodes created; 'deleted' notifications at the watcher (sent by the dying session itself); missing, duplicate, premature | $(fmt "${O[soak_created]}"); $(fmt "${O[soak_deleted_notified]}") ($(fmt "${O[soak_deleted_by_owner]}")); ${O[soak_missing]}, ${O[soak_duplicates]}, ${O[soak_unexpected]} | $V_NOTIFIED |
| soak: orphaned ephemeral nodes after the churn (of ${O[soak_nodes_mid]} nodes; not a live session's: ${O[soak_strays_mid]}); after the last kill; removed by a sweep instead of their session's exit | ${O[soak_orphans_mid]}; ${O[soak_orphans_end]}; ${SOAK_SWEPT} | $V_ORPHANS |
| soak: kill → 'deleted' notification at the watcher, p50 / p99 / max (${O[soak_delay_n]} kills) | ${O[soak_delay_p50_ms]} / ${O[soak_delay_p99_ms]} / ${O[soak_delay_max_ms]} ms | — |
| produce while retention drops segments ($(fmt "${O[ret_n]}") calls): p50 / p99 / p99.9 / max | ${O[ret_p50_ms]} / ${O[ret_p99_ms]} / ${O[ret_p999_ms]} / ${O[ret_max_ms]} ms | — |
| produce while retention drops segments: max / median | ${O[ret_ratio]}× | $V_RET |
| control, no roll or retention ($(fmt "${O[control_n]}") calls): p50 / p99 / p99.9 / max; max / median | ${O[control_p50_ms]} / ${O[control_p99_ms]} / ${O[control_p999_ms]} / ${O[control_max_ms]} ms; ${O[control_ratio]}× | — |
| calls over 10× the median, with retention: at a roll / at a drop (step without a roll) / at neither (the slowest of each) | ${RET_AT_ROLL} / ${RET_AT_DROP} / ${RET_NEITHER} (${RET_MAX_ROLL} / ${RET_MAX_DROP} / ${RET_MAX_NEITHER} ms) | — |
| calls over 10× the median, control | ${O[control_slow]} | — |
| the producer's lock waits of 1 ms or more (log_lock_waits), with retention / control | ${RET_LOCK_WAITS} / ${CTL_LOCK_WAITS} | — |
EOF
echo
if [ "$missed" -gt 0 ]; then
    echo "$missed target(s) MISSED."
else
    echo "All targets met."
fi

# mqctl, the command-line client, on the same cluster (scripts/bench_mqctl.sh)
MQCTL_BENCH_CONN="host=127.0.0.1 port=$PORT user=postgres dbname=$DB" "$REPO/scripts/bench_mqctl.sh"
exit 0
