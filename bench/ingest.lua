-- bench/ingest.lua: telemetry ingest, POST /api/devices/{id}/telemetry, of bodies sealed before
-- the run (bench/seal): thread N sends the lines of BENCH_BODY_FILES-N.txt in order, each once.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local reqs, next_req = {}, 1

function init_thread()
    local path = os.getenv("BENCH_BODY_FILES") .. "-" .. thread_index .. ".txt"
    local headers = {["Content-Type"] = "application/json"}
    for line in io.lines(path) do
        local id, body = line:match("^(%S+) (.+)$")
        reqs[#reqs + 1] = wrk.format("POST", "/api/devices/" .. id .. "/telemetry", headers, body)
    end
end

-- Past the last body the first comes again: a replay, refused (409) and counted as an error.
function request()
    local r = reqs[next_req]
    next_req = next_req % #reqs + 1
    return r
end
