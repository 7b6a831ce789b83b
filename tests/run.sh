#!/usr/bin/env bash
# Runs every suite and ends with the one line `N passed, N failed[, N skipped]`.
# Suites: C unit tests (plain and ASan/UBSan), libFuzzer targets (briefly), Node integration tests;
# the store's unit tests and the integration and browser suites again on PostgreSQL (-pg), on a
# throwaway cluster started here under build/ and stopped at the end, whatever happens.
# Each suite's full output goes to build/test-logs/; a failing suite's tail is shown, and each
# suite's line ends with its time.
# A suite that runs past its limit is killed and counted as failed (a hang must not block CI).
#   FUZZ_SECONDS (5); PG_PORT: the cluster's port (default: a free one);
#   UNIT_LIMIT (300) and NODE_LIMIT (1200): seconds for one unit binary and for one node suite;
#   NODE_CONCURRENCY (2): test files a node suite runs at once (they mostly wait: for polls,
#   timeouts, restarts; each starts its own stacks on free ports);
#   PROVD_TEST_PG=postgresql://...: run the -pg suites on that server instead of a cluster of ours.
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-5}
UNIT_LIMIT=${UNIT_LIMIT:-300} NODE_LIMIT=${NODE_LIMIT:-1200} NODE_CONCURRENCY=${NODE_CONCURRENCY:-2}
# A PROVD_DB of the caller's shell must not reach the stacks the tests start.
unset PROVD_DB
logs=build/test-logs
rm -rf "$logs"; mkdir -p "$logs"
passed=0 failed=0 skipped=0
started=$SECONDS
suite_start=$SECONDS

# count NAME LOGFILE STATUS P F S [SECONDS]: adds one suite's counts and reports it, with its
# time: SECONDS, else the time since the suite began (suite_start, set by begin).
count() {
    local name=$1 log=$2 status=$3 p=$4 f=$5 s=$6 secs=${7:-$((SECONDS - suite_start))}
    # A suite that exits non-zero but reported no failure still failed (crash, build error).
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    printf '%-40s %4d passed, %d failed%s  (%d s)\n' "$name" "$p" "$f" "$([ "$s" -gt 0 ] && echo ", $s skipped")" "$secs"
    if [ "$f" -gt 0 ]; then
        echo "---- $log (last 40 lines) ----"; tail -n 40 "$log"; echo "----"
        { echo "$name:"; failed_tests "$log"; } >>"$logs/failures.txt"
    fi
    suite_start=$SECONDS
}
# failed_tests LOG: each failed test of a TAP log with its location and the first lines of its
# error (a suite that failed only because a subtest did is left out: the subtest says it all).
failed_tests() {
    awk '
    function flush() { if (head != "" && kind != "subtestsFailed") printf "%s%s", head, body; head = body = "" }
    /^ *not ok / { flush(); head = $0 "\n"; kind = ""; inerr = 0; errlines = 0; next }
    head == "" { next }
    /^ *\.\.\.$/ { flush(); next }
    /failureType:/ { kind = $2; gsub(/\047/, "", kind); next }
    /location:/ { body = body $0 "\n"; next }
    /^ *error:/ { inerr = 1; body = body $0 "\n"; next }
    /^ *(code|name|stack|expected|actual|operator):/ { inerr = 0; next }
    inerr && errlines++ < 8 { body = body $0 "\n" }
    END { flush() }' "$1" | head -n 60
}
begin() { suite_start=$SECONDS; }
# limited SECONDS COMMAND...: runs it, killed after SECONDS (said on stderr); its status.
limited() {
    local secs=$1; shift
    timeout --kill-after=10 "$secs" "$@"; local st=$?
    if [ "$st" -eq 124 ] || [ "$st" -eq 137 ]; then echo "killed: still running after $secs s" >&2; fi
    return "$st"
}
# A build's time, on a line of its own (a build is no test; one that fails is counted as a suite).
built() { printf '%-40s built  (%d s)\n' "$1" $((SECONDS - suite_start)); }

# TAP from cmocka: top-level "ok"/"not ok" lines.
run_tap() {
    local name=$1; shift
    local log="$logs/${name//\//-}.log"
    begin
    CMOCKA_MESSAGE_OUTPUT=TAP limited "$UNIT_LIMIT" "$@" >"$log" 2>&1
    tally_tap "$name" "$log" $?
}

