-- bench/poll304.lua: the conditional poll of a device that holds the current configuration
-- (cfgsn 0 after seeding): If-None-Match "0" answers 304, still a heartbeat.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local headers = {["If-None-Match"] = '"0"'}

function request()
    return wrk.format("GET", "/api/devices/" .. random_device(), headers)
end
