#!/usr/bin/env bash
# Serves provd in the foreground: nginx in front, spawn-fcgi + multiwatch keeping WORKERS provd
# workers on one Unix socket (or PROVD_LISTEN), one database. Used by `make run` and by the
# tests. Ctrl-C or SIGTERM stops nginx and every worker; nothing is left running.
#   PORT (8080), DATA_DIR (db), WORKERS (2 x cores), PROVD_* (README: Configuration),
#   CORS_ORIGIN, DEVICE_RATE, DEVICE_BURST, and QUIET=1 to print only errors.
#   PROVD_DB: unset, the SQLite file DATA_DIR/provd.sqlite3; set, used as given (a file path, or a
#     postgresql:// URI, whose password is never printed).
#   PROVD_LISTEN=host:port: the workers take FastCGI over TCP there instead of the Unix socket.
#   PROVD_UPSTREAM=host:port[,host:port...]: nginx sends /api/ to these FastCGI hosts (round robin,
#     a dead one skipped) instead of this stack's workers; WORKERS=0 then starts nginx alone.
#   PRUNE_INTERVAL (3600): with PostgreSQL, seconds between two `provctl prune` runs (retention
#     and the coming days' partitions); SQLite's workers prune as they ingest.
#   METRICS_ALLOW (127.0.0.1): who may read /api/metrics without a token; ACCESS_LOG
#     (RUN_DIR/access.log, or off): nginx's access log. PROVD_METRICS_FILE (DATA_DIR/provd.metrics):
#     the counters this stack's workers share, kept across their restarts.
#   PROVD_RUN_DIR (DATA_DIR): the stack's own directory, where its writer of readings has its
#     socket when the database is PostgreSQL.
#   PROVD_ALERT_WEBHOOK (README: Configuration): set, the stack also runs build/provd-alerts, started
#     again a second after it dies; on PostgreSQL every stack runs one and one of them leads.
#   PROVD_FIRMWARE_CACHE (DATA_DIR/firmware): the firmware images nginx sends, filled by provd.
#   PROVD_USER (provd): started as root, nginx's workers and provd's run as this user (created if
#     missing), who then owns DATA_DIR. Otherwise everything runs as the caller.
# Whatever it creates is the service user's alone (umask 077): DATA_DIR 0700, the database 0600.
set -euo pipefail
umask 077
top=$(cd "$(dirname "$0")/.." && pwd)
say() { [ "${QUIET:-0}" = 1 ] || echo "$@"; }
die() { echo "stack: $*" >&2; exit 1; }

# The user the workers run as (nginx's too), and DATA_DIR made that user's alone.
if [ "$(id -u)" -eq 0 ]; then
    svc_user=${PROVD_USER:-provd}
    [[ "$svc_user" =~ ^[a-z_][a-z0-9_-]*$ ]] || die "PROVD_USER must be a user name (not \"$svc_user\")"
    [ "$svc_user" != root ] || die "PROVD_USER=root: the workers never run as root"
    id "$svc_user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$svc_user" ||
        die "cannot create the user $svc_user (PROVD_USER) the workers run as"
    export NGINX_USER=$svc_user
    as_service=(setpriv --reuid="$svc_user" --regid="$svc_user" --init-groups --)
else
    svc_user=$(id -un)
    as_service=()
fi
# "${as_service[@]}" COMMAND...: runs COMMAND as the service user. A simple command, not a
# function: started with &, its $! is the program itself (a function would run in a subshell
# whose kill leaves the program behind).
PORT=${PORT:-8080}
DATA_DIR=$("$top/scripts/data-dir.sh" "${DATA_DIR:-$top/db}" "$svc_user") || exit 1
WORKERS=${WORKERS:-$(( 2 * $(nproc) ))}
PROVD_LISTEN=${PROVD_LISTEN:-}
PROVD_UPSTREAM=${PROVD_UPSTREAM:-}
PRUNE_INTERVAL=${PRUNE_INTERVAL:-3600}
export RUN_DIR=$DATA_DIR/run
export SOCKET=$RUN_DIR/provd.sock
export PORT PROVD_LISTEN PROVD_UPSTREAM
export PROVD_DB=${PROVD_DB:-$DATA_DIR/provd.sqlite3}
# The server key device keys are sealed under: made by the first provd --check.
export PROVD_KEY_FILE=${PROVD_KEY_FILE:-$DATA_DIR/provd.key}
export ACCESS_LOG=${ACCESS_LOG:-$RUN_DIR/access.log}
export PROVD_METRICS_FILE=${PROVD_METRICS_FILE:-$DATA_DIR/provd.metrics}
export PROVD_RUN_DIR=${PROVD_RUN_DIR:-$DATA_DIR}
# The firmware images provd caches for nginx to send (both read it: the service user's).
export PROVD_FIRMWARE_CACHE=${PROVD_FIRMWARE_CACHE:-$DATA_DIR/firmware}

