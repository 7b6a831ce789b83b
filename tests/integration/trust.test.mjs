// Device trust through real nginx + provd, as an attacker would try it: keyed devices sign their
// calls (proofs made here with node:crypto), forged, stale, replayed, wrong-device and truncated
// proofs and downgrades get one 401 and change nothing, an unsigned caller learns nothing an admin
// sees, configurations travel sealed, and a SEQN reset starts an epoch that v2 binds. One stack
// with PROVD_DEVICE_AUTH=optional (the default) and one with required.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { now, openSealed, proof, signedCall } from './lib/device.mjs';
import { devsim } from './lib/devsim.mjs';
import { v2 } from './lib/seal.mjs';
import { startStack } from './lib/stack.mjs';
import { until } from './lib/wait.mjs';

const FLEET_KEY = crypto.randomBytes(16).toString('hex');
const REFUSED = '{"status":"NOK","message":"device authentication failed"}';
let optional;
let required;
let serial = 0;

before(async () => {
  const started = await Promise.allSettled([
    startStack({ env: { PROVD_FLEET_KEY: FLEET_KEY } }),
    startStack({ env: { PROVD_DEVICE_AUTH: 'required', PROVD_POLL_INTERVAL: '5' } }),
  ]);
  [optional, required] = started.map((r) => r.value); // after() stops whichever started
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
});
after(async () => { await Promise.all([optional?.stop(), required?.stop()]); });

const freshId = () => `trust${++serial}-${crypto.randomBytes(3).toString('hex')}`;

// A device an admin made, with a key of its own: { id, key }.
async function keyedDevice(stack, data = { led: 'on' }) {
  const id = freshId();
  assert.equal((await stack.api('PUT', `/api/devices/${id}`, { admin: true, body: { data } })).status, 201);
  const r = await stack.api('POST', `/api/devices/${id}/key`, { admin: true });
  assert.equal(r.status, 201);
  return { id, key: r.json.key };
}

const adminView = async (stack, id) => (await stack.api('GET', `/api/devices/${id}`, { admin: true })).json;
const stored = async (stack, id) => (await stack.api('GET', `/api/devices/${id}/telemetry`, { admin: true })).json.length;

// v1 key+IV (crypto-js's format) with Node's AES-CBC.
function v1(json, keyHex) {
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv('aes-128-cbc', Buffer.from(keyHex, 'hex'), iv);
  return { iv: iv.toString('base64'), data: Buffer.concat([cipher.update(json), cipher.final()]).toString('base64') };
}

function assertRefused(r, what) {
  assert.equal(`${r.status} ${r.text}`, `401 ${REFUSED}`, what);
  assert.match(r.headers.get('x-provd-time') ?? '', /^\d+$/, `${what}: the server's clock comes with the 401`);
}

