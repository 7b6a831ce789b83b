#!/usr/bin/awk -f
# bench/report.awk: turns bench/run.sh's measurements (runs.tsv, and scales_file) into the table
# it prints and the same figures as JSON (the file named by -v json=...).
#   runs.tsv: devices (- for none), run, req/s, p50 ms, p99 ms, responses >= 400, socket errors,
#             requests, worker us per request (- for none), backend of a provd row (sqlite, pg; -)
#   scales_file: devices, readings, worker peak RSS KiB, DB bytes of the devices and of the
#             readings, seed start, devices seeded, readings seeded (EPOCHREALTIME), backend
#   rollout_file: devsim devices, seconds from the rollout's start to its end, its state then
BEGIN { FS = "\t" }

function scale_name(n) {
    if (n == "-") return "-"
    if (n >= 1000000 && n % 1000000 == 0) return (n / 1000000) "M"
    if (n >= 1000 && n % 1000 == 0) return (n / 1000) "k"
    return n
}
function js(s) { gsub(/["\\]/, "\\\\&", s); return "\"" s "\"" }

# The three ceilings a row is divided by, by the names of their runs: the FastCGI one (the provd
# site with the one-line responder), the keep-alive FastCGI one, and PostgreSQL's pgbench -S.
function kind_of(run) {
    if (run ~ /^nginx_fastcgi_hello/) return "fastcgi"
    if (run ~ /^nginx_fastcgi_keepalive/) return "keepalive"
    if (run ~ /^pgbench_select/) return "pgbench"
    return ""
}

{
    runs++
    scale[runs] = $1; name[runs] = $2; rps[runs] = $3; p50[runs] = $4; p99[runs] = $5
    status[runs] = $6; sockerr[runs] = $7; requests[runs] = $8; worker_us[runs] = $9
    backend[runs] = NF >= 10 && $10 != "" ? $10 : "-"
    row[$2, $1] = runs
    if ($1 != "-" && !($1 in seen_scale)) { seen_scale[$1] = 1; scales[++nscales] = $1 }
    if ((k = kind_of($2)) != "") {
        ceiling_sum[k, $1] += $3; ceiling_runs[k, $1]++
        all_ceilings_sum[k] += $3; all_ceilings[k]++
        if (!((k, $1) in ceiling_low) || $3 < ceiling_low[k, $1]) ceiling_low[k, $1] = $3
        if (!((k, $1) in ceiling_high) || $3 > ceiling_high[k, $1]) ceiling_high[k, $1] = $3
    }
}

# The mean of all ceilings of kind k measured at scale s, or of all of that kind for a row of no
# scale (nginx_return_200); 0 when the run has none of that kind.
function ceiling_of(k, s) {
    if ((k, s) in ceiling_runs) return ceiling_sum[k, s] / ceiling_runs[k, s]
    return all_ceilings[k] ? all_ceilings_sum[k] / all_ceilings[k] : 0
}
# The ceiling of kind k row i is divided by: the mean of the two of its scale measured around it
# (the last one before it and the first one after it; the one there is when only one is), so
# that each backend's rows are judged against the machine's speed of their own minutes. A ceiling
# row itself is divided by the mean of all of its kind at its scale: how far each one is from 1
# shows how much the machine drifted.
function divisor(i, k,    j, before, after, sum, n) {
    if (kind_of(name[i]) == k || scale[i] == "-") return ceiling_of(k, scale[i])
    for (j = i - 1; j >= 1 && !before; j--) if (scale[j] == scale[i] && kind_of(name[j]) == k) before = j
    for (j = i + 1; j <= runs && !after; j++) if (scale[j] == scale[i] && kind_of(name[j]) == k) after = j
    if (before) { sum += rps[before]; n++ }
    if (after) { sum += rps[after]; n++ }
    return n ? sum / n : ceiling_of(k, scale[i])
}
function ratio_to(i, k,    c) { c = divisor(i, k); return c > 0 ? rps[i] / c : 0 }
function ratio_of(i) { return ratio_to(i, "fastcgi") }
# Only PostgreSQL's rows and pgbench's own are compared with pgbench -S.
function has_pgbench_ratio(i) { return (backend[i] == "pg" || name[i] ~ /^pgbench_/) && divisor(i, "pgbench") > 0 }
# How far apart a size's ceilings of a kind are, over their mean: how much the machine changed
# speed while its rows ran.
function ceiling_spread(k, s) {
    return (k, s) in ceiling_runs ? (ceiling_high[k, s] - ceiling_low[k, s]) / ceiling_of(k, s) : 0
}
function ratio_text(i, k) {
    if (k == "pgbench" && !has_pgbench_ratio(i)) return "-"
    if (divisor(i, k) <= 0) return "-"
    return sprintf("%.2f", ratio_to(i, k))
}
function ratio_json(i, k) {
    if (k == "pgbench" && !has_pgbench_ratio(i)) return "null"
    if (divisor(i, k) <= 0) return "null"
    return sprintf("%.3f", ratio_to(i, k))
}

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
function pgbench_target(run, limit, s,    i) {
    i = row[run, s]
    if (i && has_pgbench_ratio(i))
        target(run " x pgbench -S, no errors", s, ratio_to(i, "pgbench"), limit, 0, status[i] + sockerr[i])
}
# A row against another of the same scale and backend (a signed heartbeat against the plain one).
function pair_target(run, base, limit, s,    a, b) {
    a = row[run, s]; b = row[base, s]
    if (a && b) target(run " / " base ", no errors", s, rps[b] > 0 ? rps[a] / rps[b] : 0, limit, 0,
        status[a] + sockerr[a])
}
function growth_target(run, small, large,    a, b) {
    a = row[run, small]; b = row[run, large]
    if (a && b) target(run " " scale_name(small) " / " scale_name(large) " (x FastCGI)", large,
        ratio_of(b) > 0 ? ratio_of(a) / ratio_of(b) : 99, 1.3, 1)
}
function print_targets(rss_max, rss_scale,    k, s, i, first, last, kinds, kind, nk) {
    printf "\n%-40s %8s %8s %8s  %s\n", "target", "devices", "value", "limit", "met"
    for (k = 1; k <= nscales; k++) {
        s = scales[k]
        ratio_target("heartbeat", 0.8, s); ratio_target("poll_304", 0.85, s)
        pair_target("signed_heartbeat", "poll_304", 0.9, s); pair_target("pg_signed_heartbeat", "pg_poll_304", 0.9, s)
        pair_target("heartbeat", "heartbeat_metrics_off", 0.95, s)
        pair_target("firmware_download", "firmware_static", 0.9, s); pair_target("pg_firmware_download", "pg_firmware_static", 0.9, s)
        if (s + 0 >= 1000000) {
            nk = split("metrics_scrape pg_metrics_scrape", kinds, " ")
            for (kind = 1; kind <= nk; kind++)
                if ((i = row[kinds[kind], s])) target(kinds[kind] " p99 ms", s, p99[i], 50, 1, status[i] + sockerr[i])
        }
        ratio_target("ingest_v1", 0.5, s); ratio_target("ingest_v2", 0.5, s)
    }
    # PostgreSQL's: the heartbeat against both ceilings at every size, ingest v2 at 1M and above.
    for (k = 1; k <= nscales; k++) {
        s = scales[k]
        ratio_target("pg_heartbeat", 0.5, s); pgbench_target("pg_heartbeat", 0.5, s)
        if (s + 0 >= 1000000) ratio_target("pg_ingest_v2", 0.3, s)
    }
    first = scales[1]; last = scales[nscales]
    if (nscales > 1) { # the large fleet's targets: measured against the small one
        growth_target("heartbeat", first, last); growth_target("list_first_page", first, last)
        if ((i = row["list_first_page", last])) target("list_first_page p99 ms", last, p99[i], 5, 1)
    }
    if (rss_scale != "") target("worker peak RSS MB (10^6 bytes)", rss_scale, rss_max * 1024 / 1e6, 8, 1)
    printf "met: %d of %d\n", targets_met, targets
    nk = split("fastcgi keepalive pgbench", kinds, " ")
    for (k = 1; k <= nscales; k++) {
        s = scales[k]
        for (kind = 1; kind <= nk; kind++)
            if (ceiling_spread(kinds[kind], s) > 0.15)
                printf "the %s ceilings around %s differ by %.0f%% (%.0f and %.0f req/s): the machine changed speed during these rows, so their ratios are unreliable; run again\n",
                    kind_label[kinds[kind]], scale_name(s), 100 * ceiling_spread(kinds[kind], s),
                    ceiling_low[kinds[kind], s], ceiling_high[kinds[kind], s]
    }
}

# The ceiling of kind k the rows of a backend at scale s were divided by (through its heartbeat row),
# else the mean of that kind at s.
function backend_divisor(b, s, k,    i) {
    i = row[(b == "pg" ? "pg_" : "") "heartbeat", s]
    return i ? divisor(i, k) : ceiling_of(k, s)
}

END {
    kind_label["fastcgi"] = "FastCGI"; kind_label["keepalive"] = "keep-alive FastCGI"; kind_label["pgbench"] = "pgbench -S"
    printf "provd bench %s: %d cores (%s), %d provd workers, wrk %d threads x %d connections, %d s per run%s\n\n",
        date, cores, cpu, workers, threads, connections, duration,
        pg_huge_pages == "" ? "" : sprintf("; PostgreSQL on %d huge pages", pg_huge_pages)
    printf "%-32s %8s %10s %8s %8s %8s %10s %12s %10s %11s\n", "run", "devices", "req/s", "p50 ms", "p99 ms", "errors",
        "x FastCGI", "x keep-alive", "x pgbench", "worker us"
    out = "{\n  " js("date") ": " js(date) ",\n  \"machine\": {\"cores\": " cores ", \"cpu\": " js(cpu) "},\n"
    out = out "  \"settings\": {\"workers\": " workers ", \"wrk_threads\": " threads ", \"connections\": " connections
    out = out ", \"seconds_per_run\": " duration ", \"backends\": " js(backends) ", \"keepalive_processes\": "
    out = out (keepalive_processes == "" ? "null" : keepalive_processes) ", \"pgbench_scale\": "
    out = out (pgbench_scale == "" ? "null" : pgbench_scale) ", \"pg_huge_pages\": "
    out = out (pg_huge_pages == "" ? "null" : pg_huge_pages) "},\n"
    out = out "  \"runs\": ["
    for (i = 1; i <= runs; i++) {
        ratio = ratio_of(i)
        printf "%-32s %8s %10.0f %8.2f %8.2f %8d %10.2f %12s %10s %11s\n", name[i], scale_name(scale[i]), rps[i], p50[i],
            p99[i], status[i] + sockerr[i], ratio, ratio_text(i, "keepalive"), ratio_text(i, "pgbench"), worker_us[i]
        out = out (i > 1 ? "," : "") "\n    {\"run\": " js(name[i]) ", \"devices\": " (scale[i] == "-" ? "null" : scale[i])
        out = out ", \"backend\": " (backend[i] == "pg" ? js("postgresql") : backend[i] == "sqlite" ? js("sqlite") : "null")
        out = out sprintf(", \"requests_per_s\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f", rps[i], p50[i], p99[i])
        out = out ", \"status_errors\": " status[i] ", \"socket_errors\": " sockerr[i] ", \"requests\": " requests[i]
        out = out sprintf(", \"ratio_to_fastcgi\": %.3f, \"ratio_to_fastcgi_keepalive\": %s", ratio,
            ratio_json(i, "keepalive"))
        out = out sprintf(", \"ratio_to_pgbench_select\": %s, \"worker_cpu_us_per_request\": %s}",
            ratio_json(i, "pgbench"), worker_us[i] == "-" ? "null" : worker_us[i])
    }
    printf "\n%-8s %-6s %9s %16s %16s %17s %12s %13s\n", "devices", "db", "readings", "worker peak RSS",
        "DB bytes/device", "DB bytes/reading", "seed devices", "seed readings"
    n = 0; npg = 0; scales_json = ""; pg_json = ""
    while ((getline line < scales_file) > 0) {
        nf = split(line, f, "\t")
        b = nf >= 9 && f[9] != "" ? f[9] : "sqlite"
        per_device = f[4] / f[1]; per_reading = f[5] / f[2]
        printf "%-8s %-6s %9s %12.1f MiB %16.0f %17.0f %10.1f s %11.1f s\n", scale_name(f[1]), b, scale_name(f[2]),
            f[3] / 1024, per_device, per_reading, f[7] - f[6], f[8] - f[7]
        entry = "\n    {\"devices\": " f[1] ", \"readings\": " f[2] ", \"worker_peak_rss_kib\": " f[3]
        entry = entry sprintf(", \"db_bytes_per_device\": %.1f, \"db_bytes_per_reading\": %.1f", per_device, per_reading)
        entry = entry sprintf(", \"seed_devices_s\": %.2f, \"seed_readings_s\": %.2f", f[7] - f[6], f[8] - f[7])
        entry = entry sprintf(", \"fastcgi_ceiling_per_s\": %.1f, \"fastcgi_ceiling_spread\": %.3f",
            backend_divisor(b, f[1], "fastcgi"), ceiling_spread("fastcgi", f[1]))
        entry = entry sprintf(", \"fastcgi_keepalive_ceiling_per_s\": %.1f, \"fastcgi_keepalive_ceiling_spread\": %.3f",
            backend_divisor(b, f[1], "keepalive"), ceiling_spread("keepalive", f[1]))
        if (b == "pg") {
            entry = entry sprintf(", \"pgbench_select_per_s\": %.1f, \"pgbench_select_spread\": %.3f",
                backend_divisor(b, f[1], "pgbench"), ceiling_spread("pgbench", f[1]))
            pg_json = pg_json (npg++ ? "," : "") entry "}"
        } else {
            scales_json = scales_json (n++ ? "," : "") entry "}"
            # issue 7's memory target is SQLite's: PostgreSQL's workers are shown, not judged
            if (f[3] > rss_max) { rss_max = f[3]; rss_scale = f[1] }
        }
    }
    out = out "\n  ],\n  \"scales\": [" scales_json "\n  ],\n  \"pg_scales\": [" pg_json "\n  ],\n  \"fleet\": "
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
        printf "\nfleet: no run (%s)\n", fleet_skipped != "" ? fleet_skipped : "build/devsim is not built"
        out = out "null"
    }
    out = out ",\n  \"rollout\": "
    if ((getline line < rollout_file) > 0) {
        split(line, f, "\t")
        printf "\nrollout: %d devsim devices, stages 1, 10, 50, 100%%, each after all before it installed: %s after %.1f s\n",
            f[1], f[3] == "done" ? "100% installed" : f[3], f[2]
        out = out sprintf("{\"devices\": %d, \"seconds\": %s, \"state\": \"%s\"}", f[1], f[2], f[3])
    } else {
        out = out "null"
    }
    print_targets(rss_max, rss_scale)
    print out ",\n  \"targets\": [" targets_json "\n  ]\n}" > json
    printf "\nerrors: responses >= 400 and socket errors; x FastCGI: req/s over the mean of the two\n"
    printf "nginx_fastcgi_hello runs of the same devices column measured just before and after its\n"
    printf "backend's rows; x keep-alive: the same over nginx_fastcgi_keepalive (upstream kept alive);\n"
    printf "x pgbench: PostgreSQL's rows over pgbench -S (pgbench_select) before and after them;\n"
    printf "worker us: CPU time (user + system) of all FastCGI workers over the timed run, per request.\n"
    printf "JSON: %s\n", json
}
