// ble-agent against BlueZ's controller emulator: btvirt -s -L serves LE-only controllers on Unix
// sockets; ble-agent takes one (--hci-socket), our test central (build/ble-test/ble-central)
// another, and they meet on btvirt's virtual radio. Also the daemon's refusals, from the outside.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { top } from './lib/stack.mjs';

// BLE_BUILD: another build tree (e.g. build/asan), default build/.
const build = path.join(top, process.env.BLE_BUILD ?? 'build');
const agentPath = path.join(build, 'ble-agent');
const centralPath = path.join(build, 'ble-test/ble-central');
const shimPath = path.join(build, 'ble-test/afalg_shim.so');
const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const noBtvirt = !onPath('btvirt') && 'btvirt is not installed (Debian package bluez-test-tools)';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what, check, ms = 5000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(25)) {
    if (check()) return;
  }
  assert.fail(`timed out waiting for ${what}`);
}

// btvirt's socket paths are fixed under /tmp: it runs in its own mount namespace with a private
// directory bound over /tmp, so parallel runs do not meet. The shim stands in for AF_ALG; it is
// copied into that directory, since a build tree under /tmp is hidden behind the mount.
async function startEmulator(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ble-emu-'));
  fs.copyFileSync(shimPath, path.join(dir, 'afalg_shim.so'));
  const child = spawn('unshare', ['-rm', 'sh', '-c', 'mount --bind "$0" /tmp && exec btvirt -s -L', dir], {
    env: { ...process.env, LD_PRELOAD: '/tmp/afalg_shim.so' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr.on('data', (d) => { errors += d; });
  t.after(() => { child.kill('SIGTERM'); fs.rmSync(dir, { recursive: true, force: true }); });
  const socket = path.join(dir, 'bt-server-le');
  await until(`btvirt's socket (${errors})`, () => fs.existsSync(socket));
  return socket;
}

// Runs ble-agent; `log` grows with its stderr, `exited` resolves to its exit code.
function startAgent(t, args) {
  const child = spawn(agentPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const agent = { child, log: '' };
  child.stderr.on('data', (d) => { agent.log += d; });
  agent.exited = once(child, 'exit').then(([code]) => code);
  t.after(() => child.kill('SIGKILL'));
  return agent;
}

function runCentral(socket, name, batteryFile, extra = []) {
  const child = spawn(centralPath, [socket, name, batteryFile, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const run = { child, out: '', err: '' };
  child.stdout.on('data', (d) => { run.out += d; });
  child.stderr.on('data', (d) => { run.err += d; });
  run.exited = once(child, 'exit').then(([code]) => code);
  return run;
}

function batteryFile(t, value) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ble-battery-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'capacity');
  fs.writeFileSync(file, `${value}\n`);
  return file;
}

test('advertises, connects and serves GATT to a test central through btvirt', { skip: noBtvirt }, async (t) => {
  const socket = await startEmulator(t);
  const battery = batteryFile(t, 77);
  const snoop = path.join(path.dirname(battery), 'hci.btsnoop');
  const agent = startAgent(t, ['--hci-socket', socket, '--name', 'provd-it', '--battery-file', battery, '--btsnoop', snoop]);
  await until('advertising', () => agent.log.includes('advertising as "provd-it"'));

  const central = runCentral(socket, 'provd-it', battery);
  assert.equal(await central.exited, 0, central.err);
  const seen = JSON.parse(central.out);
  assert.equal(seen.mtu, 517);
  assert.equal(seen.advNameComplete, true);
  assert.deepEqual(seen.services.map((s) => s.uuid),
    ['1800', '1801', '180f', '180a', '2c8e0001d2334303b2c587adc4ee163f']);
  assert.equal(seen.deviceName, 'provd-it');
  assert.equal(seen.battery, 77);
  assert.equal(seen.batteryWritten, 33);
  assert.equal(seen.batteryNotified, 33, 'the battery file changed to 33 while subscribed');
  assert.equal(seen.telemetryWrite, 0x13, 'Write Response to a write longer than one ACL packet');
  assert.equal(JSON.parse(seen.telemetryResult).status, 501);
  assert.equal(seen.advertisedGateway, true);
  assert.equal(seen.readvertised, true, 'found advertising again after disconnecting');

  agent.child.kill('SIGTERM');
  assert.equal(await agent.exited, 0, agent.log);
  for (const line of ['adapter taken: emulator socket', 'controller: ACL buffers 1 x 192 bytes',
    'connected: ', `telemetry received for device dev-1: ${seen.telemetryBytes - 6} bytes`,
    'disconnected: handle', 'adapter released']) {
    assert.ok(agent.log.includes(line), `log has "${line}":\n${agent.log}`);
  }

  // The capture decodes without malformed packets and shows both sides of the session.
  assert.ok(onPath('tshark'), 'tshark is needed to check the btsnoop capture (Debian package tshark)');
  const decoded = spawnSync('tshark', ['-r', snoop], { encoding: 'utf8' });
  assert.equal(decoded.status, 0, decoded.stderr);
  for (const what of ['Sent Reset', 'LE Connection Complete', 'Exchange MTU Request', 'Read By Group Type Response',
    'Handle Value Notification', 'Number of Completed Packets', 'Disconnect Complete']) {
    assert.ok(decoded.stdout.includes(what), `capture shows "${what}"`);
  }
  assert.doesNotMatch(decoded.stdout, /Malformed/);
});

// One link only: btvirt 5.66 gives a peripheral's second LE link the handle of its first (0x002a),
// so two simultaneous connections are covered by the unit tests (test_ble_hci_host) instead.
test('SIGTERM disconnects a connected peer and exits 0', { skip: noBtvirt }, async (t) => {
  const socket = await startEmulator(t);
  const battery = batteryFile(t, 50);
  // A name too long for the scan response, whose Device Name answer spans two ACL packets.
  const name = `provd-stop-${'n'.repeat(189)}`;
  const agent = startAgent(t, ['--hci-socket', socket, '--name', name, '--battery-file', battery]);
  await until('advertising', () => agent.log.includes(`advertising as "${name}"`));
  const central = runCentral(socket, name, battery, ['--hold']);
  await until(`the central's ATT session (${central.err})`, () => central.out.includes('\n'));
  const seen = JSON.parse(central.out);
  assert.equal(seen.advNameComplete, false, 'shortened name in the scan response');
  assert.equal(seen.deviceName, name);
  assert.equal(seen.batteryNotified, 33);

  agent.child.kill('SIGTERM');
  assert.equal(await agent.exited, 0, agent.log);
  assert.equal(await central.exited, 0, central.err);
  const reason = JSON.parse(central.out.trim().split('\n')[1]).disconnectReason;
  assert.equal(reason, 0x15, 'Remote Device Terminated Connection due to Power Off');
  const stopping = agent.log.indexOf('stopping: advertising off, disconnecting 1 peer(s)');
  assert.ok(stopping >= 0, agent.log);
  assert.ok(agent.log.indexOf('disconnected: handle', stopping) > stopping, agent.log);
  assert.ok(agent.log.endsWith('adapter released\n'), agent.log);
});

test('a controller that never answers: the timed-out command is named, exit 10', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ble-mute-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'h4');
  const received = [];
  const server = net.createServer((conn) => conn.on('data', (d) => received.push(d)));
  server.listen(socket);
  await once(server, 'listening');
  t.after(() => server.close());

  const started = Date.now();
  const agent = startAgent(t, ['--hci-socket', socket, '--battery-file', '/nonexistent']);
  assert.equal(await agent.exited, 10, agent.log);
  assert.ok(Date.now() - started < 6000);
  assert.match(agent.log, /HCI command Reset \(0x0c03\) timed out after 3000 ms/);
  assert.deepEqual([...Buffer.concat(received)], [0x01, 0x03, 0x0c, 0x00], 'one Reset, nothing after it');
});

test('without Bluetooth in the kernel, --adapter fails in one line, never hangs', async (t) => {
  const agent = startAgent(t, ['--adapter', 'hci0', '--battery-file', '/nonexistent']);
  const code = await Promise.race([agent.exited, sleep(5000).then(() => 'hung')]);
  assert.notEqual(code, 'hung');
  // On this project's machines: no AF_BLUETOOTH (exit 9). Elsewhere: another distinct code.
  assert.ok(code >= 3 && code <= 10, `exit code ${code}`);
  assert.equal(agent.log.trim().split('\n').length, 1, agent.log);
  if (code === 9) assert.match(agent.log, /^ble-agent: this kernel has no Bluetooth support/);
});

test('--help, and bad --adapter or --name values are usage errors', () => {
  const help = spawnSync(agentPath, ['--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  for (const opt of ['--adapter', '--hci-socket', '--name', '--battery-file', '--btsnoop']) {
    assert.ok(help.stdout.includes(opt), opt);
  }
  const bad = spawnSync(agentPath, ['--adapter', 'wlan0'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'ble-agent: --adapter wants a name like hci0, not "wlan0"\n');
  const long = spawnSync(agentPath, ['--name', 'x'.repeat(249)], { encoding: 'utf8' });
  assert.equal(long.status, 2);
  assert.equal(long.stderr, 'ble-agent: --name wants 1 to 248 bytes\n');
});
