-- bench/list.lua: the admin page's first view, GET /api/devices (first page, default size).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local req

function init_thread()
    req = wrk.format("GET", "/api/devices", {["Authorization"] = "Bearer " .. token})
end

function request()
    return req
end
