// Firmware over the air through real nginx + provd: uploads (idempotent, conflicts, limits,
// signatures in the ESP8266 core's format), assignment, every update status, the poll's offer and
// a download interrupted and resumed with Range, and the exact HTTP/1.0 requests the ESP8266 and
// ESP32 Arduino update clients send to GET /api/ota, keyed devices with HTTP Basic among them.
// The bytes received are checked against the upload (MD5 and SHA-256).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { now, proof } from './lib/device.mjs';
import { startStack } from './lib/stack.mjs';

const FIRMWARE_MAX = 262144;
let stack;
let signedStack;
let signingKey;
let pubkeyDir;
let serial = 0;

before(async () => {
  signingKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  // A public key is no secret: readable by the workers' user (the stack's, when run as root).
  pubkeyDir = fs.mkdtempSync('/tmp/provd-fw-key-');
  fs.chmodSync(pubkeyDir, 0o755);
  const pubkey = `${pubkeyDir}/pub.pem`;
  fs.writeFileSync(pubkey, signingKey.publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  const started = await Promise.allSettled([
    startStack({ env: { PROVD_FIRMWARE_MAX: String(FIRMWARE_MAX) } }),
    startStack({ env: { PROVD_FIRMWARE_PUBKEY: pubkey } }),
  ]);
  [stack, signedStack] = started.map((r) => r.value);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
});
after(async () => {
  await Promise.all([stack?.stop(), signedStack?.stop()]);
  fs.rmSync(pubkeyDir, { recursive: true, force: true });
});

const md5 = (b) => crypto.createHash('md5').update(b).digest('hex');
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');
const version = () => `1.${++serial}.0-rc+${crypto.randomBytes(2).toString('hex')}`;
// An ESP8266 image: the magic byte, then random bytes.
const image = (size = 40000) => Buffer.concat([Buffer.from([0xe9, 0x03, 0x02, 0x40]), crypto.randomBytes(size - 4)]);

async function upload(s, v, bytes, { token = s.token, type = 'application/octet-stream' } = {}) {
  const headers = { 'Content-Type': type };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${s.base}/api/firmware?version=${encodeURIComponent(v)}`, { method: 'POST', headers, body: bytes });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text };
}

// The audit entries about target, newest first (a version is no device id: ?device= takes none).
async function auditOf(target) {
  const r = await stack.api('GET', '/api/audit?limit=500', { admin: true });
  assert.equal(r.status, 200, r.text);
  return r.json.filter((e) => e.target === target);
}

const assign = (s, id, firmware) => s.api('PUT', `/api/devices/${id}`, { admin: true, body: { firmware } });
const view = async (s, id) => (await s.api('GET', `/api/devices/${id}`, { admin: true })).json;

// A raw HTTP exchange on its own connection: the request text as given, the answer's status,
// head (lower-case names) and body bytes, read until the server closes.
function raw(s, text) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(s.port, '127.0.0.1');
    const chunks = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', reject);
    sock.on('end', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, split).toString('latin1').split('\r\n');
      const headers = {};
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(head[0].split(' ')[1]), statusLine: head[0], headers, body: all.subarray(split + 4) });
    });
    sock.write(text);
  });
}

// What ESP8266HTTPUpdate sends (ESP8266 Arduino core 3.x, handleUpdate()): HTTP/1.0, Connection:
// close, its User-Agent and x-ESP8266-* headers; extra: headers to add or (null) leave out.
function esp8266Request(s, mac, { ver = '1.0', sketchMd5 = 'd41d8cd98f00b204e9800998ecf8427e', mode = 'sketch', extra = {} } = {}) {
  const headers = {
    Host: `127.0.0.1:${s.port}`,
    'User-Agent': 'ESP8266-http-Update',
    Connection: 'close',
    'x-ESP8266-Chip-ID': '10597101',
    'x-ESP8266-STA-MAC': mac,
    'x-ESP8266-AP-MAC': mac.replace(/^../, 'AE'),
    'x-ESP8266-free-space': '2736128',
    'x-ESP8266-sketch-size': '408640',
    'x-ESP8266-sketch-md5': sketchMd5,
    'x-ESP8266-chip-size': '4194304',
    'x-ESP8266-sdk-version': '2.2.2-dev(38a443e)',
    'x-ESP8266-mode': mode,
    'x-ESP8266-version': ver,
    ...extra,
  };
  const lines = Object.entries(headers).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}\r\n`);
  return raw(s, `GET /api/ota HTTP/1.0\r\n${lines.join('')}\r\n`);
}

