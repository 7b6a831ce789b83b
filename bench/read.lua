-- bench/read.lua: an admin reads one device's telemetry (newest page, default size), a random
-- one of the BENCH_READ_DEVICES devices that have readings.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local readers = tonumber(os.getenv("BENCH_READ_DEVICES") or "1")
local headers

function init_thread()
    headers = {["Authorization"] = "Bearer " .. token}
end

function request()
    return wrk.format("GET", "/api/devices/" .. random_device(readers) .. "/telemetry", headers)
end
