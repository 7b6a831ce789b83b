#!/usr/bin/env bash
# `make bench`: measures the two ceilings (nginx `return 200`, nginx -> a one-line libfcgi
# responder) and provd at 1k and 1M devices with wrk, in one run on this machine; prints a table
# and writes it as JSON to build/bench/results.json. See bench/README.md for the method.
#   BUILD (build), WORKERS (2 x cores, as make run), BENCH_DURATION (5 s per run, at most 10),
#   BENCH_WARMUP (1 s), BENCH_SCALES ("1000 1000000"), BENCH_CONNECTIONS (16).
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
THREADS=2
WORKERS=${WORKERS:-$(( 2 * $(nproc) ))}
# The device-facing rate limit (per address and URL) would refuse a load generator on one
# address: set far above what the machine can do, so the bench measures the server.
export DEVICE_RATE=100000r/s DEVICE_BURST=100000
export BENCH_DIR=$top/bench BENCH_PREFIX=5CCF7F
KEY=000102030405060708090a0b0c0d0e0f       # every seeded device's telemetry key (AES-128)
INGEST_DEVICES=500                          # per wrk thread: thread t sends for devices t*500 on
INGEST_SEQN=1000000                         # v1's first SEQN - 1, v2's is twice that: above the seeded
BODIES=${BENCH_BODIES:-100000}              # per wrk thread and envelope: more than one run can send
READ_PER_DEVICE=1000                        # readings per device that has any

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
for n in $SCALES; do
    if (( n < THREADS * INGEST_DEVICES )); then
        echo "bench: a scale needs at least $(( THREADS * INGEST_DEVICES )) devices (ingest uses them)" >&2
        exit 1
    fi
done