// What the ESP32 core's HTTPUpdate (libraries/HTTPUpdate) sends: x-ESP32-* and its own
// User-Agent; no sketch MD5 (the running partition's SHA-256, upper-case, instead), and
// x-ESP32-version only when the sketch passes one (ver null: none).
function esp32Request(s, mac, { ver = '1.0' } = {}) {
  const headers = [
    `Host: 127.0.0.1:${s.port}`, 'User-Agent: ESP32-http-Update', 'Connection: close', 'Cache-Control: no-cache',
    `x-ESP32-STA-MAC: ${mac}`, `x-ESP32-AP-MAC: ${mac}`, 'x-ESP32-free-space: 1310720',
    'x-ESP32-sketch-size: 880000', `x-ESP32-sketch-sha256: ${'AB'.repeat(32)}`, 'x-ESP32-chip-size: 4194304',
    'x-ESP32-sdk-version: v4.4.7', 'x-ESP32-mode: sketch', ...(ver === null ? [] : [`x-ESP32-version: ${ver}`]),
  ];
  return raw(s, `GET /api/ota HTTP/1.0\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`);
}

const freshMac = () => crypto.randomBytes(6).toString('hex').toUpperCase().match(/../g).join(':');

describe('uploads', () => {
  it('stores a version once: the same bytes again are the same answer, other bytes a 409', async () => {
    const v = version();
    const bytes = image();
    const first = await upload(stack, v, bytes);
    assert.equal(first.status, 201, first.text);
    assert.deepEqual(Object.keys(first.json), ['version', 'size', 'sha256', 'md5', 'created']);
    assert.equal(first.json.version, v);
    assert.equal(first.json.size, bytes.length);
    assert.equal(first.json.sha256, sha256(bytes));
    assert.equal(first.json.md5, md5(bytes));
    const again = await upload(stack, v, bytes);
    assert.equal(`${again.status} ${again.text}`, `${first.status} ${first.text}`);
    const other = await upload(stack, v, image());
    assert.equal(other.status, 409, other.text);
    const list = await stack.api('GET', '/api/firmware', { admin: true });
    assert.deepEqual(list.json.filter((f) => f.version === v), [first.json]);
    // One audit entry, the first upload's: the same bytes again and the conflict change nothing.
    const audit = await auditOf(v);
    assert.deepEqual(audit.map((e) => [e.action, e.target, e.after]),
      [['firmware.upload', v, { size: bytes.length, sha256: sha256(bytes), md5: md5(bytes) }]]);
  });

  it('refuses an empty body, a bad version, another type, no token, and a body over PROVD_FIRMWARE_MAX', async () => {
    assert.equal((await upload(stack, version(), Buffer.alloc(0))).status, 400);
    for (const bad of ['', 'a b', 'x'.repeat(33), '1/2']) assert.equal((await upload(stack, bad, image())).status, 400, bad);
    assert.equal((await upload(stack, version(), image(), { type: 'text/plain' })).status, 415);
    assert.equal((await upload(stack, version(), image(), { token: null })).status, 401);
    const big = await upload(stack, version(), image(FIRMWARE_MAX + 1));
    assert.equal(big.status, 413, big.text);
    assert.match(big.json.message, /PROVD_FIRMWARE_MAX/);
    assert.equal((await upload(stack, version(), image(FIRMWARE_MAX))).status, 201); /* the limit itself */
  });

  it('deletes a version only while no device has it assigned', async () => {
    const v = version();
    assert.equal((await upload(stack, v, image())).status, 201);
    const id = `del${++serial}`;
    assert.equal((await assign(stack, id, v)).status, 201);
    assert.equal((await stack.api('DELETE', `/api/firmware/${encodeURIComponent(v)}`, { admin: true })).status, 409);
    assert.equal((await assign(stack, id, null)).status, 200);
    assert.equal((await stack.api('DELETE', `/api/firmware/${encodeURIComponent(v)}`, { admin: true })).status, 204);
    assert.deepEqual((await auditOf(v)).map((e) => e.action), ['firmware.delete', 'firmware.upload']);
    assert.equal((await stack.api('DELETE', `/api/firmware/${encodeURIComponent(v)}`, { admin: true })).status, 404);
    assert.equal((await stack.api('DELETE', '/api/firmware/bad%20version', { admin: true })).status, 400);
  });
});