describe('signed calls of a keyed device', () => {
  it('registers and polls with proofs, learning the time from a 401 first; the configuration comes sealed', async () => {
    const { id, key } = await keyedDevice(optional, { wifi: 'secret-psk', period: 5 });
    const target = `/api/devices/${id}`;
    // An ESP8266 has no clock: its first proof carries t=0, the 401 tells it the server's time.
    let r = await signedCall(optional, key, 'POST', target, { body: { ipaddr: '10.1.1.1', ssid: 'lab' }, t: 0 });
    assertRefused(r, 't=0');
    const t = Number(r.headers.get('x-provd-time'));
    r = await signedCall(optional, key, 'POST', target, { body: { ipaddr: '10.1.1.1', ssid: 'lab' }, t });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json).sort(), ['cfgsn', 'datec', 'deviceid', 'message', 'name', 'poll_interval', 'status']);
    assert.match(r.headers.get('x-provd-time'), /^\d+$/);

    r = await signedCall(optional, key, 'GET', `${target}?cfgsn=0`, { t });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json).sort(), ['cfgsn', 'sealed']);
    assert.equal(r.json.cfgsn, 0);
    assert.doesNotMatch(r.text, /secret-psk/, 'the configuration is not readable on the wire');
    assert.deepEqual(openSealed(key, id, 0, r.json.sealed), { cfgsn: 0, data: { wifi: 'secret-psk', period: 5 }, poll_interval: 60, epoch: 0 });
    assert.throws(() => openSealed(key, id, 1, r.json.sealed), 'bound to its cfgsn');
    assert.throws(() => openSealed(key, 'someone-else', 0, r.json.sealed), 'bound to its device');

    r = await signedCall(optional, key, 'GET', `${target}?cfgsn=0`, { t, headers: { 'If-None-Match': '"0"' } });
    assert.equal(r.status, 304);
    assert.match(r.headers.get('x-provd-time'), /^\d+$/);
    const seen = await adminView(optional, id);
    assert.equal(seen.ipaddr, '10.1.1.1');
    assert.equal(seen.cfgsn_applied, 0);
    assert.equal(seen.signs, true);
    assert.equal(seen.envelope, null);
  });

  it('forged, stale, future, wrong-device, truncated and malformed proofs: one 401, nothing changed', async () => {
    const a = await keyedDevice(optional);
    const b = await keyedDevice(optional);
    const body = JSON.stringify({ ipaddr: '10.6.6.6', ssid: 'evil' });
    const target = `/api/devices/${a.id}`;
    const good = proof(a.key, 'POST', target, body, now());
    const flip = good.slice(0, -1) + (good.endsWith('0') ? '1' : '0');
    const attempts = {
      'no proof': null,
      forged: flip,
      'stale (5 minutes old)': proof(a.key, 'POST', target, body, now() - 300),
      'from the future': proof(a.key, 'POST', target, body, now() + 300),
      "another device's key": proof(b.key, 'POST', target, body, now()),
      'a proof for another path': proof(a.key, 'POST', `/api/devices/${b.id}`, body, now()),
      'a proof for another method': proof(a.key, 'GET', target, body, now()),
      'a proof for another body': proof(a.key, 'POST', target, '{}', now()),
      'the proof truncated': good.slice(0, -2),
      'the proof upper-cased': good.toUpperCase(),
      'version 2': `2${good.slice(1)}`,
      garbage: 'x',
    };
    for (const [what, header] of Object.entries(attempts)) {
      const headers = { 'Content-Type': 'application/json', ...(header ? { 'X-Provd-Auth': header } : {}) };
      assertRefused(await optional.api('POST', target, { body, headers }), what);
      assertRefused(await optional.api('GET', target, { headers }), `${what} (heartbeat)`);
      assertRefused(await optional.api('GET', target, { headers: { ...headers, 'If-None-Match': '"0"' } }),
        `${what} (heartbeat holding its configuration)`);
    }
    // The body cut short under a proof for the whole of it.
    assertRefused(await optional.api('POST', target, { body: body.slice(0, -3), headers: { 'X-Provd-Auth': good } }), 'truncated body');
    const seen = await adminView(optional, a.id);
    assert.equal(seen.ipaddr, '');
    assert.equal(seen.lastseen, null, 'not even seen');
    assert.equal(seen.signs, false);
    assert.doesNotMatch(optional.logs(), new RegExp(good.slice(-64)), 'no proof in the log');
  });

  it('a replayed registration is refused, also when sent many times at once; a heartbeat stays a read', async () => {
    const { id, key } = await keyedDevice(optional);
    const target = `/api/devices/${id}`;
    const body = JSON.stringify({ ipaddr: '10.2.2.2', ssid: 'one' });
    const header = proof(key, 'POST', target, body, now());
    const send = () => optional.api('POST', target, { body, headers: { 'Content-Type': 'application/json', 'X-Provd-Auth': header } });
    const statuses = (await Promise.all(Array.from({ length: 6 }, send))).map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 401, 401, 401, 401, 401], 'one proof changes state once');
    assertRefused(await send(), 'a later replay');
    // A later registration needs a later t.
    const moved = JSON.stringify({ ipaddr: '10.2.2.3', ssid: 'two' });
    const later = (t) => optional.api('POST', target, { body: moved, headers: { 'Content-Type': 'application/json', 'X-Provd-Auth': proof(key, 'POST', target, moved, t) } });
    assertRefused(await later(now() - 60), 'an older t than the last registration');
    assert.equal((await adminView(optional, id)).ipaddr, '10.2.2.2');
    // A heartbeat writes nothing to remember proofs: within the window its proof is a read again.
    const poll = proof(key, 'GET', target, '', now());
    for (let i = 0; i < 2; i++) assert.equal((await optional.api('GET', target, { headers: { 'X-Provd-Auth': poll } })).status, 200);
    // The same for the heartbeat holding its configuration (proved against the read that serves it).
    const held = { 'X-Provd-Auth': poll, 'If-None-Match': `"${(await adminView(optional, id)).cfgsn}"` };
    for (let i = 0; i < 2; i++) assert.equal((await optional.api('GET', target, { headers: held })).status, 304);
    await until('the proved heartbeats recorded', async () => (await adminView(optional, id)).lastseen !== null);
    const ghost = `/api/devices/${id}-none`;
    assertRefused(await optional.api('GET', ghost, { headers: { 'X-Provd-Auth': proof(key, 'GET', ghost, '', now()), 'If-None-Match': '"0"' } }),
      'an unknown device\'s heartbeat');
  });

  it('unsigned calls for a keyed device are refused and change nothing', async () => {
    const { id } = await keyedDevice(optional);
    assertRefused(await optional.api('POST', `/api/devices/${id}`, { body: { ipaddr: '10.3.3.3' } }), 'registration');
    assertRefused(await optional.api('GET', `/api/devices/${id}?cfgsn=7`), 'heartbeat');
    assertRefused(await optional.api('GET', `/api/devices/${id}?fw=9.9`, { headers: { 'If-None-Match': '"0"' } }),
      'heartbeat holding its configuration');
    const seen = await adminView(optional, id);
    assert.equal(seen.ipaddr, '');
    assert.equal(seen.cfgsn_applied, null);
    assert.equal(seen.lastseen, null);
    assert.equal(seen.firmware_running, null);
  });
});

