-- bench/signed.lua: a signing device's heartbeat, GET /api/devices/{id} with its X-Provd-Auth
-- proof (bench/seal proof, made just before the run): thread N polls the devices of
-- BENCH_PROOF_FILES-N.txt in turn (a heartbeat is a read: its proof may come again within its
-- window). BENCH_IF_NONE_MATCH set: the device holds that configuration (a 304); unset: it asks
-- for it (200, the configuration sealed).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

function init_thread()
    local etag = os.getenv("BENCH_IF_NONE_MATCH")
    requests_from_file(os.getenv("BENCH_PROOF_FILES"), function(line)
        local id, proof = line:match("^(%S+) (%S+)$")
        local headers = {["X-Provd-Auth"] = proof}
        if etag then headers["If-None-Match"] = etag end
        return wrk.format("GET", "/api/devices/" .. id, headers)
    end)
end