pids=()
workers_parent=""
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
cleanup() {
    trap - EXIT INT TERM
    stop_all
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$work"
mkdir -p "$work"
rm -f "$out/results.json"
runs=$work/runs.tsv scales=$work/scales.tsv fleet=$work/fleet.tsv
: > "$runs"
: > "$scales"
: > "$fleet"
NGINX_USER=""
[ "$(id -u)" -eq 0 ] && NGINX_USER=root    # as scripts/stack.sh: workers must reach our files
export NGINX_USER

free_port() {
    local p
    while :; do
        p=$(( 20000 + RANDOM % 40000 ))
        [ -z "$(ss -Htln "sport = :$p")" ] && { echo "$p"; return; }
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

# measure SCALE NAME SCRIPT URL [WARMUP_SCRIPT]: a short warm-up, then the timed wrk run, with the
# workers' CPU time over it (when serve started workers: workers_parent).
measure() {
    local scale=$1 name=$2 script=$3 url=$4 warm=${5:-$3} line cpu0="" cpu_us=-
    (( WARMUP > 0 )) && wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s "bench/$warm.lua" "$url" >/dev/null
    [ -n "$workers_parent" ] && cpu0=$(workers_cpu "$workers_parent")
    line=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "bench/$script.lua" "$url" | grep '^BENCH')
    if [ -n "$cpu0" ]; then
        cpu_us=$(awk -v t=$(( $(workers_cpu "$workers_parent") - cpu0 )) -v hz="$CLOCK_TICKS" \
            -v n="$(cut -f7 <<<"$line")" 'BEGIN { printf("%.1f", n > 0 ? t * 1e6 / hz / n : 0) }')
    fi
    printf '%s\t%s\t%s\t%s\n' "$scale" "$name" "${line#BENCH$'\t'}" "$cpu_us" >> "$runs"
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
serve() {
    local port
    port=$(free_port)
    export RUN_DIR=$1/run SOCKET=$1/run/fcgi.sock PORT=$port
    mkdir -p "$RUN_DIR/tmp"
    scripts/render-nginx.sh > "$RUN_DIR/nginx.conf"
    spawn-fcgi -n -s "$SOCKET" -M 0600 -- /usr/bin/multiwatch -f "$WORKERS" -- "${@:2}" &
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
    local n=$1 data=$work/scale-$n readers t0 t1 t2 size_devices size_all token
    readers=$(( n / 1000 ))                 # devices with readings: 1M readings at 1M devices
    (( readers < 1 )) && readers=1
    mkdir -p "$data"
    local db=$data/provd.sqlite3
    echo "$n devices: seeding" >&2
    t0=$EPOCHREALTIME
    "$bin/bench/seed" --db "$db" devices "$BENCH_PREFIX" "$n" "$KEY"
    size_devices=$(stat -c %s "$db")
    t1=$EPOCHREALTIME
    "$bin/bench/seed" --db "$db" readings "$BENCH_PREFIX" 0 "$readers" "$READ_PER_DEVICE"
    # The seed's pages on disk now: at 1M, 240 MB left dirty were written back by the kernel
    # about 30 s later, in the middle of the first measurements.
    sync "$db"
    t2=$EPOCHREALTIME
    size_all=$(stat -c %s "$db")
    token=$("$bin/provctl" --db "$db" token create bench)
    export BENCH_DEVICES=$n BENCH_TOKEN=$token BENCH_READ_DEVICES=$readers

    # The machine drifts during a run (10-25% between its first and last minutes has been seen),
    # so each scale's rows are measured against the FastCGI ceiling just before and after them.
    hello "$n" nginx_fastcgi_hello
    # Not a ceiling: the same hello closing like provd (see fcgi_hello.c), against the ceiling.
    hello "$n" hello_closing_at_once --close-at-once
    PROVD_DB=$db serve "$data" "$bin/provd"
    local api=$url/api

    expect 200 "$api/devices/${BENCH_PREFIX}000000"
    measure "$n" heartbeat heartbeat "$url"
    expect 304 -H 'If-None-Match: "0"' "$api/devices/${BENCH_PREFIX}000000"
    measure "$n" poll_304 poll304 "$url"
    expect 200 -X POST -H 'Content-Type: application/json' -d '{"ipaddr":"192.168.1.20","ssid":"bench"}' \
        "$api/devices/${BENCH_PREFIX}000000"
    measure "$n" register register "$url"
    expect 200 -H "Authorization: Bearer $token" "$api/devices"
    measure "$n" list_first_page list "$url"
    expect 200 -H "Authorization: Bearer $token" "$api/devices/${BENCH_PREFIX}000000/telemetry"
    measure "$n" telemetry_read read "$url"
    local e
    for e in v1 v2; do
        check_ingest "$url" "$e"
        # A warm-up must not spend the bodies: heartbeats warm the workers instead.
        BENCH_BODY_FILES=$work/$e measure "$n" "ingest_$e" ingest "$url" heartbeat
    done
    local rss
    rss=$(peak_rss "$workers_parent")
    stop_all

    # The same ingest with every commit fsynced (PROVD_SYNCHRONOUS=full): what power-cut
    # durability of each reading costs on this disk.
    PROVD_DB=$db PROVD_SYNCHRONOUS=full serve "$data" "$bin/provd"
    BENCH_BODY_FILES=$work/v2-full measure "$n" ingest_v2_synced ingest "$url" heartbeat

    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$(( readers * READ_PER_DEVICE ))" "$rss" \
        "$size_devices" "$(( size_all - size_devices ))" "$t0" "$t1" "$t2" >> "$scales"
    stop_all
    hello "$n" nginx_fastcgi_hello_after
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

seal_bodies
ceiling_nginx
for n in $SCALES; do
    scale "$n"
done
fleet
bench/report.awk -v workers="$WORKERS" -v threads="$THREADS" -v connections="$CONNECTIONS" \
    -v duration="$DURATION" -v cores="$(nproc)" -v cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
    -v date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -v json="$out/results.json" -v scales_file="$scales" \
    -v fleet_file="$fleet" -v fleet_interval="$FLEET_INTERVAL" "$runs"
