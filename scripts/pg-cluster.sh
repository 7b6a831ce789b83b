#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, the bench and scripts/cluster.sh: Debian's
# postgresql-15 server binaries run as an unprivileged user (postgres when started by root), data
# and Unix socket in DIR, listening on 127.0.0.1:PORT only, trust authentication (nothing else can
# reach it). No system service is involved.
#   pg-cluster.sh start DIR PORT   initdb (if DIR has no cluster) and start; prints the base URI
#                                  postgresql://provd@127.0.0.1:PORT/ (add a database name)
#   pg-cluster.sh stop DIR         fast shutdown (connections cut, nothing committed lost)
#   pg-cluster.sh restart DIR      stop and start again on the same port
#   pg-cluster.sh createdb DIR NAME  a new empty database NAME
#   pg-cluster.sh huge-pages DIR   initdb (if DIR has no cluster); prints how many huge pages the
#                                  server's shared memory takes with these settings
# PG_SHARED_BUFFERS (PostgreSQL's default, 128MB): its page cache; the bench sizes it for 1M devices.
# PG_HUGE_PAGES (PostgreSQL's default, try): on, try or off, as huge_pages.
set -euo pipefail
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: pg-cluster.sh start|stop|restart|createdb|huge-pages DIR [PORT|NAME]" >&2; exit 2; }
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/pg_ctl" ] || { echo "pg-cluster: no PostgreSQL server found (apt-get install postgresql-15)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data=$dir/data

# As root the server runs as postgres (it refuses to run as root); otherwise as the caller.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# What sizes the server's shared memory, for start and huge-pages alike.
memory="-c max_connections=300 -c shared_buffers=${PG_SHARED_BUFFERS:-128MB} -c huge_pages=${PG_HUGE_PAGES:-try}"

start() {
    local port=$1
    init
    echo "$port" >"$dir/port"
    as_owner "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir $memory" \
        start >/dev/null || { tail -n 20 "$dir/server.log" >&2; exit 1; }
    echo "postgresql://provd@127.0.0.1:$port/"
}

init() {
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
        if ! runuser -u postgres -- test -w "$dir"; then
            echo "pg-cluster: user postgres cannot reach $dir (a parent directory is private); use another DIR" >&2
            exit 1
        fi
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        as_owner "$bindir/initdb" -D "$data" -U provd --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; exit 1; }
    fi
}

# PostgreSQL computes it (shared_memory_size_in_huge_pages) only while the server is stopped.
huge_pages() {
    init
    # shellcheck disable=SC2086 # $memory is a list of options
    as_owner "$bindir/postgres" -D "$data" $memory -C shared_memory_size_in_huge_pages
}

stop() {
    [ -f "$data/postmaster.pid" ] || return 0
    as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null
}

case "$cmd" in
start) start "${3:?PORT}" ;;
stop) stop ;;
restart) stop; start "$(cat "$dir/port")" ;;
huge-pages) huge_pages ;;
createdb) as_owner "$bindir/../bin/psql" -h "$dir" -p "$(cat "$dir/port")" -U provd -d postgres -qAt \
              -c "CREATE DATABASE \"${3:?NAME}\"" >/dev/null ;;
*) echo "pg-cluster: unknown command $cmd" >&2; exit 2 ;;
esac
