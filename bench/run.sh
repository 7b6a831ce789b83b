#!/usr/bin/env bash
# `make bench`: measures the ceilings (nginx `return 200`; nginx -> a one-line libfcgi responder,
# closing each connection as the provd site does and kept alive; PostgreSQL's own `pgbench -S`)
# and provd on SQLite and on PostgreSQL at 1k and 1M devices with wrk, in one run on this
# machine; prints a table and writes it as JSON to build/bench/results.json. See bench/README.md.
#   BUILD (build), WORKERS (2 x cores, as make run), BENCH_DURATION (5 s per run, at most 10),
#   BENCH_WARMUP (1 s), BENCH_SCALES ("1000 1000000"), BENCH_CONNECTIONS (16),
#   BENCH_BACKENDS ("sqlite pg"; "sqlite" alone starts no PostgreSQL), BENCH_FLEET (1; 0: no fleet
#   run), BENCH_ROLLOUT (10000 devsim devices in the rollout row; 0: no rollout row), BENCH_ROWS
#   (shell patterns of the row names to measure, e.g. "*firmware*"; unset: all).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bin=${BUILD:-build}
[[ $bin == /* ]] || bin=$top/$bin
out=$bin/bench
work=$out/work
DURATION=${BENCH_DURATION:-5}
WARMUP=${BENCH_WARMUP:-1}
SCALES=${BENCH_SCALES:-1000 1000000}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
BACKENDS=${BENCH_BACKENDS:-sqlite pg}
THREADS=2
WORKERS=${WORKERS:-$(( 2 * $(nproc) ))}
# nginx's limits (per address and URL, per address, admin calls, connections) and provd's cap on
# new devices per address would refuse a load generator on one address: set far above what the
# machine can do, or off, so the bench measures the server.
export DEVICE_RATE=100000r/s DEVICE_BURST=100000 SITE_RATE=100000r/s SITE_BURST=100000
export ADMIN_RATE=100000r/s ADMIN_BURST=100000 CONN_PER_ADDR=65535
export PROVD_REGISTRATIONS_PER_MIN=0 PROVD_MAX_DEVICES=0
export BENCH_DIR=$top/bench BENCH_PREFIX=5CCF7F
KEY=000102030405060708090a0b0c0d0e0f       # every seeded device's telemetry key (AES-128): the fleet
export PROVD_FLEET_KEY=$KEY                 # key, so that a device may speak plain or sign (README)
INGEST_DEVICES=500                          # per wrk thread: thread t sends for devices t*500 on
INGEST_SEQN=1000000                         # v1's first SEQN - 1, v2's is twice that: above the seeded
BODIES=${BENCH_BODIES:-100000}              # per wrk thread and envelope: more than one run can send
READ_PER_DEVICE=1000                        # readings per device that has any
FIRMWARE_BYTES=1048576                      # the firmware image of the firmware rows (1 MiB)
PGBENCH_SCALE=1                             # pgbench -i -s: 100,000 pgbench_accounts rows
# The keep-alive FastCGI ceiling: a libfcgi process serves one connection at a time and keeps it
# while nginx does, so every upstream connection nginx may hold needs a process of its own: up to
# CONNECTIONS in use plus the idle ones each nginx worker (one per core: worker_processes auto)
# caches, KEEPALIVE_CACHE each. With fewer processes a kept connection waits for one forever.
nginx_workers=${NGINX_WORKERS:-auto}
[ "$nginx_workers" = auto ] && nginx_workers=$(nproc)
KEEPALIVE_CACHE=$(( (CONNECTIONS + nginx_workers - 1) / nginx_workers ))
KEEPALIVE_PROCESSES=$(( CONNECTIONS + nginx_workers * KEEPALIVE_CACHE ))

for tool in wrk nginx spawn-fcgi multiwatch curl; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done
for f in provd provctl bench/fcgi_hello bench/seed bench/seal; do
    [ -x "$bin/$f" ] || { echo "bench: $bin/$f is missing: run make all bench-tools" >&2; exit 1; }
done
if (( DURATION < 1 || DURATION > 10 || WARMUP > 5 )); then
    echo "bench: BENCH_DURATION must be 1-10 s and BENCH_WARMUP at most 5 s" >&2
    exit 1
fi
want_sqlite="" want_pg=""
for b in $BACKENDS; do
    case $b in
    sqlite) want_sqlite=1 ;;
    pg) want_pg=1 ;;
    *) echo "bench: BENCH_BACKENDS takes sqlite and pg, not \"$b\"" >&2; exit 1 ;;
    esac
done
[ -n "$want_sqlite$want_pg" ] || { echo "bench: BENCH_BACKENDS names no backend" >&2; exit 1; }
pg_bin=""
if [ -n "$want_pg" ]; then
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    for f in pg_ctl pgbench psql; do
        [ -x "$pg_bin/$f" ] || { echo "bench: $f is missing (apt-get install postgresql-15), or BENCH_BACKENDS=sqlite" >&2; exit 1; }
    done
fi
for n in $SCALES; do
    if (( n < THREADS * INGEST_DEVICES )); then
        echo "bench: a scale needs at least $(( THREADS * INGEST_DEVICES )) devices (ingest uses them)" >&2
        exit 1
    fi
done

pids=()
workers_parent=""
pg_dir=$work/pg pg_base=""                  # the throwaway PostgreSQL cluster and its base URI
row_backend=-                               # the backend of the rows measure() writes: - sqlite pg
CLOCK_TICKS=$(getconf CLK_TCK)
stop_all() {
    local i
    for (( i = ${#pids[@]} - 1; i >= 0; i-- )); do
        kill -TERM "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
    pids=()
    workers_parent=""
}
# Huge pages for the server's shared memory, as PostgreSQL's documentation advises for buffers
# this large and as an operator would set them (README.md, Deploying on one host): without
# them a lookup among a million devices spends much of its time translating addresses
# (bench/README.md, History, "huge pages"). Reserved only where the bench may (as root), and given
# back when the cluster stops; a run killed with SIGKILL leaves them reserved (vm.nr_hugepages).
pg_huge_pages=0 hugepages_before=""
pg_reserve_huge_pages() {
    local need free
    if [ "$(id -u)" -ne 0 ] || [ ! -w /proc/sys/vm/nr_hugepages ]; then
        echo "postgresql: without huge pages (reserving them takes root)" >&2
        return 0
    fi
    need=$(scripts/pg-cluster.sh huge-pages "$pg_dir")
    hugepages_before=$(cat /proc/sys/vm/nr_hugepages)
    echo $(( hugepages_before + need )) > /proc/sys/vm/nr_hugepages
    free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
    if (( free >= need )); then
        export PG_HUGE_PAGES=on
        pg_huge_pages=$need
    else
        echo "postgresql: without huge pages (the kernel had $free of the $need it needs free)" >&2
        pg_release_huge_pages
    fi
}
pg_release_huge_pages() {
    [ -z "$hugepages_before" ] || echo "$hugepages_before" > /proc/sys/vm/nr_hugepages
    hugepages_before=""
}

pg_stop() {
    [ -n "$want_pg" ] && scripts/pg-cluster.sh stop "$pg_dir" 2>/dev/null || true
    pg_release_huge_pages
}
cleanup() {
    trap - EXIT INT TERM
    stop_all
    pg_stop
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_stop                                     # a cluster left by a run killed with SIGKILL
rm -rf "$work"
mkdir -p "$work"
rm -f "$out/results.json"
runs=$work/runs.tsv scales=$work/scales.tsv fleet=$work/fleet.tsv rollouts=$work/rollout.tsv
: > "$runs"
: > "$scales"
: > "$fleet"
: > "$rollouts"
NGINX_USER=""
[ "$(id -u)" -eq 0 ] && NGINX_USER=root    # workers must reach our files
export NGINX_USER
# The server key every run's workers read (device keys are sealed under it): made once, by
# provd --check on a database of its own. The seeded devices' keys stay plain (a bulk load).
export PROVD_KEY_FILE=$work/provd.key
PROVD_DB=$work/server-key.sqlite3 "$bin/provd" --check

# A port nothing uses, below the kernel's ephemeral range when there is room: the run's own
# client connections (wrk, pgbench, libpq, curl) take local ports from that range, and one of
# them holding the port makes nginx's or PostgreSQL's bind() fail.
free_port() {
    local p low=32768 lo=20000 span=40000
    read -r low _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    (( low > 11024 )) && { lo=10000; span=$(( low - 10000 )); }
    while :; do
        p=$(( lo + (RANDOM * 32768 + RANDOM) % span ))
        [ -z "$(ss -Htan "sport = :$p")" ] && { echo "$p"; return; }
    done
}

wait_http() {
    local url=$1
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "bench: nothing answers $url" >&2
    return 1
}

# expect CODE CURL-ARGS...: one request shaped like a scenario's must get the status it is meant to.
expect() {
    local want=$1 got
    shift
    got=$(curl -s -o /dev/null -w '%{http_code}' "$@")
    if [ "$got" != "$want" ]; then
        echo "bench: curl $* answered $got, not $want: the scenario would not measure what it says" >&2
        exit 1
    fi
}

# CPU time (user + system, clock ticks) the workers under multiwatch process $1 have used so far.
workers_cpu() {
    local pid ticks=0
    for pid in $(pgrep -P "$1"); do
        ticks=$(( ticks + $(awk '{ print $14 + $15 }' "/proc/$pid/stat") ))
    done
    echo "$ticks"
}

# row_wanted NAME: whether BENCH_ROWS (shell patterns, unset: every row) names the row.
row_wanted() {
    local p pats
    [ -z "${BENCH_ROWS+set}" ] && return 0
    read -ra pats <<<"$BENCH_ROWS"          # split, not expanded as file names
    for p in "${pats[@]}"; do
        # shellcheck disable=SC2053  # a pattern, on purpose
        [[ $1 == $p ]] && return 0
    done
    return 1
}

# measure SCALE NAME SCRIPT URL [WARMUP_SCRIPT]: a short warm-up, then the timed wrk run, with the
# workers' CPU time over it (when serve started workers: workers_parent). Nothing for a row
# BENCH_ROWS leaves out.
measure() {
    local scale=$1 name=$2 script=$3 url=$4 warm=${5:-$3} line cpu0="" cpu_us=-
    row_wanted "$name" || return 0
    (( WARMUP > 0 )) && wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s "bench/$warm.lua" "$url" >/dev/null
    [ -n "$workers_parent" ] && cpu0=$(workers_cpu "$workers_parent")
    line=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "bench/$script.lua" "$url" | grep '^BENCH')
    if [ -n "$cpu0" ]; then
        cpu_us=$(awk -v t=$(( $(workers_cpu "$workers_parent") - cpu0 )) -v hz="$CLOCK_TICKS" \
            -v n="$(cut -f7 <<<"$line")" 'BEGIN { printf("%.1f", n > 0 ? t * 1e6 / hz / n : 0) }')
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$scale" "$name" "${line#BENCH$'\t'}" "$cpu_us" "$row_backend" >> "$runs"
    printf '  %-24s %s\n' "$name" "$(cut -f2 <<<"$line") req/s" >&2
}

# Peak resident memory (VmHWM, KiB) of the biggest worker under a multiwatch process.
peak_rss() {
    local worst=0 kb pid
    for pid in $(pgrep -P "$1"); do
        kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
        (( kb > worst )) && worst=$kb
    done
    echo "$worst"
}

ceiling_nginx() {
    local dir=$work/return200 port
    port=$(free_port)
    mkdir -p "$dir"
    sed -e "s|@USER_LINE@|${NGINX_USER:+user $NGINX_USER;}|" -e "s|@RUN_DIR@|$dir|g" -e "s|@PORT@|$port|g" \
        bench/nginx-return200.conf > "$dir/nginx.conf"
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" -g 'daemon off;' &
    pids+=($!)
    wait_http "http://127.0.0.1:$port/"
    echo "ceiling: nginx alone (the FastCGI one is measured around each fleet size's rows)" >&2
    measure - nginx_return_200 heartbeat "http://127.0.0.1:$port"
    stop_all
}

# serve DIR PROGRAM [ARGS...]: the provd site as scripts/stack.sh runs it (nginx.conf rendered by
# scripts/render-nginx.sh, WORKERS copies of PROGRAM under spawn-fcgi + multiwatch) on a free
# port; sets url and workers_parent (multiwatch's pid). The ceiling and provd differ only in PROGRAM.
# With FASTCGI_KEEPALIVE=1 (the keep-alive ceiling only), the same site with its upstream kept
# alive (`keepalive` in the upstream, `fastcgi_keep_conn on`) and KEEPALIVE_PROCESSES copies.
# PROVD_DB in the caller's environment reaches the workers as it is (a path or a URI).
serve() {
    local port procs=$WORKERS passes
    port=$(free_port)
    export RUN_DIR=$1/run SOCKET=$1/run/fcgi.sock PORT=$port
    mkdir -p "$RUN_DIR/tmp"
    scripts/render-nginx.sh > "$RUN_DIR/nginx.conf"
    if [ "${FASTCGI_KEEPALIVE:-0}" = 1 ]; then
        procs=$KEEPALIVE_PROCESSES
        sed -i -e "/^ *upstream provd {/a\\        keepalive $KEEPALIVE_CACHE;" \
            -e 's|^\( *\)fastcgi_pass provd;|&\n\1fastcgi_keep_conn on;|' "$RUN_DIR/nginx.conf"
        # One keepalive, and a fastcgi_keep_conn after each fastcgi_pass (/api/ and the upload's).
        passes=$(grep -c 'fastcgi_pass provd;' "$RUN_DIR/nginx.conf")
        if (( passes == 0 )) ||
            [ "$(grep -c -e "keepalive $KEEPALIVE_CACHE;" -e 'fastcgi_keep_conn on;' "$RUN_DIR/nginx.conf")" != $(( 1 + passes )) ]; then
            echo "bench: nginx.conf no longer has the upstream and fastcgi_pass the keep-alive ceiling edits" >&2
            exit 1
        fi
    fi
    # As make run and the installed units: the host's counters (and its kept fleet count) in one file.
    PROVD_FIRMWARE_CACHE=$RUN_DIR/firmware PROVD_METRICS_FILE=$RUN_DIR/provd.metrics PROVD_RUN_DIR=$RUN_DIR \
        spawn-fcgi -n -s "$SOCKET" -M 0600 -- /usr/bin/multiwatch -f "$procs" -- "${@:2}" &
    workers_parent=$!
    pids+=($!)
    nginx -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/nginx-error.log" -g 'daemon off;' &
    pids+=($!)
    url=http://127.0.0.1:$port
    unset RUN_DIR SOCKET PORT
    wait_http "$url/api/health"
}

# hello SCALE NAME [OPTION]: one row of bench/fcgi_hello served like provd. The rows named
# nginx_fastcgi_hello* are the FastCGI ceiling of that scale's provd rows (report.awk).
hello() {
    serve "$work/fastcgi" "$bin/bench/fcgi_hello" "${@:3}"
    measure "$1" "$2" heartbeat "$url"
    stop_all
}

# firmware_redirect SCALE: the hello answering every request as provd answers a firmware download,
# with nothing but the X-Accel-Redirect to the cached image (from the same cache location of the
# same site): what any FastCGI application could reach on the firmware rows, where
# firmware_static is what nginx alone reaches.
firmware_redirect() {
    local row_backend=- cache=$work/fastcgi/run/firmware sha md5
    row_wanted firmware_redirect || return 0
    sha=$(sha256sum < "$WWW_DIR/firmware.bin" | cut -d' ' -f1)
    md5=$(md5sum < "$WWW_DIR/firmware.bin" | cut -d' ' -f1)
    mkdir -p "$cache"
    cp "$WWW_DIR/firmware.bin" "$cache/$sha"
    serve "$work/fastcgi" "$bin/bench/fcgi_hello" --redirect "/_firmware/$sha" "$md5" "$sha" # render-nginx.sh's FIRMWARE_LOCATION
    expect 200 "$url/api/devices/any/firmware"
    BENCH_PATH=/api/devices/any/firmware measure "$1" firmware_redirect firmware "$url"
    stop_all
}

# ceilings SCALE SUFFIX: the FastCGI ceiling and the keep-alive one (nginx_fastcgi_keepalive*),
# measured before a scale's provd rows (SUFFIX empty) and after each backend's (_after, _after_pg).
ceilings() {
    local row_backend=-
    hello "$1" "nginx_fastcgi_hello$2"
    FASTCGI_KEEPALIVE=1 hello "$1" "nginx_fastcgi_keepalive$2"
}

# --- PostgreSQL: a throwaway cluster (scripts/pg-cluster.sh) under $work/pg, on a free port.
pg_psql() {
    "$pg_bin/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$1" "${@:2}"
}

pg_start() {
    local t0=$EPOCHREALTIME
    # Shared buffers that hold the 1M fleet's devices and indexes (~400 MB), as an operator
    # would size them for such a fleet; PostgreSQL's default 128 MB would measure its misses.
    export PG_SHARED_BUFFERS=1GB
    pg_reserve_huge_pages
    pg_base=$(scripts/pg-cluster.sh start "$pg_dir" "$(free_port)")
    scripts/pg-cluster.sh createdb "$pg_dir" pgbench
    # pgbench's own tables for `pgbench -S`, at a small scale (cached whole, as a hot devices table).
    "$pg_bin/pgbench" -i -q -s "$PGBENCH_SCALE" "${pg_base}pgbench" >"$work/pgbench-init.log" 2>&1 ||
        { cat "$work/pgbench-init.log" >&2; exit 1; }
    printf 'postgresql: cluster at %s, %s huge pages, pgbench -i -s %s, in %.1f s\n' "$pg_base" "$pg_huge_pages" \
        "$PGBENCH_SCALE" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" >&2
}

# pgbench_run SCALE NAME DATABASE [ARGS...]: a warm-up, then one timed pgbench run of CONNECTIONS
# clients on THREADS threads, prepared statements, over TCP as provd connects; written as a row
# like measure()'s: p50/p99 from pgbench's per-transaction log (latency in us, field 3).
pgbench_run() {
    local scale=$1 name=$2 db=$3 log=$work/pgbench-log out tps failed n p
    shift 3
    row_wanted "$name" || return 0
    if (( WARMUP > 0 )); then
        out=$("$pg_bin/pgbench" -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$WARMUP" "$@" "$db" 2>&1) ||
            { echo "bench: pgbench (warm-up of $name) said:" >&2; echo "$out" >&2; exit 1; }
    fi
    rm -rf "$log"
    mkdir -p "$log"
    out=$("$pg_bin/pgbench" -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$DURATION" -l \
        --log-prefix="$log/tx" "$@" "$db" 2>&1) ||
        { echo "bench: pgbench ($name) said:" >&2; echo "$out" >&2; exit 1; }
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' <<<"$out")
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
    [ -n "$tps" ] && [ -n "$n" ] || { echo "bench: pgbench said:" >&2; echo "$out" >&2; exit 1; }
    p=$(cat "$log"/tx* | awk '{ print $3 }' | sort -n | awk '
        { v[NR] = $1 }
        END { if (!NR) { print "0\t0"; exit } i50 = int(NR * 0.50); i99 = int(NR * 0.99)
              if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
              printf "%.3f\t%.3f\n", v[i50] / 1000, v[i99] / 1000 }')
    printf '%s\t%s\t%s\t%s\t%s\t0\t%s\t-\t%s\n' "$scale" "$name" "$tps" "$p" "${failed:-0}" "$n" "$row_backend" >> "$runs"
    printf '  %-24s %.1f req/s\n' "$name" "$tps" >&2
    rm -rf "$log"
}

# pgbench's select-only run (-S) on its own tables: PostgreSQL's ceiling of the scale's rows.
pgbench_select() {
    local row_backend=-
    pgbench_run "$1" "$2" "${pg_base}pgbench" -S
}

# pg_seed SCALE READERS: a fresh database bench_SCALE seeded as the SQLite one (bench/seed through
# the store's bulk loads), then VACUUM (ANALYZE) and a CHECKPOINT so that neither autovacuum nor
# the checkpointer writes the seed back during the rows. Prints URI, seconds for the devices and
# for the readings (their VACUUM and CHECKPOINT included), and the database's bytes before and
# after each (pg_database_size: tables, indexes and catalogs, not the cluster's WAL).
pg_seed() {
    local n=$1 readers=$2 uri t0 t1 t2 s0 s1 s2
    scripts/pg-cluster.sh createdb "$pg_dir" "bench_$n"
    uri=${pg_base}bench_$n
    "$bin/provctl" --db "$uri" init >&2
    s0=$(pg_psql "$uri" -c 'SELECT pg_database_size(current_database())')
    t0=$EPOCHREALTIME
    "$bin/bench/seed" --db "$uri" devices "$BENCH_PREFIX" "$n" - >&2
    pg_psql "$uri" -c 'VACUUM (ANALYZE) devices'
    t1=$EPOCHREALTIME
    s1=$(pg_psql "$uri" -c 'SELECT pg_database_size(current_database())')
    "$bin/bench/seed" --db "$uri" readings "$BENCH_PREFIX" 0 "$readers" "$READ_PER_DEVICE" >&2
    pg_psql "$uri" -c 'VACUUM (ANALYZE)' -c 'CHECKPOINT'
    t2=$EPOCHREALTIME
    s2=$(pg_psql "$uri" -c 'SELECT pg_database_size(current_database())')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$uri" "$t0" "$t1" "$t2" "$s0" "$s1" "$s2"
}

# provd_rows SCALE URL API: the rows both backends have, each after one request of its shape got
# the status the row is about. ROWS (all: the SQLite set) picks the PostgreSQL set; PREFIX names them.
provd_rows() {
    local n=$1 url=$2 api=$2/api pre=${ROW_PREFIX:-} e mac
    expect 200 "$api/devices/${BENCH_PREFIX}000000"
    measure "$n" "${pre}heartbeat" heartbeat "$url"
    expect 304 -H 'If-None-Match: "0"' "$api/devices/${BENCH_PREFIX}000000"
    measure "$n" "${pre}poll_304" poll304 "$url"
    mac=$(sed 's/../&:/g; s/:$//' <<< "${BENCH_PREFIX}000000")
    expect 304 -H 'User-Agent: ESP8266-http-Update' -H "x-ESP8266-STA-MAC: $mac" -H "x-ESP8266-AP-MAC: $mac" \
        -H 'x-ESP8266-free-space: 1' -H 'x-ESP8266-sketch-size: 1' -H 'x-ESP8266-chip-size: 1' \
        -H 'x-ESP8266-sdk-version: 1' -H 'x-ESP8266-mode: sketch' "$api/ota"
    measure "$n" "${pre}ota_check" ota "$url"
    expect 200 -X POST -H 'Content-Type: application/json' -d '{"ipaddr":"192.168.1.20","ssid":"bench"}' \
        "$api/devices/${BENCH_PREFIX}000000"
    measure "$n" "${pre}register" register "$url"
    expect 200 -H "Authorization: Bearer $BENCH_TOKEN" "$api/devices"
    measure "$n" "${pre}list_first_page" list "$url"
    if [ -z "$pre" ]; then
        expect 200 -H "Authorization: Bearer $BENCH_TOKEN" "$api/devices/${BENCH_PREFIX}000000/telemetry"
        measure "$n" telemetry_read read "$url"
    fi
    for e in v1 v2; do
        [ -n "$pre" ] && [ "$e" = v1 ] && continue
        check_ingest "$url" "$e"
        # A warm-up must not spend the bodies: heartbeats warm the workers instead.
        BENCH_BODY_FILES=$work/$e measure "$n" "${pre}ingest_$e" ingest "$url" heartbeat
    done
    # The workers' peak memory so far: a firmware upload and a cache fill hold one image (up to
    # PROVD_FIRMWARE_MAX) for a moment, which the rows after would add to the peak.
    rows_rss=$(peak_rss "$workers_parent")
    firmware_rows "$n" "$url" "$pre"
    signed_rows "$n" "$url" "$pre"
    # Prometheus's scrape, one at a time as Prometheus scrapes; the pre-flight makes the count a
    # large fleet's scrapes are answered from (cgi-bin/metrics.h).
    expect 200 "$api/metrics"
    THREADS=1 CONNECTIONS=1 measure "$n" "${pre}metrics_scrape" metrics "$url"
}

# firmware_rows SCALE URL PREFIX: a device downloading its firmware image (FIRMWARE_BYTES), which
# nginx sends from the host's cache after provd's X-Accel-Redirect, against the same bytes as a
# static file of the same site (WWW_DIR): the download's ceiling (target: >= 0.9 x it). The device
# is the first seeded one, before signed_rows makes it sign; each scale and backend uploads anew.
firmware_rows() {
    local n=$1 url=$2 pre=$3 id=${BENCH_PREFIX}000000 v=bench-$1-${3:-sqlite} auth
    auth="Authorization: Bearer $BENCH_TOKEN"
    expect 201 -X POST -H "$auth" -H 'Content-Type: application/octet-stream' --data-binary @"$WWW_DIR/firmware.bin" \
        "$url/api/firmware?version=$v"
    expect 200 -X PUT -H "$auth" -d "{\"firmware\":\"$v\"}" "$url/api/devices/$id"
    expect 200 "$url/firmware.bin"
    expect 200 "$url/api/devices/$id/firmware?version=$v"
    BENCH_PATH=/firmware.bin measure "$n" "${pre}firmware_static" firmware "$url"
    BENCH_PATH=/api/devices/$id/firmware?version=$v measure "$n" "${pre}firmware_download" firmware "$url"
    expect 200 -X PUT -H "$auth" -d '{"firmware":null}' "$url/api/devices/$id"   # its polls get 304 again
}

# signed_rows SCALE URL PREFIX: the heartbeat of devices that sign (README.md, Device trust), last
# of a backend's rows since a device that has signed is refused unsigned (the ingest rows' v1).
# The devices of the ingest rows, each with a proof made now (good for 120 s): the warm-up makes
# their first signed call, the one that records them as signing, so the rows measure the steady
# state. signed_heartbeat holds its configuration (304, beside poll_304); sealed_poll asks for it
# (200 with the configuration sealed, beside heartbeat).
signed_rows() {
    local n=$1 url=$2 pre=$3 t id proof
    for t in $(seq 0 $(( THREADS - 1 ))); do
        "$bin/bench/seal" proof "$KEY" "$BENCH_PREFIX" $(( t * INGEST_DEVICES )) "$INGEST_DEVICES" > "$work/proof-$t.txt"
    done
    read -r id proof < "$work/proof-0.txt"
    expect 304 -H "X-Provd-Auth: $proof" -H 'If-None-Match: "0"' "$url/api/devices/$id"
    BENCH_PROOF_FILES=$work/proof BENCH_IF_NONE_MATCH='"0"' measure "$n" "${pre}signed_heartbeat" signed "$url"
    expect 200 -H "X-Provd-Auth: $proof" "$url/api/devices/$id"
    BENCH_PROOF_FILES=$work/proof measure "$n" "${pre}sealed_poll" signed "$url"
}

# Telemetry bodies, sealed once: every scale has the same ids and key. Each wrk thread has its own
# INGEST_DEVICES devices and sends to each in turn, so a device's next body leaves INGEST_DEVICES
# requests after the last: only a request stalled that long could arrive after its successor (409).
# A third set, v2 again with SEQNs above the second's, is for the synchronous=FULL row.
envelope_rank() {
    case $1 in v1) echo 1 ;; v2) echo 2 ;; v2-full) echo 3 ;; esac
}

seal_bodies() {
    local t e base
    for t in $(seq 0 $(( THREADS - 1 ))); do
        for e in v1 v2 v2-full; do
            base=$(( $(envelope_rank "$e") * INGEST_SEQN ))
            "$bin/bench/seal" "${e%-full}" "$KEY" "$BENCH_PREFIX" $(( t * INGEST_DEVICES )) "$INGEST_DEVICES" \
                "$base" "$BODIES" > "$work/$e-$t.txt"
        done
    done
    # One body each for the pre-flight check, with a SEQN below the timed ones of its envelope.
    for e in v1 v2; do
        "$bin/bench/seal" "$e" "$KEY" "$BENCH_PREFIX" 0 1 $(( ${e#v} * INGEST_SEQN - INGEST_SEQN / 2 )) 1 \
            > "$work/$e-check.txt"
    done
}

# check_ingest URL ENVELOPE: the pre-flight body of that envelope is accepted (201).
check_ingest() {
    local id body
    read -r id body < "$work/$2-check.txt"
    expect 201 -X POST -H 'Content-Type: application/json' --data-binary "$body" "$1/api/devices/$id/telemetry"
}

scale() {
    local n=$1 data=$work/scale-$n readers t0 t1 t2 size_devices size_all token pg_uri="" pg_token rss
    local pg_t0 pg_t1 pg_t2 pg_s0 pg_s1 pg_s2
    readers=$(( n / 1000 ))                 # devices with readings: 1M readings at 1M devices
    (( readers < 1 )) && readers=1
    mkdir -p "$data"
    local db=$data/provd.sqlite3
    export BENCH_DEVICES=$n BENCH_READ_DEVICES=$readers
    # Every database of the scale is seeded before its first ceiling, so no seed (nor its writeback)
    # runs during a measurement.
    if [ -n "$want_sqlite" ]; then
        echo "$n devices: seeding SQLite" >&2
        t0=$EPOCHREALTIME
        "$bin/bench/seed" --db "$db" devices "$BENCH_PREFIX" "$n" -
        size_devices=$(stat -c %s "$db")
        t1=$EPOCHREALTIME
        "$bin/bench/seed" --db "$db" readings "$BENCH_PREFIX" 0 "$readers" "$READ_PER_DEVICE"
        # The seed's pages on disk now: at 1M, 240 MB left dirty were written back by the kernel
        # about 30 s later, in the middle of the first measurements.
        sync "$db"
        t2=$EPOCHREALTIME
        size_all=$(stat -c %s "$db")
        token=$("$bin/provctl" --db "$db" token create bench)
    fi
    if [ -n "$want_pg" ]; then
        echo "$n devices: seeding PostgreSQL" >&2
        pg_seed "$n" "$readers" > "$work/pg-seed.tsv"
        IFS=$'\t' read -r pg_uri pg_t0 pg_t1 pg_t2 pg_s0 pg_s1 pg_s2 < "$work/pg-seed.tsv"
        printf '  devices %.1f s, readings %.1f s (VACUUM and CHECKPOINT included)\n' \
            "$(awk -v a="$pg_t0" -v b="$pg_t1" 'BEGIN { print b - a }')" \
            "$(awk -v a="$pg_t1" -v b="$pg_t2" 'BEGIN { print b - a }')" >&2
        pg_token=$("$bin/provctl" --db "$pg_uri" token create bench)
    fi

    # The machine drifts during a run (10-25% between its first and last minutes has been seen),
    # so each backend's rows are measured against the ceilings just before and after them.
    ceilings "$n" ""
    # Not a ceiling: the same hello closing like provd (see fcgi_hello.c), against the ceiling.
    hello "$n" hello_closing_at_once --close-at-once
    firmware_redirect "$n"

    if [ -n "$want_sqlite" ]; then
        local row_backend=sqlite
        # What counting the metrics costs a heartbeat: this row with them off, the next (the
        # first of provd_rows) with them on.
        PROVD_DB=$db PROVD_METRICS=off serve "$data" "$bin/provd"
        measure "$n" heartbeat_metrics_off heartbeat "$url"
        stop_all
        PROVD_DB=$db serve "$data" "$bin/provd"
        BENCH_TOKEN=$token provd_rows "$n" "$url"
        rss=$rows_rss
        stop_all

        # The same ingest with every commit fsynced (PROVD_SYNCHRONOUS=full): what power-cut
        # durability of each reading costs on this disk.
        PROVD_DB=$db PROVD_SYNCHRONOUS=full serve "$data" "$bin/provd"
        BENCH_BODY_FILES=$work/v2-full measure "$n" ingest_v2_synced ingest "$url" heartbeat
        stop_all
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\tsqlite\n' "$n" "$(( readers * READ_PER_DEVICE ))" "$rss" \
            "$size_devices" "$(( size_all - size_devices ))" "$t0" "$t1" "$t2" >> "$scales"
        row_backend=-
        ceilings "$n" _after
        rm -f "$db" "$db"-*
    fi

    if [ -n "$want_pg" ]; then
        # PostgreSQL's own ceiling around its rows: pgbench -S on its own tables; and, not a
        # ceiling, the same select-only load on provd's devices table by primary key.
        pgbench_select "$n" pgbench_select
        row_backend=- pgbench_run "$n" pgbench_devices_pk "$pg_uri" -f bench/pgbench-devices.sql \
            -D devices="$n" -D prefix="$BENCH_PREFIX"
        local row_backend=pg
        PROVD_DB=$pg_uri serve "$data" "$bin/provd"
        BENCH_TOKEN=$pg_token ROW_PREFIX=pg_ provd_rows "$n" "$url"
        rss=$rows_rss
        stop_all
        row_backend=-
        pgbench_select "$n" pgbench_select_after
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\tpg\n' "$n" "$(( readers * READ_PER_DEVICE ))" "$rss" \
            "$(( pg_s1 - pg_s0 ))" "$(( pg_s2 - pg_s1 ))" "$pg_t0" "$pg_t1" "$pg_t2" >> "$scales"
        ceilings "$n" _after_pg
        pg_psql "${pg_base}postgres" -c "DROP DATABASE bench_$n WITH (FORCE)"
    fi
    rm -rf "$data"
}

# The fleet run: devsim devices each registering, then polling and logging every FLEET_INTERVAL s,
# ten times as often as a real fleet's 60 s so that a step takes seconds (a devsim device loads
# the server as ten real ones do). Steps grow until p99 reaches 50 ms or anything is refused.
FLEET_INTERVAL=6
FLEET_SECONDS=12
FLEET_STEPS="1000 2000 4000 8000 12000 16000 24000 32000 64000 100000"
fleet() {
    [ -x "$bin/devsim" ] || { echo "fleet: $bin/devsim is not built: no fleet run" >&2; return 0; }
    local n summary row rps p99 refused verdict
    mkdir -p "$work/fleet"
    PROVD_DB=$work/fleet/provd.sqlite3 PROVD_REGISTRATION=open PROVD_FLEET_KEY=$KEY \
        PROVD_POLL_INTERVAL=$FLEET_INTERVAL serve "$work/fleet" "$bin/provd"
    echo "fleet (devsim)" >&2
    for n in $FLEET_STEPS; do
        summary=$("$bin/devsim" --server "$url" --devices "$n" --id-prefix "F$n-" --key "$KEY" \
            --interval "$FLEET_INTERVAL" --telemetry-every "$FLEET_INTERVAL" --ramp "$FLEET_INTERVAL" \
            --duration "$FLEET_SECONDS" 2>/dev/null || true)
        row=$(awk -v n="$n" '
            { v[$1] = $2 }
            END {
                refused = v["registration_refused"] + v["unregistered"] + v["readings_refused"] + \
                          v["network_errors"] + v["retries"]
                ok = v["result"] == "ok" && refused == 0 && v["latency_p99_ms"] < 50
                printf "%d\t%.0f\t%.1f\t%.1f\t%d\t%s\n", n, v["requests_per_s"], v["latency_p50_ms"], \
                    v["latency_p99_ms"], refused, ok ? "ok" : "over"
            }' <<<"$summary")
        echo "$row" >> "$fleet"
        IFS=$'\t' read -r _ rps _ p99 refused verdict <<<"$row"
        printf '  %-24s %s req/s, p99 %s ms, %s refused: %s\n' "$n devices" "$rps" "$p99" "$refused" "$verdict" >&2
        [ "$verdict" = ok ] || break
    done
    stop_all
}

# The rollout row: ROLLOUT_DEVICES devsim devices on 1.0, polling every 5 s (the shortest poll
# interval provd takes), tagged; a rollout of a 64 KiB image in stages of 1, 10, 50 and 100% with a
# success threshold of 100%, moved by the workers' sweep every second (PROVD_ROLLOUT_SWEEP=1):
# the time from its POST to "done", every device having come back reporting the new version.
ROLLOUT_DEVICES=${BENCH_ROLLOUT:-10000}
ROLLOUT_WAIT=240                              # seconds at most for the registrations, then the rollout
rollout() {
    [ -x "$bin/devsim" ] || { echo "rollout: $bin/devsim is not built: no rollout row" >&2; return 0; }
    local n=$ROLLOUT_DEVICES dir=$work/rollout token auth id t0 t1 state="" sim deadline
    mkdir -p "$dir"
    token=$("$bin/provctl" --db "$dir/provd.sqlite3" token create bench)
    auth="Authorization: Bearer $token"
    PROVD_DB=$dir/provd.sqlite3 PROVD_REGISTRATION=open PROVD_FLEET_KEY=$KEY PROVD_POLL_INTERVAL=5 \
        PROVD_ROLLOUT_SWEEP=1 PROVD_REGISTRATIONS_PER_MIN=0 PROVD_MAX_DEVICES=0 serve "$dir" "$bin/provd"
    echo "rollout ($n devsim devices)" >&2
    "$bin/devsim" --server "$url" --devices "$n" --id-prefix "R-" --key "$KEY" --interval 5 --telemetry-every 0 \
        --ramp 5 --firmware-version 1.0 --duration $(( 2 * ROLLOUT_WAIT )) > "$dir/devsim.out" 2>&1 &
    sim=$!
    deadline=$(( SECONDS + ROLLOUT_WAIT ))
    until [ "$(curl -s -H "$auth" "$url/api/stats" | jq -r .devices)" = "$n" ] || (( SECONDS > deadline )); do
        sleep 1
    done
    until [ "$(curl -s -H "$auth" -X POST "$url/api/bulk" \
        -d '{"action":"tag","tag":"bench","filter":{},"limit":5000}' | jq -r .more)" != true ]; do :; done
    head -c 65536 /dev/urandom | curl -s -o /dev/null -H "$auth" -H 'Content-Type: application/octet-stream' \
        --data-binary @- "$url/api/firmware?version=2.0"
    t0=$EPOCHREALTIME
    id=$(curl -s -H "$auth" -X POST "$url/api/rollouts" -d '{"firmware":"2.0","tag":"bench","stages":[1,10,50,100],
        "success_threshold":100,"failure_threshold":5,"timeout":600}' | jq -r .id)
    deadline=$(( SECONDS + ROLLOUT_WAIT ))
    while [ "$state" != done ] && [ "$state" != paused ] && (( SECONDS <= deadline )); do
        sleep 0.5
        state=$(curl -s -H "$auth" "$url/api/rollouts/$id" | jq -r .state)
    done
    t1=$EPOCHREALTIME
    kill -TERM "$sim" 2>/dev/null || true
    wait "$sim" 2>/dev/null || true
    stop_all
    printf '%d\t%s\t%s\n' "$n" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" \
        "${state:-none}" >> "$rollouts"
    printf '  %s devices: %s after %s s\n' "$n" "${state:-none}" "$(cut -f2 "$rollouts")" >&2
}

seal_bodies
# The site's static root is the firmware rows' image alone (the admin page is not measured).
export WWW_DIR=$work/www
mkdir -p "$WWW_DIR"
head -c "$FIRMWARE_BYTES" /dev/urandom > "$WWW_DIR/firmware.bin"
chmod -R a+rX "$WWW_DIR"
[ -n "$want_pg" ] && pg_start
ceiling_nginx
for n in $SCALES; do
    scale "$n"
done
pg_stop
[ -n "$want_sqlite" ] && [ "${BENCH_FLEET:-1}" != 0 ] && fleet   # devsim's fleet runs on SQLite
[ -n "$want_sqlite" ] && [ "$ROLLOUT_DEVICES" != 0 ] && rollout  # and so does the rollout row
bench/report.awk -v workers="$WORKERS" -v threads="$THREADS" -v connections="$CONNECTIONS" \
    -v backends="$(echo $BACKENDS)" -v fleet_skipped="$([ -n "$want_sqlite" ] || echo "it runs on SQLite, which BENCH_BACKENDS leaves out")$([ "${BENCH_FLEET:-1}" != 0 ] || echo BENCH_FLEET=0)" -v keepalive_processes="$KEEPALIVE_PROCESSES" \
    -v pgbench_scale="$([ -n "$want_pg" ] && echo "$PGBENCH_SCALE")" -v pg_huge_pages="$([ -n "$want_pg" ] && echo "$pg_huge_pages")" -v duration="$DURATION" -v cores="$(nproc)" -v cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
    -v date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -v json="$out/results.json" -v scales_file="$scales" \
    -v fleet_file="$fleet" -v fleet_interval="$FLEET_INTERVAL" -v rollout_file="$rollouts" "$runs"
