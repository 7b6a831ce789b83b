-- bench/ota.lua: an ESP8266 Arduino update client's check, GET /api/ota, with the headers its
-- ESPhttpUpdate sends, for a device uniformly random over all seeded ids (its STA MAC). No
-- x-ESP8266-version: a sketch that names none; one naming the version it last reported is the
-- same read.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

function request()
    local id = random_device()
    local mac = id:gsub("(%x%x)", "%1:"):sub(1, 17)
    return wrk.format("GET", "/api/ota", {
        ["User-Agent"] = "ESP8266-http-Update",
        ["x-ESP8266-Chip-ID"] = "1234567",
        ["x-ESP8266-STA-MAC"] = mac,
        ["x-ESP8266-AP-MAC"] = mac,
        ["x-ESP8266-free-space"] = "2842624",
        ["x-ESP8266-sketch-size"] = "302864",
        ["x-ESP8266-sketch-md5"] = "0123456789abcdef0123456789abcdef",
        ["x-ESP8266-chip-size"] = "4194304",
        ["x-ESP8266-sdk-version"] = "2.2.2-dev(38a443e)",
        ["x-ESP8266-mode"] = "sketch",
    })
end