describe('downgrades', () => {
  it('once a device has signed (with the fleet key), its unsigned calls are refused', async () => {
    const id = freshId();
    assert.equal((await optional.api('POST', `/api/devices/${id}`, { body: {} })).status, 201);
    assert.equal((await optional.api('GET', `/api/devices/${id}`)).status, 200, 'unsigned until it signs');
    assert.equal((await signedCall(optional, FLEET_KEY, 'GET', `/api/devices/${id}`)).status, 200);
    assert.equal((await adminView(optional, id)).signs, true);
    assertRefused(await optional.api('GET', `/api/devices/${id}`), 'unsigned heartbeat after signing');
    assertRefused(await optional.api('POST', `/api/devices/${id}`, { body: {} }), 'unsigned registration after signing');
  });

  it('telemetry: v1 needs the proof once the device signs, v2 is its own proof, and v1 after v2 is refused', async () => {
    const { id, key } = await keyedDevice(optional);
    const path = `/api/devices/${id}/telemetry`;
    const reading = (seqn) => JSON.stringify({ SEQN: seqn });
    assert.equal((await signedCall(optional, key, 'POST', `/api/devices/${id}`, { body: {} })).status, 200);
    assertRefused(await optional.api('POST', path, { body: v1(reading(1), key) }), 'unsigned v1 of a signing device');
    let r = await signedCall(optional, key, 'POST', path, { body: v1(reading(2), key) });
    assert.equal(r.status, 201, r.text);
    assert.equal((await adminView(optional, id)).envelope, 'v1');
    r = await optional.api('POST', path, { body: v2(reading(3), key, id) });
    assert.equal(r.status, 201, r.text);
    assert.equal((await adminView(optional, id)).envelope, 'v2');
    assertRefused(await signedCall(optional, key, 'POST', path, { body: v1(reading(4), key) }), 'v1 after v2, even signed');
    assert.equal(await stored(optional, id), 2);
  });

  it('a replayed signed reading is refused by its SEQN and stored once', async () => {
    const { id, key } = await keyedDevice(optional);
    const path = `/api/devices/${id}/telemetry`;
    const body = JSON.stringify(v1(JSON.stringify({ SEQN: 9 }), key));
    const headers = { 'Content-Type': 'application/json', 'X-Provd-Auth': proof(key, 'POST', path, body, now()) };
    assert.equal((await optional.api('POST', path, { body, headers })).status, 201);
    assert.equal((await optional.api('POST', path, { body, headers })).status, 409);
    assert.equal(await stored(optional, id), 1);
  });
});

describe('what an unsigned caller learns', () => {
  it('an unkeyed device keeps the original protocol; its re-registration is told no more than it needs', async () => {
    const id = freshId();
    let r = await optional.api('POST', `/api/devices/${id}`, { body: { ipaddr: '10.4.4.4', ssid: 'home' } });
    assert.equal(r.status, 201);
    assert.deepEqual(r.json, { status: 'OK', message: 'Device Registered' });
    await optional.api('PUT', `/api/devices/${id}`, { admin: true, body: { name: 'porch', data: { led: 'off' } } });
    r = await optional.api('POST', `/api/devices/${id}`, { body: { ipaddr: '10.4.4.5', ssid: 'home' } });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.json).sort(), ['cfgsn', 'datec', 'deviceid', 'message', 'name', 'poll_interval', 'status']);
    assert.equal(r.json.name, 'porch');
    assert.match(r.json.datec, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    r = await optional.api('GET', `/api/devices/${id}`);
    assert.deepEqual(r.json, { cfgsn: 1, data: { led: 'off' }, poll_interval: 60 });
    assert.equal(r.headers.get('x-provd-time'), null, 'the original answer, unchanged');
  });
});

