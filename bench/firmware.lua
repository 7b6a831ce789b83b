-- bench/firmware.lua: one path, BENCH_PATH, over and over: a device's firmware image
-- (firmware_download) or the same bytes as a static file of the site (firmware_static).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local path = os.getenv("BENCH_PATH")

function request()
    return wrk.format("GET", path)
end
