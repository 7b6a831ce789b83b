-- bench/signed.lua: a signing device's heartbeat, GET /api/devices/{id} with its X-Provd-Auth
-- proof (bench/seal proof, made just before the run): thread N polls the devices of
-- BENCH_PROOF_FILES-N.txt in turn. BENCH_IF_NONE_MATCH set: the device holds that configuration
-- (a 304); unset: it asks for it (200, the configuration sealed).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local reqs, next_req = {}, 1

function init_thread()
    local path = os.getenv("BENCH_PROOF_FILES") .. "-" .. thread_index .. ".txt"
    local etag = os.getenv("BENCH_IF_NONE_MATCH")
    for line in io.lines(path) do
        local id, proof = line:match("^(%S+) (%S+)$")
        local headers = {["X-Provd-Auth"] = proof}
        if etag then headers["If-None-Match"] = etag end
        reqs[#reqs + 1] = wrk.format("GET", "/api/devices/" .. id, headers)
    end
end

-- A heartbeat is a read: its proof may be sent again within its window.
function request()
    local r = reqs[next_req]
    next_req = next_req % #reqs + 1
    return r
end
