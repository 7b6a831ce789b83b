#!/usr/bin/awk -f
# bench/report.awk: turns bench/run.sh's measurements (runs.tsv, and scales_file) into the table
# it prints and the same figures as JSON (the file named by -v json=...).
BEGIN { FS = "\t" }

function scale_name(n) {
    if (n == "-") return "-"
    if (n >= 1000000 && n % 1000000 == 0) return (n / 1000000) "M"
    if (n >= 1000 && n % 1000 == 0) return (n / 1000) "k"
    return n
}
function js(s) { gsub(/["\\]/, "\\\\&", s); return "\"" s "\"" }

{
    runs++
    scale[runs] = $1; name[runs] = $2; rps[runs] = $3; p50[runs] = $4; p99[runs] = $5
    status[runs] = $6; sockerr[runs] = $7; requests[runs] = $8; worker_us[runs] = $9
    row[$2, $1] = runs
    if ($1 != "-" && !($1 in seen_scale)) { seen_scale[$1] = 1; scales[++nscales] = $1 }
    if ($2 ~ /^nginx_fastcgi_hello/) {
        ceiling_sum[$1] += $3; ceiling_runs[$1]++
        all_ceilings_sum += $3; all_ceilings++
        if (!($1 in ceiling_low) || $3 < ceiling_low[$1]) ceiling_low[$1] = $3
        if (!($1 in ceiling_high) || $3 > ceiling_high[$1]) ceiling_high[$1] = $3
    }
}

# The FastCGI ceiling a row is divided by: the mean of the ceilings measured around its scale's
# rows, or of all of them for a row of no scale (nginx_return_200).
function ceiling_of(s) {
    if (s in ceiling_runs) return ceiling_sum[s] / ceiling_runs[s]
    return all_ceilings ? all_ceilings_sum / all_ceilings : 0
}
function ratio_of(i,    c) { c = ceiling_of(scale[i]); return c > 0 ? rps[i] / c : 0 }
# How far apart a size's two ceilings are, over their mean: how much the machine changed speed
# while its rows ran.
function ceiling_spread(s) { return s in ceiling_runs ? (ceiling_high[s] - ceiling_low[s]) / ceiling_of(s) : 0 }

# target(WHAT, SCALE, VALUE, LIMIT, AT_MOST, ERRORS): one line of the targets table and of the
# JSON; a row with errors misses its target whatever its value.
function target(what, s, value, limit, at_most, errors,    met) {
    met = (at_most ? value <= limit : value >= limit) && !errors
    targets_met += met; targets++
    printf "%-40s %8s %8.3f %2s %5.2f  %s\n", what, scale_name(s), value, at_most ? "<=" : ">=", limit,
        met ? "yes" : errors ? "NO (" errors " errors)" : "NO"
    targets_json = targets_json (targets > 1 ? "," : "") "\n    {\"target\": " js(what) ", \"devices\": " s
    targets_json = targets_json sprintf(", \"value\": %.3f, \"limit\": %.2f, \"at_most\": %s, \"met\": %s}", value, limit,
        at_most ? "true" : "false", met ? "true" : "false")
}

# Issue 7's targets: the ratio ones (with no errors) at every scale, growth from the first scale
# to the last as the ratio of their ratios (each over its own ceiling), memory over all scales.
function ratio_target(run, limit, s,    i) {
    i = row[run, s]
    if (i) target(run " x FastCGI, no errors", s, ratio_of(i), limit, 0, status[i] + sockerr[i])
}
function growth_target(run, small, large,    a, b) {
    a = row[run, small]; b = row[run, large]
    if (a && b) target(run " " scale_name(small) " / " scale_name(large) " (x FastCGI)", large,
        ratio_of(b) > 0 ? ratio_of(a) / ratio_of(b) : 99, 1.3, 1)
}
function print_targets(rss_max, rss_scale,    k, s, i, first, last) {
    printf "\n%-40s %8s %8s %8s  %s\n", "target (issue 7)", "devices", "value", "limit", "met"
    for (k = 1; k <= nscales; k++) {
        s = scales[k]
        ratio_target("heartbeat", 0.8, s); ratio_target("poll_304", 0.85, s)
        ratio_target("ingest_v1", 0.5, s); ratio_target("ingest_v2", 0.5, s)
    }
    first = scales[1]; last = scales[nscales]
    if (nscales > 1) { # the large fleet's targets: measured against the small one
        growth_target("heartbeat", first, last); growth_target("list_first_page", first, last)
        if ((i = row["list_first_page", last])) target("list_first_page p99 ms", last, p99[i], 5, 1)
    }
    if (rss_scale != "") target("worker peak RSS MB (10^6 bytes)", rss_scale, rss_max * 1024 / 1e6, 8, 1)
    printf "met: %d of %d\n", targets_met, targets
    for (k = 1; k <= nscales; k++) {
        s = scales[k]
        if (ceiling_spread(s) > 0.15)
            printf "the two ceilings around %s differ by %.0f%% (%.0f and %.0f req/s): the machine changed speed during these rows, so their ratios are unreliable; run again\n",
                scale_name(s), 100 * ceiling_spread(s), ceiling_low[s], ceiling_high[s]
    }
}

END {
    printf "provd bench %s: %d cores (%s), %d provd workers, wrk %d threads x %d connections, %d s per run\n\n",
        date, cores, cpu, workers, threads, connections, duration
    printf "%-26s %8s %10s %8s %8s %8s %10s %11s\n", "run", "devices", "req/s", "p50 ms", "p99 ms", "errors", "x FastCGI",
        "worker us"
    out = "{\n  " js("date") ": " js(date) ",\n  \"machine\": {\"cores\": " cores ", \"cpu\": " js(cpu) "},\n"
    out = out "  \"settings\": {\"workers\": " workers ", \"wrk_threads\": " threads ", \"connections\": " connections
    out = out ", \"seconds_per_run\": " duration "},\n"
    out = out "  \"runs\": ["
    for (i = 1; i <= runs; i++) {
        ratio = ratio_of(i)
        printf "%-26s %8s %10.0f %8.2f %8.2f %8d %10.2f %11s\n", name[i], scale_name(scale[i]), rps[i], p50[i], p99[i],
            status[i] + sockerr[i], ratio, worker_us[i]
        out = out (i > 1 ? "," : "") "\n    {\"run\": " js(name[i]) ", \"devices\": " (scale[i] == "-" ? "null" : scale[i])
        out = out sprintf(", \"requests_per_s\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f", rps[i], p50[i], p99[i])
        out = out ", \"status_errors\": " status[i] ", \"socket_errors\": " sockerr[i] ", \"requests\": " requests[i]
        out = out sprintf(", \"ratio_to_fastcgi\": %.3f, \"worker_cpu_us_per_request\": %s}", ratio,
            worker_us[i] == "-" ? "null" : worker_us[i])
    }
    out = out "\n  ],\n  \"scales\": ["
    printf "\n%-8s %9s %16s %16s %17s %12s %13s\n", "devices", "readings", "worker peak RSS", "DB bytes/device",
        "DB bytes/reading", "seed devices", "seed readings"
    n = 0
    while ((getline line < scales_file) > 0) {
        split(line, f, "\t")
        per_device = f[4] / f[1]; per_reading = f[5] / f[2]
        printf "%-8s %9s %12.1f MiB %16.0f %17.0f %10.1f s %11.1f s\n", scale_name(f[1]), scale_name(f[2]),
            f[3] / 1024, per_device, per_reading, f[7] - f[6], f[8] - f[7]
        out = out (n++ ? "," : "") "\n    {\"devices\": " f[1] ", \"readings\": " f[2] ", \"worker_peak_rss_kib\": " f[3]
        out = out sprintf(", \"db_bytes_per_device\": %.1f, \"db_bytes_per_reading\": %.1f", per_device, per_reading)
        out = out sprintf(", \"seed_devices_s\": %.2f, \"seed_readings_s\": %.2f", f[7] - f[6], f[8] - f[7])
        out = out sprintf(", \"fastcgi_ceiling_per_s\": %.1f, \"fastcgi_ceiling_spread\": %.3f}", ceiling_of(f[1]),
            ceiling_spread(f[1]))
        if (f[3] > rss_max) { rss_max = f[3]; rss_scale = f[1] }
    }
    out = out "\n  ],\n  \"fleet\": "
    fleet_steps = 0; largest = 0
    while ((getline line < fleet_file) > 0) {
        split(line, f, "\t")
        if (!fleet_steps++) {
            printf "\nfleet: devsim devices polling and logging every %d s (each loads the server as %d devices at 60 s)\n",
                fleet_interval, 60 / fleet_interval
            printf "%-14s %14s %10s %8s %8s %9s\n", "devsim devices", "as 60 s fleet", "req/s", "p50 ms", "p99 ms", "refused"
            out = out "{\"interval_s\": " fleet_interval ", \"steps\": ["
        }
        printf "%-14s %14s %10.0f %8.2f %8.2f %9d  %s\n", f[1], scale_name(f[1] * 60 / fleet_interval), f[2], f[3], f[4],
            f[5], f[6] == "ok" ? "" : "(p99 >= 50 ms or refusals)"
        out = out (fleet_steps > 1 ? ", " : "") sprintf("{\"devices\": %d, \"requests_per_s\": %s, \"p50_ms\": %s, \"p99_ms\": %s, \"refused\": %d, \"ok\": %s}",
            f[1], f[2], f[3], f[4], f[5], f[6] == "ok" ? "true" : "false")
        if (f[6] == "ok") largest = f[1]
    }
    if (fleet_steps) {
        printf "largest fleet with p99 < 50 ms and nothing refused: %d devsim devices (%s devices at 60 s)\n",
            largest, scale_name(largest * 60 / fleet_interval)
        out = out sprintf("], \"largest_ok_devices\": %d, \"largest_ok_fleet_at_60s\": %d}", largest,
            largest * 60 / fleet_interval)
    } else {
        printf "\nfleet: no run (build/devsim is not built)\n"
        out = out "null"
    }
    print_targets(rss_max, rss_scale)
    print out ",\n  \"targets\": [" targets_json "\n  ]\n}" > json
    printf "\nerrors: responses >= 400 and socket errors; x FastCGI: req/s over the mean of the two\n"
    printf "nginx_fastcgi_hello runs of the same devices column, measured just before and after its\n"
    printf "rows; worker us: CPU time (user + system) of all FastCGI workers over the timed run, per request.\n"
    printf "JSON: %s\n", json
}