describe('assignment', () => {
  it('shows firmware, firmware_running and firmware_status in the device and the list; an unknown version is a 400', async () => {
    const id = `asg${++serial}`;
    assert.equal((await stack.api('POST', `/api/devices/${id}`, { body: { ipaddr: '10.0.0.2', ssid: 'n', fw: '0.9' } })).status, 201);
    let d = await view(stack, id);
    assert.deepEqual([d.firmware, d.firmware_running, d.firmware_status], [null, '0.9', 'none']);
    const unknown = await assign(stack, id, 'no-such-version');
    assert.equal(unknown.status, 400);
    assert.match(unknown.json.message, /^firmware: no version no-such-version was uploaded/);
    assert.equal((await assign(stack, id, 'bad version')).status, 400);
    const v = version();
    assert.equal((await upload(stack, v, image())).status, 201);
    assert.equal((await assign(stack, id, v)).status, 200);
    d = await view(stack, id);
    assert.deepEqual([d.firmware, d.firmware_running, d.firmware_status], [v, '0.9', 'pending']);
    const entry = (await stack.api('GET', `/api/audit?device=${id}&limit=1`, { admin: true })).json[0];
    assert.deepEqual([entry.action, entry.before.firmware, entry.after.firmware], ['device.update', null, v]);
    const list = await stack.api('GET', `/api/devices?q=${id}`, { admin: true });
    assert.deepEqual(list.json.map((x) => [x.firmware, x.firmware_status]), [[v, 'pending']]);
  });
});

// A device on provd's own protocol: registered, accepted, running "0.9" with no key.
async function pollingDevice() {
  const id = `poll${++serial}-${crypto.randomBytes(2).toString('hex')}`;
  assert.equal((await stack.api('PUT', `/api/devices/${id}`, { admin: true, body: { name: id } })).status, 201);
  assert.equal((await stack.api('POST', `/api/devices/${id}`, { body: { ipaddr: '10.0.0.3', ssid: 'n', fw: '0.9' } })).status, 200);
  return id;
}

const poll = (id, fw) => stack.api('GET', `/api/devices/${id}?fw=${encodeURIComponent(fw)}`, { headers: { 'If-None-Match': '"0"' } });

// The image's URL as a path on the stack (the offer's URL names the Host the device used).
const pathOf = (url) => new URL(url).pathname + new URL(url).search;