is_pg() { [[ "$PROVD_DB" =~ ^postgres(ql)?:// ]]; }
# A text with every password of PROVD_DB's URI masked: user:PASSWORD@ and password=... .
redact() {
    sed -E -e 's#(postgres(ql)?://[^:/@[:space:]]*:)[^@[:space:]]*@#\1***@#g' \
        -e 's#(password=)[^&[:space:]]*#\1***#g' <<<"$1"
}
shown_db=$(redact "$PROVD_DB")

[[ "$WORKERS" =~ ^[0-9]+$ ]] || die "WORKERS must be a number (not \"$WORKERS\")"
[[ "$PRUNE_INTERVAL" =~ ^[1-9][0-9]*$ ]] || die "PRUNE_INTERVAL must be whole seconds (not \"$PRUNE_INTERVAL\")"
if [ "$WORKERS" -eq 0 ] && [ -z "$PROVD_UPSTREAM" ]; then
    die "WORKERS=0 starts no worker: it needs PROVD_UPSTREAM (the FastCGI hosts nginx sends to)"
fi
if [ "$WORKERS" -gt 0 ] && [ -n "$PROVD_UPSTREAM" ] && [ -z "$PROVD_LISTEN" ]; then
    die "with PROVD_UPSTREAM nginx cannot reach workers on the Unix socket: set WORKERS=0, or PROVD_LISTEN (and list it in PROVD_UPSTREAM)"
fi
listen_host='' listen_port=''
if [ -n "$PROVD_LISTEN" ]; then
    [[ "$PROVD_LISTEN" =~ ^(\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]+)):([0-9]{1,5})$ ]] ||
        die "PROVD_LISTEN must be host:port (not \"$PROVD_LISTEN\")"
    listen_host=${BASH_REMATCH[2]:-${BASH_REMATCH[3]}}
    listen_port=${BASH_REMATCH[4]}
fi

# Another stack serves this DATA_DIR when the nginx of its pid file lives. One killed with
# SIGKILL can stay a zombie until whoever inherited it reaps it: that one serves nothing.
serving() {
    local pid
    pid=$(cat "$RUN_DIR/nginx.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" | cut -c1)" != Z ]
}

if serving; then
    die "another provd is serving $DATA_DIR (nginx pid $(cat "$RUN_DIR/nginx.pid")); use another DATA_DIR"
fi
# RUN_DIR is written by nginx's master (as root: root's, others may only pass through it to the
# socket); nginx makes its temporary directories under tmp/ its workers' itself.
mkdir -p "$RUN_DIR/tmp"
chmod 0711 "$RUN_DIR" "$RUN_DIR/tmp"
# A stack killed with SIGKILL leaves its sockets behind, which would block the binds.
rm -f "$SOCKET" "$RUN_DIR/health.sock"
# The worker and the admin page where the service user can read them: in the checkout, or, when
# that is out of the user's reach (a private home directory), as copies in RUN_DIR.
bin_dir=$top/build
export WWW_DIR=$top/www
if ! "${as_service[@]}" test -x "$bin_dir/provd" -a -r "$WWW_DIR/index.html"; then
    rm -rf "$RUN_DIR/bin" "$RUN_DIR/www"
    mkdir "$RUN_DIR/bin"
    cp "$bin_dir/provd" "$bin_dir/provd-alerts" "$bin_dir/provd-pg.so" "$RUN_DIR/bin/"
    cp -r "$WWW_DIR" "$RUN_DIR/www"
    chmod -R a+rX "$RUN_DIR/bin" "$RUN_DIR/www"
    bin_dir=$RUN_DIR/bin WWW_DIR=$RUN_DIR/www
fi
# The configuration and database, before anything starts: a wrong or unreachable PROVD_DB stops
# the stack here with provd's reason on one line, rather than workers failing over and over. As
# the workers' user, so that a database it creates is theirs.
if [ "$WORKERS" -gt 0 ] && ! check=$("${as_service[@]}" "$bin_dir/provd" --check 2>&1); then
    check=$(redact "$(tr -s '\n\t' '  ' <<<"$check" | sed 's/ *$//')")
    [[ "$check" == *"$shown_db"* ]] || check="$check (PROVD_DB=$shown_db)"
    die "$check"
fi
"$top/scripts/render-nginx.sh" > "$RUN_DIR/nginx.conf"
nginx_args=(-p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/nginx-error.log")
nginx -t -q "${nginx_args[@]}"

pids=()
# Every job this script started is signalled, also one started just before the signal arrived,
# before its pid was noted in pids. Signals are ignored while it stops: make passes a Ctrl-C on
# once more, and a second one would cut the stop short (the stop reported as a failure).
stop() {
    trap '' INT TERM
    trap - EXIT
    local started
    started=$(jobs -p)
    kill -TERM $started 2>/dev/null || true # those already gone (nginx, on a Ctrl-C) fail it
    wait
    rm -f "$SOCKET"
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

if [ "$WORKERS" -gt 0 ]; then
    if [ -n "$PROVD_LISTEN" ]; then
        fcgi_at=(-a "$listen_host" -p "$listen_port")
    else
        fcgi_at=(-s "$SOCKET" -M 0600)
    fi
    # As root, spawn-fcgi binds the socket (the service user's, for nginx's workers), then becomes
    # that user for multiwatch and the workers.
    [ "$(id -u)" -eq 0 ] && fcgi_at+=(-u "$svc_user" -U "$svc_user" -G "$svc_user")
    spawn-fcgi -n "${fcgi_at[@]}" -- /usr/bin/multiwatch -f "$WORKERS" -- "$bin_dir/provd" &
    pids+=($!)
fi
nginx "${nginx_args[@]}" -g 'daemon off;' &
nginx_pid=$!
pids+=($nginx_pid)

# Healthy means our nginx answers: it writes its pid file only once it holds the port, so a
# server already on that port (another stack, while nginx retries its bind) is not taken for it.
# Asked on nginx.conf's probe socket, which no limit counts. nginx alone (WORKERS=0) is healthy
# once it answers at all: its upstream hosts may come later.
url="http://127.0.0.1:$PORT/"
healthy() {
    local fail=-f
    [ "$WORKERS" -eq 0 ] && fail=
    [ "$(cat "$RUN_DIR/nginx.pid" 2>/dev/null)" = "$nginx_pid" ] &&
        curl $fail -sS -o /dev/null --unix-socket "$RUN_DIR/health.sock" http://localhost/api/health 2>/dev/null
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

# On PostgreSQL retention is one job for the whole database, not each worker's as on SQLite: it
# also makes the coming days' partitions, so it runs with PROVD_RETENTION_DAYS unset (0) too.
if [ "$WORKERS" -gt 0 ] && is_pg; then
    (
        # The pause between two runs is a read of a pipe nobody writes, not a sleep: no process
        # of its own that could outlive the job or miss the signal. A prune run when the signal
        # comes is waited for (it is one short transaction).
        trap 'exit 0' TERM
        exec {pause}<> <(:)
        while :; do
            if out=$("$top/build/provctl" --db "$PROVD_DB" prune "${PROVD_RETENTION_DAYS:-0}" 2>&1); then
                say "stack: retention: $out"
            else
                echo "stack: retention: $(redact "$out")" >&2
            fi
            read -r -t "$PRUNE_INTERVAL" -u "$pause" _ || true
        done
    ) &
    pids+=($!)
fi

# Alerts: one sweeper per database (provd-alerts elects it), so one per stack is enough. It is
# started again when it dies; a stop ends the one running (the trap) and then the loop.
if [ "$WORKERS" -gt 0 ] && [ -n "${PROVD_ALERT_WEBHOOK:-}" ]; then
    (
        alerts=''
        trap '[ -n "$alerts" ] && kill -TERM "$alerts" 2>/dev/null; wait; exit 0' TERM
        exec {pause}<> <(:)
        while :; do
            "${as_service[@]}" "$bin_dir/provd-alerts" &
            alerts=$!
            wait "$alerts" || echo "stack: provd-alerts stopped ($?); starting it again" >&2
            read -r -t 1 -u "$pause" _ || true
        done
    ) &
    pids+=($!)
fi

if [ "$WORKERS" -eq 0 ]; then
    say "nginx is serving $url, sending /api/ to $PROVD_UPSTREAM. Ctrl-C stops it."
else
    say "provd is serving $url (database $shown_db, $WORKERS workers${PROVD_LISTEN:+ on $PROVD_LISTEN}). Ctrl-C stops it."
    say "Create an admin token with:"
    if [ "$shown_db" = "$PROVD_DB" ]; then
        say "  $top/build/provctl --db $PROVD_DB token create admin"
    else
        say "  $top/build/provctl token create admin    (with this PROVD_DB in its environment)"
    fi
fi

# Either part dying ends the whole stack, so it never runs half-alive.
wait -n "${pids[@]}" || true
echo "stack: nginx or the provd workers stopped; stopping the rest" >&2
exit 1
