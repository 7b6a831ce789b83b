// End-to-end-encrypted telemetry through real nginx + provd: devices encrypt with the npm
// crypto-js package exactly as the original system's code did, or with Node's crypto for v2.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import CryptoJS from 'crypto-js';
import { v2 } from './lib/seal.mjs';
import { provctl, startStack, top } from './lib/stack.mjs';

const vectors = JSON.parse(fs.readFileSync(path.join(top, 'tests/vectors/cryptojs-public.json'), 'utf8')).vectors;

let stack;
let serial = 0;
// A new device per case: past a hundred new devices a minute from one address, so the cap on new
// devices per address (tests/integration/limits.test.mjs) is lifted here.
before(async () => { stack = await startStack({ env: { PROVD_REGISTRATION: 'open', PROVD_REGISTRATIONS_PER_MIN: '0' } }); });
after(async () => { await stack?.stop(); });

// A registered, accepted device with the given secret (a fresh id each time).
async function device(secret) {
  const id = `t${++serial}-${crypto.randomBytes(3).toString('hex')}`;
  assert.equal((await stack.api('POST', `/api/devices/${id}`, { body: {} })).status, 201);
  if (secret) stack.provctl(['device', 'key', id, '--set'], secret);
  return id;
}

const post = (id, body) => stack.api('POST', `/api/devices/${id}/telemetry`,
  { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
const readings = (id, query = '') => stack.api('GET', `/api/devices/${id}/telemetry${query}`, { admin: true });

// The original post's ways of encrypting, with crypto-js.
function keyIv(json, keyHex) {
  const iv = CryptoJS.lib.WordArray.random(16);
  const enc = CryptoJS.AES.encrypt(json, CryptoJS.enc.Hex.parse(keyHex), { iv });
  return { iv: CryptoJS.enc.Base64.stringify(iv), data: enc.ciphertext.toString(CryptoJS.enc.Base64) };
}
const passphrase = (json, pass) => ({ data: CryptoJS.AES.encrypt(json, pass).toString() });
const base64Wrapped = (json, keyHex) =>
  keyIv(CryptoJS.enc.Base64.stringify(CryptoJS.enc.Utf8.parse(json)), keyHex);

const KEY = '000102030405060708090a0b0c0d0e0f';

describe('ingest', () => {
  it('the original post ESP8266 message is accepted and stored as sent', async () => {
    const blog = vectors.find((v) => v.name === 'blog_vector');
    const id = await device(blog.key_hex);
    const r = await post(id, { iv: blog.iv_b64, data: blog.ciphertext_b64 });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.json, { status: 'OK', seqn: 700 });
    const back = await readings(id);
    assert.equal(back.json.length, 1);
    assert.deepEqual(back.json[0].reading, { data: { value: 300 }, SEQN: 700, msg: 'IT WORKS!' });
    assert.ok(back.text.includes('"reading":{"data":{"value":300}, "SEQN":700 , "msg":"IT WORKS!" }'),
      `stored byte for byte as the device sent it: ${back.text}`);
  });

  for (const [name, seal, secret] of [
    ['crypto-js key + IV, AES-128', (j, id) => keyIv(j, KEY), KEY],
    ['crypto-js key + IV, AES-256', (j, id) => keyIv(j, KEY + KEY), KEY + KEY],
    ['crypto-js passphrase (the device key string)', (j, id) => passphrase(j, KEY), KEY],
    ['crypto-js passphrase that is not hex', (j, id) => passphrase(j, 'correct horse battery'), 'correct-horse'],
    ['crypto-js base64-wrapped JSON (ESP8266)', (j, id) => base64Wrapped(j, KEY), KEY],
    ['v2 AES-128-GCM (Node crypto)', (j, id) => v2(j, KEY, id), KEY],
    ['v2 AES-256-GCM (Node crypto)', (j, id) => v2(j, KEY + KEY, id), KEY + KEY],
  ]) {
    it(`${name}: stored, readable, replay refused`, async () => {
      const id = await device(secret === 'correct-horse' ? 'correct horse battery'.replaceAll(' ', '-') : secret);
      const pass = secret === 'correct-horse' ? 'correct-horse-battery' : null;
      const sealIt = (j) => (pass ? passphrase(j, pass) : seal(j, id));
      const msg = JSON.stringify({ data: { value: 42, temp: 21.5 }, SEQN: 1, msg: 'héllo' });
      let r = await post(id, sealIt(msg));
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.seqn, 1);
      r = await post(id, sealIt(msg));
      assert.equal(r.status, 409, 'the same SEQN again is a replay');
      r = await post(id, sealIt(JSON.stringify({ data: { value: 43 }, SEQN: 2 })));
      assert.equal(r.status, 201);
      const back = await readings(id);
      assert.deepEqual(back.json.map((x) => x.seqn), [2, 1]);
      assert.deepEqual(back.json[1].reading, JSON.parse(msg));
    });
  }

  it('a captured message replayed byte for byte is refused; an older SEQN too', async () => {
    const id = await device(KEY);
    const captured = keyIv(JSON.stringify({ v: 1, SEQN: 10 }), KEY);
    assert.equal((await post(id, captured)).status, 201);
    assert.equal((await post(id, captured)).status, 409);
    assert.equal((await post(id, keyIv(JSON.stringify({ v: 1, SEQN: 9 }), KEY))).status, 409);
    assert.equal((await readings(id)).json.length, 1, 'nothing stored twice');
  });

  it('v2 sealed for another device id is refused (associated data)', async () => {
    const id = await device(KEY);
    const r = await post(id, v2(JSON.stringify({ SEQN: 1 }), KEY, 'someone-else'));
    assert.equal(r.status, 400);
  });

  it('every refusal before the SEQN check gets the same status and the same bytes', async () => {
    const id = await device(KEY);
    const good = JSON.parse(JSON.stringify(keyIv(JSON.stringify({ SEQN: 5 }), KEY)));
    const flipped = Buffer.from(good.data, 'base64'); flipped[flipped.length - 1] ^= 1;
    const gcm = v2(JSON.stringify({ SEQN: 5 }), KEY, id);
    const tag = Buffer.from(gcm.data, 'base64'); tag[tag.length - 1] ^= 0x80;
    const bodies = [
      'not json', '{}', '[]', { iv: good.iv }, { iv: good.iv, data: '%%%' }, { iv: 'AAAA', data: good.data },
      { iv: good.iv, data: flipped.toString('base64') },                         // padding
      { ...gcm, data: tag.toString('base64') },                                   // tag
      keyIv(JSON.stringify({ value: 1 }), KEY),                                  // no SEQN
      keyIv(JSON.stringify({ SEQN: '7' }), KEY),                                 // SEQN not an integer
      keyIv(JSON.stringify({ SEQN: 7.5 }), KEY),
      keyIv('{"SEQN": 8', KEY),                                                  // not JSON
      keyIv(JSON.stringify({ SEQN: 9 }), 'ffffffffffffffffffffffffffffffff'),   // wrong key
      passphrase(JSON.stringify({ SEQN: 10 }), 'wrong passphrase'),
      { ...good, extra: 1 },
    ];
    const answers = [];
    for (const b of bodies) {
      const r = await post(id, b);
      answers.push(`${r.status} ${r.text}`);
    }
    assert.deepEqual(new Set(answers), new Set(['400 {"status":"NOK","message":"unreadable telemetry message"}']));
    assert.equal((await readings(id)).json.length, 0);
    assert.doesNotMatch(stack.logs(), /SEQN": ?9/, 'no plaintext in the log');
  });

  it('unknown devices 404, pending and rejected ones 403, no key 403', async () => {
    assert.equal((await post('nobody-here', keyIv('{"SEQN":1}', KEY))).status, 404);
    const id = await device(KEY);
    await stack.api('PUT', `/api/devices/${id}`, { admin: true, body: { state: 'pending' } });
    assert.equal((await post(id, keyIv('{"SEQN":1}', KEY))).status, 403);
    await stack.api('PUT', `/api/devices/${id}`, { admin: true, body: { state: 'rejected' } });
    assert.equal((await post(id, keyIv('{"SEQN":1}', KEY))).status, 403);
    const keyless = await device(null);
    const r = await post(keyless, keyIv('{"SEQN":1}', KEY));
    assert.equal(r.status, 403);
    assert.match(r.json.message, /key/);
  });

  it('a generated key works, and an admin can reset the SEQN of a device that lost its counter', async () => {
    const id = await device(null);
    const key = (await stack.api('POST', `/api/devices/${id}/key`, { admin: true })).json.key;
    assert.equal((await post(id, v2('{"SEQN":500}', key, id))).status, 201);
    assert.equal((await post(id, v2('{"SEQN":1}', key, id))).status, 409);
    const r = await stack.api('PUT', `/api/devices/${id}`, { admin: true, body: { seqn_reset: true } });
    assert.equal(r.json.last_seqn, null);
    // The reset began epoch 1: what was sealed before it (a recording) opens no more.
    const recorded = v2('{"SEQN":1}', key, id);
    assert.equal((await post(id, recorded)).status, 400);
    assert.equal((await post(id, v2('{"SEQN":1}', key, id, 1))).status, 201);
    assert.equal((await post(id, v2('{"SEQN":2}', key, id, 1))).status, 201);
    // The device loses its counter once more: it may send SEQN 1 and 2 again.
    await stack.api('PUT', `/api/devices/${id}`, { admin: true, body: { seqn_reset: true } });
    assert.equal((await post(id, v2('{"SEQN":1}', key, id, 1))).status, 400);
    assert.equal((await post(id, v2('{"SEQN":1}', key, id, 2))).status, 201);
    assert.equal((await post(id, v2('{"SEQN":1}', key, id, 2))).status, 409);
    const back = (await readings(id, '?order=asc')).json;
    assert.deepEqual(back.map((x) => x.seqn), [500, 1, 2, 1], 'every reading kept, in the order they came');
  });

  it('ts, the device clock, is kept beside the receive time', async () => {
    const id = await device(KEY);
    await post(id, keyIv(JSON.stringify({ SEQN: 1, ts: 1700000000 }), KEY));
    await post(id, keyIv(JSON.stringify({ SEQN: 2, ts: '2026-01-02T03:04:05Z' }), KEY));
    await post(id, keyIv(JSON.stringify({ SEQN: 3 }), KEY));
    const back = (await readings(id, '?order=asc')).json;
    assert.deepEqual(back.map((x) => x.ts), ['2023-11-14T22:13:20Z', '2026-01-02T03:04:05Z', null]);
    assert.ok(back.every((x) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(x.received_at)));
  });
});

describe('the crypto-js vectors, posted as telemetry', () => {
  for (const v of vectors) {
    it(`${v.name} (${v.expect})`, async () => {
      const id = await device(v.mode === 'key' ? v.key_hex : v.passphrase);
      const body = v.mode === 'key' ? { iv: v.iv_b64, data: v.ciphertext_b64 } : { data: v.ciphertext_b64 };
      const r = await post(id, body);
      const json = v.expect === 'ok' ? (v.plaintext_kind === 'base64json' ? v.json : v.plaintext) : null;
      let seqn;
      try { seqn = JSON.parse(json).SEQN; } catch { seqn = undefined; }
      if (v.expect === 'ok' && Number.isInteger(seqn)) {
        assert.equal(r.status, 201, r.text);
        const back = await readings(id);
        assert.equal(JSON.stringify(back.json[0].reading), JSON.stringify(JSON.parse(json)));
      } else {
        assert.equal(r.status, 400, `${r.status} ${r.text}`);
        assert.equal(r.text, '{"status":"NOK","message":"unreadable telemetry message"}');
      }
    });
  }
});

describe('reading back', () => {
  let id;
  before(async () => {
    id = await device(KEY);
    for (let s = 1; s <= 25; s++) {
      const reading = { data: { value: s, temp: s / 2, label: s === 3 ? 'a,"quoted" =cell' : s === 4 ? '=SUM(A1)' : 'x' }, list: [s, s * 2], SEQN: s };
      assert.equal((await post(id, keyIv(JSON.stringify(reading), KEY))).status, 201);
    }
  });

  it('keyset pages, newest first, following Link', async () => {
    let url = `/api/devices/${id}/telemetry?limit=10`;
    const seqns = [];
    while (url) {
      const r = await stack.api('GET', url, { admin: true });
      seqns.push(...r.json.map((x) => x.seqn));
      const link = r.headers.get('link');
      url = link ? link.match(/^<([^>]+)>/)[1] : null;
    }
    assert.deepEqual(seqns, Array.from({ length: 25 }, (_, i) => 25 - i));
    const twentieth = (await readings(id, '?order=asc&limit=100')).json.find((x) => x.seqn === 20);
    const asc = await readings(id, `?order=asc&limit=3&after=${twentieth.id}`);
    assert.deepEqual(asc.json.map((x) => x.seqn), [21, 22, 23]);
  });

  it('since/until select by receive time; malformed parameters are 400', async () => {
    assert.equal((await readings(id, '?until=2000-01-01T00:00:00Z')).json.length, 0);
    assert.equal((await readings(id, '?since=2000-01-01T00:00:00Z&limit=100')).json.length, 25);
    for (const q of ['since=yesterday', 'until=2026-02-31T00:00:00Z', 'limit=0', 'limit=10001', 'order=up',
      'bucket=0', 'format=xml', 'after=-1', 'since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z']) {
      assert.equal((await readings(id, `?${q}`)).status, 400, q);
    }
    assert.equal((await readings('nobody-here')).status, 404);
    assert.equal((await stack.api('GET', `/api/devices/${id}/telemetry`)).status, 401);
  });

  it('CSV: the whole range, a header row, nested fields flattened with dots, cells escaped', async () => {
    const res = await fetch(`${stack.base}/api/devices/${id}/telemetry?format=csv&order=asc&limit=1`,
      { headers: { Authorization: `Bearer ${stack.token}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/csv/);
    assert.match(res.headers.get('content-disposition'), /attachment; filename=".*-telemetry\.csv"/);
    const lines = (await res.text()).trimEnd().split('\r\n');
    assert.equal(lines[0], 'seqn,received_at,ts,data.value,data.temp,data.label,list.0,list.1');
    assert.equal(lines.length, 26, 'every reading, whatever the limit');
    assert.match(lines[1], /^1,\d{4}-[^,]+Z,,1,0.5,x,1,2$/);
    assert.match(lines[3], /^3,[^,]+,,3,1.5,"a,""quoted"" =cell",3,6$/);
    assert.match(lines[4], /^4,[^,]+,,4,2,"'=SUM\(A1\)",4,8$/, 'a formula is defused');
  });

  it('bucket= gives min/avg/max per bucket of every numeric field', async () => {
    const r = await readings(id, '?bucket=86400');
    assert.equal(r.status, 200);
    const fields = r.json.flatMap((b) => Object.keys(b.fields));
    for (const f of ['data.value', 'data.temp', 'list.0', 'list.1']) assert.ok(fields.includes(f), f);
    const total = r.json.reduce((n, b) => n + b.fields['data.value'].count, 0);
    assert.equal(total, 25);
    const all = r.json.map((b) => b.fields['data.value']);
    assert.equal(Math.min(...all.map((s) => s.min)), 1);
    assert.equal(Math.max(...all.map((s) => s.max)), 25);
    assert.ok(!fields.includes('SEQN'));
  });

  it('deleting the device deletes its readings', async () => {
    const gone = await device(KEY);
    await post(gone, keyIv('{"SEQN":1}', KEY));
    assert.equal((await stack.api('GET', '/api/stats', { admin: true })).json.readings > 0, true);
    const before = (await stack.api('GET', '/api/stats', { admin: true })).json.readings;
    await stack.api('DELETE', `/api/devices/${gone}`, { admin: true });
    assert.equal((await stack.api('GET', '/api/stats', { admin: true })).json.readings, before - 1);
  });
});

describe('fleet key', () => {
  it('PROVD_FLEET_KEY serves devices without their own key; their own key wins', async () => {
    const fleet = await startStack({ env: { PROVD_REGISTRATION: 'open', PROVD_FLEET_KEY: KEY } });
    try {
      await fleet.api('POST', '/api/devices/f1', { body: {} });
      const r = await fleet.api('POST', '/api/devices/f1/telemetry', { body: keyIv('{"SEQN":1}', KEY) });
      assert.equal(r.status, 201);
      fleet.provctl(['device', 'key', 'f1', '--set'], 'ffffffffffffffffffffffffffffffff');
      assert.equal((await fleet.api('POST', '/api/devices/f1/telemetry', { body: keyIv('{"SEQN":2}', KEY) })).status, 400);
    } finally { await fleet.stop(); }
  });
});