describe('updates through the poll', () => {
  it('offers, serves with ranges (a download cut off and resumed), fails on the old version, installs on the new', async () => {
    const id = await pollingDevice();
    assert.equal((await poll(id, '0.9')).status, 304); // nothing assigned: the cheap answer
    const v = version();
    const bytes = image(100000);
    assert.equal((await upload(stack, v, bytes)).status, 201);
    assert.equal((await assign(stack, id, v)).status, 200);

    const offered = await poll(id, '0.9');
    assert.equal(offered.status, 200);
    const offer = offered.json.firmware;
    assert.deepEqual(Object.keys(offer), ['version', 'url', 'size', 'sha256', 'md5']);
    assert.deepEqual([offer.version, offer.size, offer.sha256, offer.md5], [v, bytes.length, sha256(bytes), md5(bytes)]);
    assert.equal(offer.url, `${stack.base}/api/devices/${id}/firmware?version=${encodeURIComponent(v)}`);
    assert.equal((await view(stack, id)).firmware_status, 'offered');

    // A download cut off after its first bytes (the connection dropped: a power cut), on a raw
    // connection so that nothing buffers the rest.
    const target = pathOf(offer.url);
    const cut = await new Promise((resolve, reject) => {
      const sock = net.connect(stack.port, '127.0.0.1');
      const chunks = [];
      let got = 0;
      sock.on('data', (d) => {
        chunks.push(d);
        got += d.length;
        if (got > 20000) { sock.destroy(); resolve(Buffer.concat(chunks)); }
      });
      sock.on('error', reject);
      sock.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    const headEnd = cut.indexOf('\r\n\r\n');
    assert.match(cut.subarray(0, headEnd).toString(), /^HTTP\/1\.1 200 /);
    assert.match(cut.subarray(0, headEnd).toString(), new RegExp(`\r\nContent-Length: ${bytes.length}\r\n`));
    const have = cut.subarray(headEnd + 4, headEnd + 4 + 20000);
    assert.ok(have.equals(bytes.subarray(0, 20000)));
    // A request without Range asked for the whole image: downloading, the download done as far
    // as provd can tell (nginx sends the bytes).
    assert.equal((await view(stack, id)).firmware_status, 'downloading');

    // Resumed with Range: the rest, 206, the digests re-added by nginx.
    const rest = await fetch(`${stack.base}${target}`, { headers: { Range: `bytes=${have.length}-` } });
    assert.equal(rest.status, 206);
    assert.equal(rest.headers.get('content-range'), `bytes ${have.length}-${bytes.length - 1}/${bytes.length}`);
    assert.equal(rest.headers.get('x-md5'), md5(bytes));
    assert.equal(rest.headers.get('x-sha256'), sha256(bytes));
    assert.equal(rest.headers.get('content-type'), 'application/octet-stream');
    const whole = Buffer.concat([have, Buffer.from(await rest.arrayBuffer())]);
    assert.equal(md5(whole), md5(bytes));
    assert.equal(sha256(whole), sha256(bytes));

    // Back on the old version after the download: failed, and not offered again.
    assert.equal((await poll(id, '0.9')).status, 304);
    assert.equal((await view(stack, id)).firmware_status, 'failed');

    // Assigned again: a range short of the end leaves it downloading through a poll on the old
    // version (a download in progress); the device then reboots into the new one: installed.
    assert.equal((await assign(stack, id, v)).status, 200);
    assert.equal((await view(stack, id)).firmware_status, 'pending');
    const part = await fetch(`${stack.base}${target}`, { headers: { Range: 'bytes=0-999' } });
    assert.equal(part.status, 206);
    assert.equal((await part.arrayBuffer()).byteLength, 1000);
    assert.equal((await poll(id, '0.9')).status, 200); // still offered while it downloads
    assert.equal((await view(stack, id)).firmware_status, 'downloading');
    assert.equal((await poll(id, v)).status, 304);
    const d = await view(stack, id);
    assert.deepEqual([d.firmware, d.firmware_running, d.firmware_status], [v, v, 'installed']);
  });

  it('refuses the image of a version not assigned, an unknown or rejected device', async () => {
    const id = await pollingDevice();
    const v = version();
    assert.equal((await upload(stack, v, image())).status, 201);
    const url = (dev) => `/api/devices/${dev}/firmware?version=${encodeURIComponent(v)}`;
    assert.equal((await stack.api('GET', url(id))).status, 404);
    assert.equal((await stack.api('GET', url('nobody-here'))).status, 404);
    assert.equal((await assign(stack, id, v)).status, 200);
    assert.equal((await stack.api('GET', `/api/devices/${id}/firmware?version=x`)).status, 404);
    assert.equal((await stack.api('PUT', `/api/devices/${id}`, { admin: true, body: { state: 'rejected' } })).status, 200);
    assert.equal((await stack.api('GET', url(id))).status, 403);
  });

  it("takes a keyed device's download only with a proof, and records it only then", async () => {
    const id = await pollingDevice();
    const key = (await stack.api('POST', `/api/devices/${id}/key`, { admin: true })).json.key;
    const v = version();
    const bytes = image();
    assert.equal((await upload(stack, v, bytes)).status, 201);
    assert.equal((await assign(stack, id, v)).status, 200);
    const target = `/api/devices/${id}/firmware?version=${encodeURIComponent(v)}`;
    const signed = (headers = {}, path = target) => fetch(`${stack.base}${target}`,
      { headers: { ...headers, 'X-Provd-Auth': proof(key, 'GET', path, '', now()) } });
    for (const r of [await stack.api('GET', target), await signed({}, `/api/devices/${id}/firmware?version=x`)]) {
      assert.equal(r.status, 401);
      assert.match(r.headers.get('x-provd-time') ?? '', /^\d+$/);
    }
    assert.equal((await view(stack, id)).firmware_status, 'pending'); // nothing recorded
    const part = await signed({ Range: 'bytes=0-999' });
    assert.equal(part.status, 206);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(0, 1000)));
    assert.equal((await view(stack, id)).firmware_status, 'downloading');
    const whole = await signed();
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('x-md5'), md5(bytes));
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(bytes));
    // The whole image was asked for: back on the old version, the update failed.
    const pollPath = `/api/devices/${id}?fw=0.9`;
    const back = await stack.api('GET', pollPath, { headers: { 'X-Provd-Auth': proof(key, 'GET', pollPath, '', now()) } });
    assert.equal(back.status, 200);
    assert.equal((await view(stack, id)).firmware_status, 'failed');
  });
});

