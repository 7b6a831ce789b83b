-- bench/metrics.lua: Prometheus's scrape, GET /api/metrics (from loopback: METRICS_ALLOW's default).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

function request()
    return wrk.format("GET", "/api/metrics")
end
