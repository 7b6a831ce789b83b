// ble-agent against BlueZ's controller emulator: btvirt -s -L serves LE-only controllers on Unix
// sockets; ble-agent takes one (--hci-socket), our test central (build/ble-test/ble-central)
// another, and they meet on btvirt's virtual radio. Also the daemon's refusals, from the outside.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { provctl, startStack, top } from './lib/stack.mjs';

// BLE_BUILD: another build tree (e.g. build/asan), default build/.
const build = path.join(top, process.env.BLE_BUILD ?? 'build');
const agentPath = path.join(build, 'ble-agent');
const centralPath = path.join(build, 'ble-test/ble-central');
const shimPath = path.join(build, 'ble-test/afalg_shim.so');
const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const noBtvirt = !onPath('btvirt') && 'btvirt is not installed (Debian package bluez-test-tools)';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// what: the thing waited for, or a function making it (a log as it is when the wait fails).
async function until(what, check, ms = 15000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(25)) {
    if (check()) return;
  }
  assert.fail(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
}

// btvirt's socket paths are fixed under /tmp: it runs in its own mount namespace with a private
// directory bound over /tmp, so parallel runs do not meet. The shim stands in for AF_ALG; it is
// copied into that directory, since a build tree under /tmp is hidden behind the mount. SIGPIPE
// is ignored (and stays so across exec): btvirt writing to a controller's client just killed
// (-9) would die of it, and every later ble-agent's connection be refused.
async function startEmulator(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ble-emu-'));
  fs.copyFileSync(shimPath, path.join(dir, 'afalg_shim.so'));
  const child = spawn('unshare', ['-rm', 'sh', '-c', 'trap "" PIPE; mount --bind "$0" /tmp && exec btvirt -s -L', dir], {
    env: { ...process.env, LD_PRELOAD: '/tmp/afalg_shim.so' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr.on('data', (d) => { errors += d; });
  t.after(() => { child.kill('SIGTERM'); fs.rmSync(dir, { recursive: true, force: true }); });
  const socket = path.join(dir, 'bt-server-le');
  await until(() => `btvirt's socket (${errors})`, () => fs.existsSync(socket));
  return socket;
}

function tempDir(t, prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Runs ble-agent (its spool in a directory of the test's unless args name one); `log` grows
// with its stderr, `exited` resolves to its exit code.
function startAgent(t, args) {
  const stateDir = args.includes('--state-dir') ? [] : ['--state-dir', tempDir(t, 'ble-state-')];
  const child = spawn(agentPath, [...stateDir, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
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

// A v2 telemetry envelope (AES-GCM, the device id as associated data), sealed as a device would.
function sealV2(reading, keyHex, id) {
  const nonce = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-128-gcm', Buffer.from(keyHex, 'hex'), nonce);
  cipher.setAAD(Buffer.from(id));
  const ct = Buffer.concat([cipher.update(JSON.stringify(reading), 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return JSON.stringify({ v: 2, nonce: nonce.toString('base64'), data: ct.toString('base64') });
}

// A provd stack with open registration and one accepted device holding a key.
async function provdWithDevice(t, key) {
  const stack = await startStack({ env: { PROVD_REGISTRATION: 'open' } });
  t.after(() => stack.stop());
  const id = `ble-${crypto.randomBytes(3).toString('hex')}`;
  assert.equal((await stack.api('POST', `/api/devices/${id}`, { body: {} })).status, 201);
  stack.provctl(['device', 'key', id, '--set'], key);
  return { stack, id };
}

function batteryFile(t, value) {
  const file = path.join(tempDir(t, 'ble-battery-'), 'capacity');
  fs.writeFileSync(file, `${value}\n`);
  return file;
}

test('advertises, connects, serves GATT and forwards telemetry to provd, through btvirt', { skip: noBtvirt }, async (t) => {
  const key = '000102030405060708090a0b0c0d0e0f';
  const [socket, { stack, id }] = await Promise.all([startEmulator(t), provdWithDevice(t, key)]);
  const battery = batteryFile(t, 77);
  const dir = path.dirname(battery);
  const snoop = path.join(dir, 'hci.btsnoop');
  // A real reading, long enough that its frame spans several 192-byte ACL packets; then a
  // well-formed envelope that does not decrypt; then an id that must never reach a URL.
  const reading = { data: { value: 42, temp: 21.5 }, SEQN: 1, msg: 'over BLE '.repeat(12) };
  const frames = { good: `${id}\n${sealV2(reading, key, id)}`,
    bad: `${id}\n${sealV2({ SEQN: 2 }, 'ffffffffffffffffffffffffffffffff', id)}`,
    badId: `../admin\n${sealV2({ SEQN: 3 }, key, id)}` };
  for (const [name, frame] of Object.entries(frames)) fs.writeFileSync(path.join(dir, name), frame);
  assert.ok(frames.good.length > 192 && frames.good.length <= 512, `frame of ${frames.good.length} bytes`);
  const agent = startAgent(t, ['--hci-socket', socket, '--name', 'provd-it', '--battery-file', battery,
    '--btsnoop', snoop, '--server', stack.base]);
  await until(() => `advertising (${agent.log})`, () => agent.log.includes('advertising as "provd-it"'));

  const central = runCentral(socket, 'provd-it', battery,
    Object.keys(frames).flatMap((name) => ['--frame', path.join(dir, name)]));
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
  const [good, bad, badId] = seen.telemetry;
  assert.equal(good.write, 0x13, 'Write Response to a write longer than one ACL packet');
  assert.equal(good.bytes, Buffer.byteLength(frames.good));
  assert.equal(good.notified, good.result, 'the notification carries the whole result at MTU 517');
  const stored = JSON.parse(good.result);
  assert.equal(stored.status, 201, good.result);
  assert.deepEqual(JSON.parse(stored.body), { status: 'OK', seqn: 1 });
  assert.equal(bad.write, 0x13);
  assert.equal(JSON.parse(bad.result).status, 400, bad.result);
  assert.deepEqual(JSON.parse(JSON.parse(bad.result).body), { status: 'NOK', message: 'unreadable telemetry message' });
  assert.equal(badId.write, 0x01, 'an invalid device id is refused in the Write Response');
  assert.equal(badId.errorCode, 0x13, 'Value Not Allowed');
  assert.equal(badId.result, bad.result, 'Telemetry Result still holds the last forward');
  const back = await stack.api('GET', `/api/devices/${id}/telemetry`, { admin: true });
  assert.equal(back.status, 200);
  assert.deepEqual(back.json.map((r) => r.reading), [reading], 'the reading arrived, and only it');
  assert.equal(seen.advertisedGateway, true);
  assert.equal(seen.readvertised, true, 'found advertising again after disconnecting');

  agent.child.kill('SIGTERM');
  assert.equal(await agent.exited, 0, agent.log);
  const envelope = (name) => Buffer.byteLength(frames[name]) - id.length - 1;
  for (const line of ['adapter taken: emulator socket', 'controller: ACL buffers 1 x 192 bytes',
    'connected: ', `forwarded: device ${id}, ${envelope('good')} bytes, HTTP 201`,
    `forwarded: device ${id}, ${envelope('bad')} bytes, HTTP 400`, 'telemetry refused: not "device id',
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

// Store and forward (issue 20): a write response means "this reading will reach provd". One
// emulator and one provd stack for all cases; each case a sensor session of the test central
// (--sensor: write, then disconnect at once). provd is stopped (SIGTERM to the whole stack) for
// 30 s in the SQLite pass (ble-agent's retries back off to their 30 s cap meanwhile), and only as
// long as the middle case takes in the PostgreSQL pass: frames arriving while it is down (across
// a kill -9 of ble-agent too) are all delivered, in order, once it is back.
test('store and forward: acknowledged frames reach provd after a disconnect, provd downtime and kill -9', { skip: noBtvirt }, async (t) => {
  const key = '000102030405060708090a0b0c0d0e0f';
  const [socket, { stack, id }] = await Promise.all([startEmulator(t), provdWithDevice(t, key)]);
  let provd = stack;
  t.after(() => provd.stop());
  const battery = batteryFile(t, 60);
  const dir = path.dirname(battery);
  const frame = (seqn) => {
    const file = path.join(dir, `frame-${seqn}`);
    fs.writeFileSync(file, `${id}\n${sealV2({ data: { value: seqn }, SEQN: seqn }, key, id)}`);
    return file;
  };
  // A sensor session writing these SEQNs; its JSON.
  const sensor = async (seqns, extra = []) => {
    const central = runCentral(socket, 'provd-sf', battery,
      ['--sensor', ...extra, ...seqns.flatMap((n) => ['--frame', frame(n)])]);
    assert.equal(await central.exited, 0, central.err);
    return JSON.parse(central.out);
  };
  const stored = async () => (await provd.api('GET', `/api/devices/${id}/telemetry`, { admin: true })).json
    .map((r) => r.reading.SEQN).sort((a, b) => a - b);
  const count = (log, text) => log.split(text).length - 1;
  const stateDir = tempDir(t, 'ble-state-');
  const agentArgs = ['--hci-socket', socket, '--name', 'provd-sf', '--battery-file', battery,
    '--server', stack.base, '--state-dir', stateDir];

  await t.test('a write then an immediate disconnect: the reading is stored (and the spool is one ble-agent\'s)', async () => {
    const agent = startAgent(t, agentArgs);
    await until(() => `advertising (${agent.log})`, () => agent.log.includes('advertising as "provd-sf"'));
    // One ble-agent per spool: a second would send every frame twice.
    const second = startAgent(t, agentArgs);
    assert.equal(await second.exited, 11, second.log);
    assert.match(second.log, new RegExp(`the spool ${stateDir}/spool.sqlite3 is in use: another ble-agent runs with --state-dir ${stateDir}\n$`));
    const seen = await sensor([1]);
    assert.equal(seen.telemetry[0].write, 0x13, 'Write Response');
    await until(() => `the reading in provd (${agent.log})`, () => agent.log.includes('HTTP 201'));
    assert.deepEqual(await stored(), [1]);
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0, agent.log);
  });

  await t.test('provd down, ble-agent killed (-9) right after a write response: all delivered in order once provd is back', async () => {
    await provd.stop({ keepData: true });
    const down = Date.now();
    let agent = startAgent(t, agentArgs);
    await until(() => `advertising (${agent.log})`, () => agent.log.includes('advertising as "provd-sf"'));
    const first = await sensor([2, 3], ['--peek']);
    assert.deepEqual(first.telemetry.map((w) => w.write), [0x13, 0x13]);
    assert.deepEqual(first.telemetry.map((w) => JSON.parse(w.result)), [{ status: 0, body: 'queued' }, { status: 0, body: 'queued' }]);
    agent.child.kill('SIGKILL');
    await agent.exited;

    agent = startAgent(t, agentArgs);
    await until(() => `advertising (${agent.log})`, () => agent.log.includes('advertising as "provd-sf"'));
    assert.match(agent.log, /spool: 2 frames \(\d+ bytes\) to forward from an earlier run/);
    assert.equal((await sensor([4])).telemetry[0].write, 0x13);
    // Retried while provd is away: a second attempt for the device was made and failed too.
    const failed = `forward failed: device ${id}: could not reach provd: `;
    await until(() => `two failed attempts (${agent.log})`, () => count(agent.log, failed) >= 2);
    if (!process.env.PROVD_TEST_PG) await sleep(Math.max(0, down + 30000 - Date.now()));

    provd = await startStack({ dataDir: stack.dataDir, port: stack.port, env: { PROVD_REGISTRATION: 'open' } });
    await until(() => `frames 2 to 4 in provd (${agent.log})`, () => count(agent.log, 'HTTP 201') === 3, 45000);
    assert.deepEqual(await stored(), [1, 2, 3, 4], 'every reading, none refused as a replay');
    assert.doesNotMatch(agent.log, /HTTP 409/);
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0, agent.log);
  });

  await t.test('a full spool refuses the write with Insufficient Resources; its figures for Prometheus', async () => {
    // A provd nobody answers at, so the first frame stays; a spool of one frame.
    const metricsFile = path.join(tempDir(t, 'ble-metrics-'), 'ble-agent.prom');
    const agent = startAgent(t, ['--hci-socket', socket, '--name', 'provd-sf', '--battery-file', battery,
      '--server', 'http://127.0.0.1:1', '--spool-max', '512,1', '--metrics-file', metricsFile]);
    await until(() => `advertising (${agent.log})`, () => agent.log.includes('advertising as "provd-sf"'));
    const seen = await sensor([5, 6], ['--peek']);
    assert.equal(seen.telemetry[0].write, 0x13);
    assert.deepEqual(JSON.parse(seen.telemetry[0].result), { status: 0, body: 'queued' });
    assert.equal(seen.telemetry[1].write, 0x01, 'an ATT Error Response');
    assert.equal(seen.telemetry[1].errorCode, 0x11, 'Insufficient Resources');
    assert.deepEqual(JSON.parse(seen.telemetry[1].result), { status: 0, body: 'queued' },
      'the refused write changed nothing: the result is still the first frame\'s');
    assert.match(agent.log, /telemetry refused: the spool is full \(1 frames, \d+ bytes; --spool-max 512,1\)/);
    const figures = () => { try { return fs.readFileSync(metricsFile, 'utf8'); } catch { return ''; } };
    await until('the spool\'s frame in --metrics-file', () => /^provd_ble_spool_frames 1$/m.test(figures()));
    assert.match(figures(), /^provd_ble_spool_limit_frames 1$/m);
    assert.match(figures(), /^provd_ble_spool_limit_bytes 512$/m);
    assert.match(figures(), /^provd_ble_spool_bytes [1-9]\d*$/m);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: figures(), encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0, agent.log);
  });
});

test('an idle peer is disconnected after --idle-timeout', { skip: noBtvirt }, async (t) => {
  const socket = await startEmulator(t);
  const battery = batteryFile(t, 50);
  const agent = startAgent(t, ['--hci-socket', socket, '--name', 'provd-idle', '--battery-file', battery,
    '--idle-timeout', '1']);
  await until(() => `advertising (${agent.log})`, () => agent.log.includes('advertising as "provd-idle"'));
  // A sensor session without frames, then --hold: connected, asking nothing.
  const central = runCentral(socket, 'provd-idle', battery, ['--sensor', '--hold']);
  assert.equal(await central.exited, 0, central.err);
  const reason = JSON.parse(central.out.trim().split('\n')[1]).disconnectReason;
  assert.equal(reason, 0x13, 'Remote User Terminated Connection');
  assert.match(agent.log, /idle: handle 0x[0-9a-f]+ sent no ATT request for 1000 ms: disconnecting\n/);
});

// One link only: btvirt 5.66 gives a peripheral's second LE link the handle of its first (0x002a),
// so two simultaneous connections are covered by the unit tests (test_ble_hci_host) instead.
test('SIGTERM disconnects a connected peer and exits 0', { skip: noBtvirt }, async (t) => {
  const socket = await startEmulator(t);
  const battery = batteryFile(t, 50);
  // A name too long for the scan response, whose Device Name answer spans two ACL packets.
  const name = `provd-stop-${'n'.repeat(189)}`;
  const agent = startAgent(t, ['--hci-socket', socket, '--name', name, '--battery-file', battery]);
  await until(() => `advertising (${agent.log})`, () => agent.log.includes(`advertising as "${name}"`));
  const central = runCentral(socket, name, battery, ['--hold']);
  await until(() => `the central's ATT session (${central.err})`, () => central.out.includes('\n'));
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

test('--help, and bad --adapter, --name, --server, --spool-max or --idle-timeout values are usage errors', () => {
  const help = spawnSync(agentPath, ['--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  for (const opt of ['--adapter', '--hci-socket', '--name', '--battery-file', '--btsnoop', '--server',
    '--state-dir', '--spool-max', '--idle-timeout', '--metrics-file']) {
    assert.ok(help.stdout.includes(opt), opt);
  }
  const bad = spawnSync(agentPath, ['--adapter', 'wlan0'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'ble-agent: --adapter wants a name like hci0, not "wlan0"\n');
  const long = spawnSync(agentPath, ['--name', 'x'.repeat(249)], { encoding: 'utf8' });
  assert.equal(long.status, 2);
  assert.equal(long.stderr, 'ble-agent: --name wants 1 to 248 bytes\n');
  for (const url of ['ftp://provd', '127.0.0.1:8080', 'http://a b', `http://${'h'.repeat(250)}`]) {
    const server = spawnSync(agentPath, ['--server', url], { encoding: 'utf8' });
    assert.equal(server.status, 2, url);
    assert.equal(server.stderr,
      'ble-agent: --server wants an http:// or https:// URL of at most 256 characters, without spaces\n');
  }
  for (const max of ['1K', '100,5', '1G,5', '4K,0', '4K,x']) {
    const spool = spawnSync(agentPath, ['--spool-max', max], { encoding: 'utf8' });
    assert.equal(spool.status, 2, max);
    assert.equal(spool.stderr, 'ble-agent: --spool-max wants BYTES,FRAMES: 512 to 1073741824 bytes '
      + '(K and M allowed) and 1 to 1000000 frames\n');
  }
  for (const idle of ['0', '3601', '1.5', '']) {
    const r = spawnSync(agentPath, ['--idle-timeout', idle], { encoding: 'utf8' });
    assert.equal(r.status, 2, idle);
    assert.equal(r.stderr, 'ble-agent: --idle-timeout wants whole seconds from 1 to 3600\n');
  }
});

test('a state directory it cannot use: exit 11, saying why', async (t) => {
  const dir = tempDir(t, 'ble-nostate-');
  const socket = path.join(dir, 'h4');
  const server = net.createServer();
  server.listen(socket);
  await once(server, 'listening');
  t.after(() => server.close());
  fs.writeFileSync(path.join(dir, 'file'), '');
  const agent = startAgent(t, ['--hci-socket', socket, '--state-dir', path.join(dir, 'file/state')]);
  assert.equal(await agent.exited, 11, agent.log);
  assert.equal(agent.log, `ble-agent: adapter taken: emulator socket ${socket}\n`
    + `ble-agent: cannot make the state directory ${dir}/file/state: Not a directory\n`);
});

test('make install puts ble-agent and a unit systemd accepts in place', (t) => {
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'ble-install-'));
  t.after(() => fs.rmSync(dest, { recursive: true, force: true }));
  execFileSync('scripts/install.sh', [dest, '/usr'], { cwd: top, stdio: 'pipe' });
  const agent = path.join(dest, 'usr/bin/ble-agent');
  assert.equal(spawnSync(agent, ['--help']).status, 0);
  const unit = fs.readFileSync(path.join(dest, 'lib/systemd/system/ble-agent.service'), 'utf8');
  assert.match(unit, /^ExecStart=\/usr\/bin\/ble-agent \$BLE_AGENT_OPTS$/m);
  assert.match(unit, /^Conflicts=bluetooth\.service$/m);
  assert.match(unit, /^CapabilityBoundingSet=CAP_NET_ADMIN$/m);
  assert.match(unit, /^StateDirectory=ble-agent$/m, 'the spool\'s directory, writable under ProtectSystem=strict');
  assert.doesNotMatch(unit, /@[A-Z_]+@/);
  // systemd-analyze checks every setting and that ExecStart names an executable.
  const copy = path.join(dest, 'ble-agent.service');
  fs.writeFileSync(copy, unit.replace('ExecStart=/usr/bin/', `ExecStart=${dest}/usr/bin/`));
  const verify = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
  assert.equal(verify.status, 0, verify.stderr);
  assert.equal(verify.stderr, '');
});
