#!/usr/bin/env bash
# Runs every suite and ends with the one line `N passed, N failed[, N skipped]`.
# Suites: C unit tests (plain and ASan/UBSan), libFuzzer targets (briefly), Node integration tests.
# Each suite's full output goes to build/test-logs/; a failing suite's tail is shown.
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
logs=build/test-logs
rm -rf "$logs"; mkdir -p "$logs"
passed=0 failed=0 skipped=0

# count NAME LOGFILE STATUS P F S: adds one suite's counts and reports it.
count() {
    local name=$1 log=$2 status=$3 p=$4 f=$5 s=$6
    # A suite that exits non-zero but reported no failure still failed (crash, build error).
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    printf '%-40s %4d passed, %d failed%s\n' "$name" "$p" "$f" "$([ "$s" -gt 0 ] && echo ", $s skipped")"
    if [ "$f" -gt 0 ]; then
        echo "---- $log (last 40 lines) ----"; tail -n 40 "$log"; echo "----"
    fi
}

# TAP from cmocka: top-level "ok"/"not ok" lines.
run_tap() {
    local name=$1; shift
    local log="$logs/${name//\//-}.log"
    CMOCKA_MESSAGE_OUTPUT=TAP "$@" >"$log" 2>&1; local st=$?
    local p f s
    s=$(grep -cE '^ok .*# (SKIP|skip)' "$log")
    p=$(( $(grep -cE '^ok ' "$log") - s ))
    f=$(grep -cE '^not ok ' "$log")
    # A binary that ran no test at all proves nothing: count it as a failure.
    [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ] && f=1
    count "$name" "$log" "$st" "$p" "$f" "$s"
}

run_unit_dir() {
    local label=$1 dir=$2 t
    for t in "$dir"/*; do
        [ -x "$t" ] && [ -f "$t" ] || continue
        run_tap "$label/$(basename "$t")" "$t"
    done
}

# Plain unit tests were built by `make test`; the sanitizer build goes to its own tree.
run_unit_dir unit build/tests

sanlog="$logs/build-asan.log"
if make --no-print-directory BUILD=build/asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
        SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" unit-tests >"$sanlog" 2>&1; then
    ASAN_OPTIONS=detect_leaks=1 run_unit_dir asan build/asan/tests
else
    count "asan/build" "$sanlog" 1 0 1 0
fi

# Fuzz targets, each for FUZZ_SECONDS from its committed seed corpus (copied: runs add files).
fuzzlog="$logs/build-fuzz.log"
if make --no-print-directory BUILD=build/fuzz CC=clang CFLAGS="-O1 -g" \
        SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined" fuzzers >"$fuzzlog" 2>&1; then
    for f in build/fuzz/fuzz/*; do
        [ -x "$f" ] || continue
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

# The firmware core must cross-compile for the ESP8266 with every warning an error.
log="$logs/esp8266.log"
if make --no-print-directory esp8266 >"$log" 2>&1; then count "esp8266/cross-compile" "$log" 0 1 0 0
else count "esp8266/cross-compile" "$log" 1 0 1 0; fi

# Node suites: integration through real nginx + provd, and the admin page in headless Chromium.
for dir in tests/integration tests/browser; do
    files=("$dir"/*.test.mjs)
    [ -e "${files[0]}" ] || continue
    log="$logs/node-$(basename "$dir").log"
    node --test --test-reporter=tap "${files[@]}" >"$log" 2>&1; st=$?
    num() { grep -E "^# $1 [0-9]+" "$log" | tail -n 1 | awk '{print $3}'; }
    p=$(num pass); f=$(num fail); c=$(num cancelled); s=$(num skipped)
    count "node/$(basename "$dir")" "$log" "$st" "${p:-0}" "$(( ${f:-0} + ${c:-0} ))" "${s:-0}"
done

echo
summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