// A device the ESP8266 update client finds by its MAC address; its id as given (with or without
// colons, any case).
async function macDevice(s, mac, id = mac) {
  assert.equal((await s.api('PUT', `/api/devices/${id}`, { admin: true, body: { name: 'esp' } })).status, 201);
  return id;
}

describe('GET /api/ota for the ESP8266 update client (HTTP/1.0)', () => {
  it('answers 304, then the image with Content-Length and x-MD5, never chunked; failed on the old version, installed on the new', async () => {
    const mac = freshMac();
    const id = await macDevice(stack, mac, mac.replace(/:/g, '').toLowerCase());
    let r = await esp8266Request(stack, mac, { ver: '1.0' });
    assert.equal(r.status, 304, r.body.toString());
    let d = await view(stack, id);
    assert.deepEqual([d.firmware_running, d.firmware_status], ['1.0', 'none']);

    const v = version();
    const bytes = image(60000);
    assert.equal((await upload(stack, v, bytes)).status, 201);
    assert.equal((await assign(stack, id, v)).status, 200);
    r = await esp8266Request(stack, mac, { ver: '1.0' });
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers['content-length'], String(bytes.length));
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.equal(r.headers['x-md5'], md5(bytes));
    assert.match(r.headers['x-md5'], /^[0-9a-f]{32}$/);
    assert.equal(r.headers['transfer-encoding'], undefined);
    assert.ok(r.body.equals(bytes));
    assert.equal(sha256(r.body), sha256(bytes));
    assert.equal((await view(stack, id)).firmware_status, 'downloading');

    r = await esp8266Request(stack, mac, { ver: '1.0' }); // rebooted into the old sketch
    assert.equal(r.status, 304);
    assert.equal((await view(stack, id)).firmware_status, 'failed');

    assert.equal((await assign(stack, id, v)).status, 200);
    r = await esp8266Request(stack, mac, { ver: '1.0' });
    assert.equal(r.status, 200);
    // Back with the new image: known by its sketch MD5 even when the version string says nothing.
    r = await esp8266Request(stack, mac, { ver: null, sketchMd5: md5(bytes).toUpperCase() });
    assert.equal(r.status, 304);
    d = await view(stack, id);
    assert.deepEqual([d.firmware_running, d.firmware_status], [v, 'installed']);
  });

  it('finds ids with colons in any case, refuses unknown devices (404), other clients and missing headers (403), and answers spiffs with 304', async () => {
    const mac = freshMac();
    await macDevice(stack, mac, mac.toLowerCase());
    assert.equal((await esp8266Request(stack, mac)).status, 304);
    assert.equal((await esp8266Request(stack, freshMac())).status, 404);
    assert.equal((await esp8266Request(stack, mac, { extra: { 'User-Agent': 'curl/8' } })).status, 403);
    for (const h of ['x-ESP8266-STA-MAC', 'x-ESP8266-free-space', 'x-ESP8266-mode']) {
      assert.equal((await esp8266Request(stack, mac, { extra: { [h]: null } })).status, 403, h);
    }
    assert.equal((await esp8266Request(stack, mac, { extra: { 'x-ESP8266-STA-MAC': 'not-a-mac' } })).status, 403);

    const v = version();
    assert.equal((await upload(stack, v, image())).status, 201);
    assert.equal((await assign(stack, mac.toLowerCase(), v)).status, 200);
    assert.equal((await esp8266Request(stack, mac, { mode: 'spiffs' })).status, 304);
    assert.equal((await stack.api('PUT', `/api/devices/${mac.toLowerCase()}`, { admin: true, body: { state: 'rejected' } })).status, 200);
    assert.equal((await esp8266Request(stack, mac)).status, 403);
  });

  it('takes a keyed device only with HTTP Basic: its id and the password derived from its key', async () => {
    const mac = freshMac();
    const id = await macDevice(stack, mac);
    const key = (await stack.api('POST', `/api/devices/${id}/key`, { admin: true })).json.key;
    assert.equal((await esp8266Request(stack, mac)).status, 401);
    // HMAC-SHA256(key bytes, "provd ota basic 1"), 16 bytes in hex (ARCHITECTURE.md).
    const password = crypto.createHmac('sha256', Buffer.from(key, 'hex')).update('provd ota basic 1').digest('hex').slice(0, 32);
    const basic = (user, pass) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    assert.equal((await esp8266Request(stack, mac, { extra: { Authorization: basic(id, password.replace(/^./, 'x')) } })).status, 401);
    assert.equal((await esp8266Request(stack, mac, { extra: { Authorization: basic(id, password) } })).status, 304);
    const v = version();
    const bytes = image();
    assert.equal((await upload(stack, v, bytes)).status, 201);
    assert.equal((await assign(stack, id, v)).status, 200);
    const r = await esp8266Request(stack, mac, { extra: { Authorization: basic(id, password) } });
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(bytes));
    // Its image URL wants a proof, as its polls do.
    assert.equal((await stack.api('GET', `/api/devices/${id}/firmware?version=${encodeURIComponent(v)}`)).status, 401);
  });
});

