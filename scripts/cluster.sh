#!/usr/bin/env bash
# A local two-host provd cluster for trying it (`make run-cluster`): a throwaway PostgreSQL under
# build/cluster/pg and two provd hosts, each its own nginx + workers (scripts/stack.sh), on PORT
# and PORT+1, both on the one database. Any request may go to either host. Ctrl-C stops it all
# and the database with it (started afresh each time).
#   PORT (8080), PG_PORT (PORT + 2), WORKERS per host (2), PROVD_* (README: Configuration).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-8080}
PG_PORT=${PG_PORT:-$((PORT + 2))}
dir=$top/build/cluster
"$top/scripts/pg-cluster.sh" stop "$dir/pg" 2>/dev/null || true
rm -rf "$dir"
mkdir -p "$dir"

pids=()
# Signals are ignored while it stops: make passes a Ctrl-C on once more, and a second one
# would cut the stop short (the rest left running, the stop reported as a failure).
stop() {
    trap '' INT TERM
    trap - EXIT
    kill -TERM "${pids[@]}" 2>/dev/null || true # those already gone (on a Ctrl-C) fail it
    wait
    "$top/scripts/pg-cluster.sh" stop "$dir/pg"
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

base=$("$top/scripts/pg-cluster.sh" start "$dir/pg" "$PG_PORT")
"$top/scripts/pg-cluster.sh" createdb "$dir/pg" provd
export PROVD_DB=${base}provd
"$top/build/provctl" --db "$PROVD_DB" init

# One server key for both hosts (device keys are sealed under it): host a makes it, b starts after.
export PROVD_KEY_FILE=$dir/host-a/provd.key
for host in a b; do
    port=$PORT
    [ "$host" = b ] && port=$((PORT + 1))
    PORT=$port DATA_DIR=$dir/host-$host WORKERS=${WORKERS:-2} QUIET=1 "$top/scripts/stack.sh" &
    pids+=($!)
    for _ in $(seq 150); do
        [ -e "$PROVD_KEY_FILE" ] && break
        sleep 0.1
    done
done
for port in "$PORT" $((PORT + 1)); do
    for _ in $(seq 150); do
        curl -fsS -o /dev/null "http://127.0.0.1:$port/api/health" 2>/dev/null && break
        sleep 0.1
    done
done
echo "provd cluster: host a http://127.0.0.1:$PORT/, host b http://127.0.0.1:$((PORT + 1))/"
echo "one PostgreSQL: $PROVD_DB (build/cluster/pg, removed on the next start). Ctrl-C stops it all."
echo "Create an admin token (valid on both hosts) with:"
echo "  $top/build/provctl --db $PROVD_DB token create admin"

# Either host dying ends the cluster, so it never runs half-alive unnoticed.
wait -n "${pids[@]}" || true
echo "cluster: a host stopped; stopping the rest" >&2
exit 1