# tally_tap NAME LOG STATUS [SECONDS]: counts a cmocka binary's TAP log.
tally_tap() {
    local name=$1 log=$2 st=$3 secs=${4:-}
    local p f s
    s=$(grep -cE '^ok .*# (SKIP|skip)' "$log")
    p=$(( $(grep -cE '^ok ' "$log") - s ))
    f=$(grep -cE '^not ok ' "$log")
    # A binary that ran no test at all proves nothing: count it as a failure.
    [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ] && f=1
    count "$name" "$log" "$st" "$p" "$f" "$s" $secs
}

# test_store_pg needs PROVD_TEST_PG: the plain one runs with the unit-pg suites, the sanitizer
# one here with it set (and fails, saying why, when there is no cluster).
run_unit_dir() {
    local label=$1 dir=$2 t
    for t in "$dir"/*; do
        [ -x "$t" ] && [ -f "$t" ] || continue
        case "$label/$(basename "$t")" in
        unit/test_store_pg) ;;
        */test_store_pg) run_tap "$label/$(basename "$t")" env PROVD_TEST_PG="$pg_base" "$t" ;;
        *) run_tap "$label/$(basename "$t")" "$t" ;;
        esac
    done
}

# node --test over FILES... as suite NAME, its TAP counted; the environment is the caller's.
run_node() {
    local name=$1; shift
    local log="$logs/${name//\//-}.log"
    begin
    limited "$NODE_LIMIT" node --test --test-concurrency="$NODE_CONCURRENCY" --test-reporter=tap "$@" >"$log" 2>&1
    local st=$?
    num() { grep -E "^# $1 [0-9]+" "$log" | tail -n 1 | awk '{print $3}'; }
    local p f c s
    p=$(num pass); f=$(num fail); c=$(num cancelled); s=$(num skipped)
    count "$name" "$log" "$st" "${p:-0}" "$(( ${f:-0} + ${c:-0} ))" "${s:-0}"
}

# The PostgreSQL cluster every -pg suite shares (each test makes its own database on it): started
# now, so that a cluster that cannot start is known before the long suites, and stopped on any exit.
pg_dir=build/pg-test
pg_base=${PROVD_TEST_PG:-}
pg_log="$logs/pg-cluster.log"
unit_pg_pid='' own_cluster=0
stop_cluster() { scripts/pg-cluster.sh stop "$pg_dir" >>"$pg_log" 2>&1; }
cleanup() {
    [ -n "$unit_pg_pid" ] && kill $(ps -o pid= --ppid "$unit_pg_pid") "$unit_pg_pid" 2>/dev/null
    [ "$own_cluster" = 1 ] && stop_cluster
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
free_port() {
    local port
    for _ in $(seq 50); do
        port=$(shuf -i 20000-59999 -n 1)
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return 0; }
    done
    return 1
}
if [ -z "$pg_base" ]; then
    begin
    stop_cluster # one a killed run left behind
    rm -rf "$pg_dir"
    # As root the server runs as postgres, who may not reach build/ (a checkout under a private
    # home directory): then the cluster lives in a directory of its own under /tmp.
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x build 2>/dev/null; then
        pg_dir=$(mktemp -d /tmp/provd-pg-test.XXXXXX)
        chmod 755 "$pg_dir"
        echo "user postgres cannot reach build/: the cluster is in $pg_dir" >>"$pg_log"
        stop_cluster() { scripts/pg-cluster.sh stop "$pg_dir" >>"$pg_log" 2>&1; rm -rf "$pg_dir"; }
    fi
    own_cluster=1
    # A port found free can be taken before the server binds it: then another one.
    for _ in 1 2 3; do
        port=${PG_PORT:-$(free_port)} || break
        pg_base=$(scripts/pg-cluster.sh start "$pg_dir" "$port" 2>>"$pg_log") && break
        pg_base=''
        [ -n "${PG_PORT:-}" ] && break
    done
    if [ -n "$pg_base" ]; then
        echo "PostgreSQL test cluster: $pg_base (data in $pg_dir)" >>"$pg_log"
    else
        count "pg/cluster" "$pg_log" 1 0 1 0
    fi
fi

# Plain unit tests were built by `make test`; the sanitizer build goes to its own tree.
run_unit_dir unit build/tests

