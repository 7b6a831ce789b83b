#!/bin/sh
# PID 1 of the QEMU guest (tests/integration/ble_qemu.test.mjs): loads Bluetooth, runs btvirt
# with two LE controllers, ble-agent on hci0 and BlueZ's gatttool on hci1, and prints each
# step's output between "=== name" and "=== end" lines for the host to check.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
ip link set lo up

step() { echo "=== $1"; }
end() { echo "=== end"; }
# Runs ble-agent in the foreground and prints its output and exit code.
agent_once() { ble-agent --battery-file /tmp/bat "$@" 2>&1; echo "exit=$?"; }
# Waits up to $2 tenths of a second for the text $1 in file $3.
wait_for() {
	i=0
	while ! grep -q "$1" "$3" 2>/dev/null && [ $i -lt "$2" ]; do sleep 0.1; i=$((i + 1)); done
}
gatt() { timeout 30 gatttool -i hci1 -b "$addr" "$@" 2>&1; }
# What the HTTP endpoint (http-reply.sh) received last: its head and body.
show_request() {
	echo "--- request"
	cat /tmp/http-head
	echo "--- body"
	cat /tmp/http-body
	echo
}

step modules
# Dependencies first (from modinfo; the .deb has no modules.dep).
for m in rfkill ecc ecdh_generic crc16 bluetooth hci_vhci af_alg algif_hash algif_skcipher cmac ecb; do
	insmod "/modules/$m.ko" || echo "insmod $m failed"
done
end

step btvirt
btvirt -L -l2 > /tmp/btvirt.log 2>&1 &
i=0
while [ ! -e /sys/class/bluetooth/hci1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
ls /sys/class/bluetooth
end
echo 80 > /tmp/bat
rfkill_soft=$(echo /sys/class/bluetooth/hci0/rfkill*/soft)

step eperm
su -s /bin/sh nobody -c "ble-agent --adapter hci0 --battery-file /tmp/bat; echo exit=\$?" 2>&1
end

step erfkill
# A soft block ble-agent cannot see through /dev/rfkill: the bind itself fails with ERFKILL.
echo 1 > "$rfkill_soft"
mv /dev/rfkill /dev/rfkill.hidden
agent_once --adapter hci0
mv /dev/rfkill.hidden /dev/rfkill
end

step start
# hci0 up and soft-blocked: ble-agent lifts the block and brings the adapter down itself.
echo 0 > "$rfkill_soft"
hciconfig hci0 up
echo 1 > "$rfkill_soft"
echo "soft=$(cat "$rfkill_soft")"
nc -ll -p 8080 -e /bin/http-reply.sh &
ble-agent --adapter hci0 --name qemu-gw --battery-file /tmp/bat --server http://127.0.0.1:8080 \
	--state-dir /tmp/ble-state > /tmp/agent.log 2>&1 &
agent=$!
wait_for 'advertising as' 100 /tmp/agent.log
cat /tmp/agent.log
echo "soft=$(cat "$rfkill_soft")"
end
addr=$(sed -n 's/.*adapter ready: //p' /tmp/agent.log)

step ebusy
agent_once --adapter hci0
end

hciconfig hci1 up
step primary
gatt --primary
end

step characteristics
gatt --characteristics | tee /tmp/chars
end
value_handle() { sed -n "s/.*char value handle = \(0x[0-9a-f]*\), uuid = $1.*/\1/p" /tmp/chars; }

step name
gatt --char-read --uuid=0x2a00
end

step battery
gatt --char-read --uuid=0x2a19
end

step notify
battery=$(value_handle 00002a19)
# busybox timeout execs gatttool in its own process, so $! is gatttool's pid.
timeout 30 gatttool -i hci1 -b "$addr" --char-write-req -a $(printf '0x%04x' $((battery + 1))) \
	-n 0100 --listen > /tmp/listen 2>&1 &
listener=$!
wait_for 'written successfully' 200 /tmp/listen
echo 55 > /tmp/bat
wait_for 'Notification handle' 50 /tmp/listen
kill -9 $listener
wait $listener
cat /tmp/listen
echo "battery_handle=$battery"
end

step telemetry
# One connection, as a device would use it (Telemetry Result belongs to the connection):
# gatttool's interactive mode, driven through a FIFO, one command after the other's answer.
result=$(value_handle 2c8e0004)
envelope='{"v":2,"nonce":"AAAAAAAAAAAAAAAA","data":"c2VhbGVkIG92ZXIgQkxF"}'
frame=$(printf 'qemu-dev\n%s' "$envelope" | od -An -v -tx1 | tr -d ' \n')
mkfifo /tmp/gatt-in
timeout 60 gatttool -i hci1 -b "$addr" -I < /tmp/gatt-in > /tmp/session 2>&1 &
session=$!
exec 3> /tmp/gatt-in
echo connect >&3
wait_for 'Connection successful' 200 /tmp/session
echo "char-write-req $(printf '0x%04x' $((result + 1))) 0100" >&3
wait_for 'written successfully' 100 /tmp/session
echo "char-write-req $(value_handle 2c8e0003) $frame" >&3
wait_for "Notification handle = $result" 100 /tmp/session
echo "char-read-hnd $result" >&3
wait_for 'Characteristic value/descriptor:' 100 /tmp/session
# SIGKILL, not "exit" or SIGTERM: gatttool 5.66 may corrupt its heap on the way out and hang.
kill -9 $session
wait $session
exec 3>&-
grep -o -e 'written successfully' -e 'Notification handle = .*' \
	-e 'Characteristic value/descriptor: .*' /tmp/session
echo "result_handle=$result"
show_request
end

step leave
# A battery-powered sensor: one write (a long write, gatttool's own choice at MTU 23), then
# gatttool disconnects at once. The frame must still reach the HTTP endpoint.
rm -f /tmp/http-head /tmp/http-body
frame=$(printf 'qemu-leave\n%s' "$envelope" | od -An -v -tx1 | tr -d ' \n')
gatt --char-write-req -a "$(value_handle 2c8e0003)" -n "$frame"
wait_for 'qemu-leave' 100 /tmp/http-head
show_request
end

step stop
kill $agent
wait $agent
echo "exit=$?"
cat /tmp/agent.log
end
poweroff -f