describe('GET /api/ota for the ESP32 update client', () => {
  it('sends the image with x-MD5 and x-SHA256', async () => {
    const mac = freshMac();
    const id = await macDevice(stack, mac);
    const v = version();
    const bytes = image(50000);
    assert.equal((await upload(stack, v, bytes)).status, 201);
    assert.equal((await assign(stack, id, v)).status, 200);
    const r = await esp32Request(stack, mac, { ver: null });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(bytes.length));
    assert.equal(r.headers['x-md5'], md5(bytes));
    assert.equal(r.headers['x-sha256'], sha256(bytes));
    assert.ok(r.body.equals(bytes));
    assert.equal((await esp32Request(stack, mac, { ver: v })).status, 304);
    assert.equal((await view(stack, id)).firmware_status, 'installed');
  });
});

// The ESP8266 core's signed image (signing.py): payload, RSA-2048 PKCS#1 v1.5 signature of its
// SHA-256, the signature's length as 32-bit little-endian.
function signed(payload, key = signingKey.privateKey) {
  const sig = crypto.sign('sha256', payload, { key, padding: crypto.constants.RSA_PKCS1_PADDING });
  const len = Buffer.alloc(4);
  len.writeUInt32LE(sig.length);
  return Buffer.concat([payload, sig, len]);
}

describe('signed images (PROVD_FIRMWARE_PUBKEY)', () => {
  it('takes an image signed by the key, and names the problem of any other', async () => {
    const payload = image();
    const good = signed(payload);
    const ok = await upload(signedStack, version(), good);
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.json.md5, md5(good));

    const unsigned = await upload(signedStack, version(), payload);
    assert.equal(unsigned.status, 400);
    assert.match(unsigned.json.message, /signature/);
    const tampered = Buffer.from(good);
    tampered[100] ^= 1;
    const bad = await upload(signedStack, version(), tampered);
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /does not verify/);
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    assert.match((await upload(signedStack, version(), signed(payload, other))).json.message, /does not verify/);
  });
});
