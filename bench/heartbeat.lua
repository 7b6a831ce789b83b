-- bench/heartbeat.lua: a device's heartbeat poll, GET /api/devices/{id}, over all seeded ids.
-- Also the request of both ceilings, so the client does the same work in every comparison.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

function request()
    return wrk.format("GET", "/api/devices/" .. random_device())
end
