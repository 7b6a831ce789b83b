-- bench/register.lua: registration of known devices (a reboot): POST /api/devices/{id} with the
-- device's address and network, answered 200 with the device.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local headers = {["Content-Type"] = "application/json"}
local body = '{"ipaddr":"192.168.1.20","ssid":"bench"}'

function request()
    return wrk.format("POST", "/api/devices/" .. random_device(), headers, body)
end
