-- bench/ingest.lua: telemetry ingest, POST /api/devices/{id}/telemetry, of bodies sealed before
-- the run (bench/seal): thread N sends the lines of BENCH_BODY_FILES-N.txt in order, each once.
-- Past the last body the first comes again: a replay, refused (409) and counted as an error.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

function init_thread()
    local headers = {["Content-Type"] = "application/json"}
    requests_from_file(os.getenv("BENCH_BODY_FILES"), function(line)
        local id, body = line:match("^(%S+) (.+)$")
        return wrk.format("POST", "/api/devices/" .. id .. "/telemetry", headers, body)
    end)
end
