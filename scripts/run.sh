#!/usr/bin/env bash
# scripts/run.sh start|stop: a local cluster with mqext preloaded, under .run/
# (data directory owned by the postgres user), listening on 127.0.0.1:$MQ_PORT.
set -euo pipefail
. "$(dirname "$0")/common.sh"

PORT=${MQ_PORT:-55432}
DATA="$REPO/.run/data"

case "${1:-start}" in
stop)
    stop_cluster "$DATA"
    echo "mqext: cluster in $DATA stopped"
    exit 0
    ;;
start) ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

"$REPO/scripts/deps.sh"
build_install

mkdir -p "$REPO/.run"
if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$REPO/.run"; fi
if [ ! -f "$DATA/PG_VERSION" ]; then
    init_cluster "$DATA" "$PORT"
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    start_cluster "$DATA"
else
    # already running: pick up a freshly installed library
    as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w restart -l "$DATA/server.log" >/dev/null
fi

PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
as_pg "${PSQL[@]}" -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'mqext'" | grep -q 1 ||
    as_pg "${PSQL[@]}" -d postgres -c "CREATE DATABASE mqext"
as_pg "${PSQL[@]}" -d mqext -c "CREATE EXTENSION IF NOT EXISTS mqext"

echo "== quickstart (test/quickstart.sql) =="
as_pg "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d mqext -f "$REPO/test/quickstart.sql"

echo "== mqctl, the command-line client ($PGBIN/mqctl) =="
as_pg "$PGBIN/mqctl" -d "host=127.0.0.1 port=$PORT user=postgres dbname=mqext" topics list

cat <<MSG

mqext is running: PostgreSQL 15 on 127.0.0.1:$PORT, database "mqext", data in $DATA.
Connect with:   psql -h 127.0.0.1 -p $PORT -U postgres mqext
           or:  $PGBIN/mqctl -d postgresql://postgres@127.0.0.1:$PORT/mqext topics list
Stop with:      make stop
MSG
