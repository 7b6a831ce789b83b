#!/usr/bin/env bash
# Serves provd in the foreground: nginx in front, spawn-fcgi + multiwatch keeping WORKERS provd
# workers on one Unix socket, one SQLite database under DATA_DIR. Used by `make run` and by
# the tests. Ctrl-C or SIGTERM stops nginx and every worker; nothing is left running.
#   PORT (8080), DATA_DIR (db), WORKERS (2 x cores), PROVD_* (README: Configuration),
#   CORS_ORIGIN, DEVICE_RATE, DEVICE_BURST, and QUIET=1 to print only errors.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-8080}
DATA_DIR=${DATA_DIR:-$top/db}
mkdir -p "$DATA_DIR"
DATA_DIR=$(cd "$DATA_DIR" && pwd)
WORKERS=${WORKERS:-$(( 2 * $(nproc) ))}
export RUN_DIR=$DATA_DIR/run
export SOCKET=$RUN_DIR/provd.sock
export PORT
export PROVD_DB=$DATA_DIR/provd.sqlite3
# nginx started by root would run its workers as nobody, who cannot reach these files.
[ "$(id -u)" -eq 0 ] && export NGINX_USER=root
say() { [ "${QUIET:-0}" = 1 ] || echo "$@"; }

# Another stack serves this DATA_DIR when the nginx of its pid file lives. One killed with
# SIGKILL can stay a zombie until whoever inherited it reaps it: that one serves nothing.
serving() {
    local pid
    pid=$(cat "$RUN_DIR/nginx.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" | cut -c1)" != Z ]
}

if serving; then
    echo "stack: another provd is serving $DATA_DIR (nginx pid $(cat "$RUN_DIR/nginx.pid")); use another DATA_DIR" >&2
    exit 1
fi
mkdir -p "$RUN_DIR/tmp"
rm -f "$SOCKET"
"$top/build/provd" --check            # configuration and database, before anything starts
"$top/scripts/render-nginx.sh" > "$RUN_DIR/nginx.conf"
nginx_args=(-p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/nginx-error.log")
nginx -t -q "${nginx_args[@]}"

pids=()
stop() {
    trap - INT TERM EXIT
    [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null
    wait
    rm -f "$SOCKET"
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

spawn-fcgi -n -s "$SOCKET" -M 0600 -- /usr/bin/multiwatch -f "$WORKERS" -- "$top/build/provd" &
pids+=($!)
nginx "${nginx_args[@]}" -g 'daemon off;' &
nginx_pid=$!
pids+=($nginx_pid)

# Healthy means our nginx answers: it writes its pid file only once it holds the port, so a
# server already on that port (another stack, while nginx retries its bind) is not taken for it.
url="http://127.0.0.1:$PORT/"
healthy() {
    [ "$(cat "$RUN_DIR/nginx.pid" 2>/dev/null)" = "$nginx_pid" ] && curl -fsS -o /dev/null "${url}api/health" 2>/dev/null
}
for _ in $(seq 100); do
    healthy && break
    kill -0 "$nginx_pid" 2>/dev/null || break
    sleep 0.1
done
if ! healthy; then
    echo "stack: provd did not become healthy on $url; nginx said:" >&2
    tail -n 20 "$RUN_DIR/nginx-error.log" >&2
    exit 1
fi
say "provd is serving $url (data in $DATA_DIR, $WORKERS workers). Ctrl-C stops it."
say "Create an admin token with:"
say "  $top/build/provctl --db $PROVD_DB token create admin"

# Either part dying ends the whole stack, so it never runs half-alive.
wait -n "${pids[@]}" || true
echo "stack: nginx or the provd workers stopped; stopping the rest" >&2
exit 1