describe('SEQN epochs', () => {
  it('after seqn_reset, v2 recorded before it is refused; the new epoch comes in the sealed configuration', async () => {
    const { id, key } = await keyedDevice(optional);
    const path = `/api/devices/${id}/telemetry`;
    const recorded = v2(JSON.stringify({ SEQN: 5 }), key, id);
    assert.equal((await optional.api('POST', path, { body: recorded })).status, 201);
    assert.equal((await optional.api('PUT', `/api/devices/${id}`, { admin: true, body: { seqn_reset: true } })).status, 200);
    assert.equal((await optional.api('POST', path, { body: recorded })).status, 400, 'the recording does not open in epoch 1');
    const r = await signedCall(optional, key, 'GET', `/api/devices/${id}`);
    assert.equal(openSealed(key, id, r.json.cfgsn, r.json.sealed).epoch, 1);
    assert.equal((await optional.api('POST', path, { body: v2(JSON.stringify({ SEQN: 1 }), key, id, 1) })).status, 201);
    assert.equal(await stored(optional, id), 2);
  });
});

describe('PROVD_DEVICE_AUTH=required', () => {
  it('unsigned device calls are refused; an admin-made keyed device signs; v2 is its own proof', async () => {
    const stranger = freshId();
    assertRefused(await required.api('POST', `/api/devices/${stranger}`, { body: {} }), 'unsigned registration of a new device');
    assertRefused(await required.api('GET', `/api/devices/${stranger}`), 'unsigned heartbeat of an unknown device');
    assert.equal((await required.api('GET', `/api/devices/${stranger}`, { admin: true })).status, 404, 'no device made');
    const { id, key } = await keyedDevice(required);
    assert.equal((await signedCall(required, key, 'POST', `/api/devices/${id}`, { body: { ipaddr: '10.5.5.5' } })).status, 200);
    assert.equal((await signedCall(required, key, 'GET', `/api/devices/${id}`)).status, 200);
    const path = `/api/devices/${id}/telemetry`;
    assertRefused(await required.api('POST', path, { body: v1(JSON.stringify({ SEQN: 1 }), key) }), 'unsigned v1');
    assert.equal((await signedCall(required, key, 'POST', path, { body: v1(JSON.stringify({ SEQN: 2 }), key) })).status, 201);
    assert.equal((await required.api('POST', path, { body: v2(JSON.stringify({ SEQN: 3 }), key, id) })).status, 201);
    assert.equal(await stored(required, id), 2);
  });
});

describe('a signed devsim fleet under PROVD_DEVICE_AUTH=required', () => {
  it('20 admin-made devices sign every call, apply their sealed configuration and log v2 readings', async () => {
    const key = crypto.randomBytes(16).toString('hex');
    const ids = Array.from({ length: 20 }, (_, i) => `fleet-${String(i).padStart(4, '0')}`);
    for (const id of ids) {
      assert.equal((await required.api('PUT', `/api/devices/${id}`, { admin: true, body: { name: id } })).status, 201);
      required.provctl(['device', 'key', id, '--set'], key);
      assert.equal((await required.api('PUT', `/api/devices/${id}`, { admin: true, body: { data: { mode: 'sealed' } } })).status, 200);
    }
    const args = ['--server', required.base, '--devices', String(ids.length), '--id-prefix', 'fleet-', '--key', key,
      '--telemetry-every', '1', '--duration', '7'];
    const [signed, unsigned] = await Promise.all([devsim([...args, '--sign']).result,
      devsim(['--server', required.base, '--devices', '2', '--id-prefix', 'fleet-', '--key', key, '--duration', '3']).result]);
    assert.equal(signed.code, 0, signed.stderr);
    assert.equal(signed.summary.registered, ids.length);
    assert.equal(signed.summary.configs_applied, ids.length);
    assert.equal(signed.summary.readings_refused, 0);
    assert.ok(signed.summary.readings_accepted >= ids.length * 3, `accepted: ${signed.summary.readings_accepted}`);
    assert.equal(unsigned.code, 1, 'the same devices without proofs are refused');
    assert.equal(unsigned.summary.registered, 0);
    for (const id of ids) {
      const d = await adminView(required, id);
      assert.equal(d.signs, true, id);
      assert.equal(d.envelope, 'v2', id);
      assert.equal(d.cfgsn_applied, 1, id);
    }
  });
});