# The store's tests again on PostgreSQL: PROVD_TEST_PG is the server's base URI (each test makes
# its database there). test_store_pg is PostgreSQL's own and runs only here. They mostly wait for
# the server (a database per test), so they run beside the sanitizer build and the fuzzers, each
# binary's log and "NAME STATUS SECONDS" line written for the count after those.
unit_pg=(test_store test_store_firmware test_store_tags test_store_rollouts test_router test_telemetry test_store_bulk test_store_pg)
if [ -n "$pg_base" ]; then
    (
        for t in "${unit_pg[@]}"; do
            log="$logs/unit-pg-$t.log" t0=$SECONDS
            if [ -x "build/tests/$t" ]; then
                CMOCKA_MESSAGE_OUTPUT=TAP PROVD_TEST_PG="$pg_base" limited "$UNIT_LIMIT" "build/tests/$t" >"$log" 2>&1; st=$?
            else
                echo "build/tests/$t was not built (no tests/unit/$t.c?)" >"$log"; st=127
            fi
            echo "$t $st $((SECONDS - t0))" >>"$logs/unit-pg.status"
        done
    ) &
    unit_pg_pid=$!
fi

begin
sanlog="$logs/build-asan.log"
if make --no-print-directory BUILD=build/asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
        SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" unit-tests >"$sanlog" 2>&1; then
    built asan/build
    ASAN_OPTIONS=detect_leaks=1 run_unit_dir asan build/asan/tests
else
    count "asan/build" "$sanlog" 1 0 1 0
fi

# Fuzz targets, each for FUZZ_SECONDS from its committed seed corpus (copied: runs add files).
begin
fuzzlog="$logs/build-fuzz.log"
if make --no-print-directory BUILD=build/fuzz CC=clang CFLAGS="-O1 -g" \
        SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined" fuzzers >"$fuzzlog" 2>&1; then
    built fuzz/build
    for f in build/fuzz/fuzz/*; do
        [ -x "$f" ] || continue
        begin
        name=$(basename "$f")
        corpus=$(mktemp -d)
        for seeds in tests/fuzz/corpus/"$name" */fuzz/corpus/"$name"; do
            [ -d "$seeds" ] && cp -r "$seeds/." "$corpus/"
        done
        log="$logs/fuzz-$name.log"
        "$f" -max_total_time="$FUZZ_SECONDS" -timeout=5 -rss_limit_mb=1024 "$corpus" >"$log" 2>&1; st=$?
        rm -rf "$corpus"
        if [ "$st" -eq 0 ]; then count "fuzz/$name" "$log" 0 1 0 0; else count "fuzz/$name" "$log" "$st" 0 1 0; fi
    done
else
    count "fuzz/build" "$fuzzlog" 1 0 1 0
fi

# The firmware core and the port's SDK-free part must cross-compile for the ESP8266 with every
# warning an error, and their object pass firmware/esp8266/check-object.sh (symbols, static data,
# formats).
begin
log="$logs/esp8266.log"
if make --no-print-directory esp8266 >"$log" 2>&1; then count "esp8266/cross-compile" "$log" 0 1 0 0
else count "esp8266/cross-compile" "$log" 1 0 1 0; fi

if [ -n "$unit_pg_pid" ]; then
    wait "$unit_pg_pid"
    unit_pg_pid=''
    for t in "${unit_pg[@]}"; do
        st='' secs=''
        read -r _ st secs < <(grep "^$t " "$logs/unit-pg.status")
        tally_tap "unit-pg/$t" "$logs/unit-pg-$t.log" "${st:-1}" "${secs:-0}"
    done
fi

# Node suites: integration through real nginx + provd, and the admin page in headless Chromium;
# each on SQLite, then on PostgreSQL (tests/integration/lib/stack.mjs: a database per stack).
for dir in tests/integration tests/browser; do
    files=("$dir"/*.test.mjs)
    [ -e "${files[0]}" ] || continue
    suite="node/$(basename "$dir")"
    PROVD_TEST_PG='' run_node "$suite" "${files[@]}"
    # A file whose first line says @no-database starts no provd: the same test on PostgreSQL.
    mapfile -t pg_files < <(for f in "${files[@]}"; do head -n 1 "$f" | grep -q '^// @no-database' || echo "$f"; done)
    [ -n "$pg_base" ] && PROVD_TEST_PG="$pg_base" run_node "$suite-pg" "${pg_files[@]}"
done

echo
# The failed tests again, last, where a reader of only the output's tail finds them.
if [ -s "$logs/failures.txt" ]; then echo "failed tests:"; head -n 150 "$logs/failures.txt"; echo; fi
echo "all suites: $((SECONDS - started)) s"
summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
