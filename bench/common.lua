-- bench/common.lua: loaded by every wrk script of bench/run.sh: device ids as bench/seed makes
-- them, the thread number, and done(), which prints one tab-separated line of results.
local prefix = os.getenv("BENCH_PREFIX") or "5CCF7F"
local devices = tonumber(os.getenv("BENCH_DEVICES") or "1000")
token = os.getenv("BENCH_TOKEN") or ""

function device_id(n)
    return string.format("%s%06X", prefix, n)
end

-- A device of the first count ones (all of them when count is nil), uniformly at random.
function random_device(count)
    return device_id(math.random(0, (count or devices) - 1))
end

-- Requests made before the run, one per line of this thread's file PREFIX-N.txt (make(line)
-- builds it), sent in turn by request(), past the last the first again.
function requests_from_file(prefix, make)
    local reqs, next_req = {}, 1
    for line in io.lines(prefix .. "-" .. thread_index .. ".txt") do
        reqs[#reqs + 1] = make(line)
    end
    function request()
        local r = reqs[next_req]
        next_req = next_req % #reqs + 1
        return r
    end
end

local threads = {}
function setup(thread)
    thread:set("thread_index", #threads)
    table.insert(threads, thread)
end

function init(args)
    math.randomseed(os.time() * 100 + (thread_index or 0))
    if init_thread then init_thread(args) end
end

-- requests/s, p50 and p99 in ms, responses >= 400, socket errors, requests
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("BENCH\t%.1f\t%.3f\t%.3f\t%d\t%d\t%d\n",
        summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        e.status, e.connect + e.read + e.write + e.timeout, summary.requests))
end
