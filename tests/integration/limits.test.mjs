// Limits that hold (issue 18), tried as an attacker would through the real nginx: no header
// switches the device limits off, made-up devices get no fresh allowance, admin calls have their
// own, new devices per address and in all are capped; and the defaults let a site's fleet of
// 1,000 devices behind one address through.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startStack } from './lib/stack.mjs';

const statuses = (answers) => answers.map((r) => r.status);
const count = (answers, status) => answers.filter((r) => r.status === status).length;
// A connection refused or reset before any answer is tried again, up to 20 times 100 ms apart:
// such a call got no status from nginx's limits, which are what is tested here, so trying again
// changes none of them. One failing throughout counts as status 0, with its error; the admin
// burst's message then also says whether the stack had stopped, and what it printed.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function refusedAsZero(call) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!/ECONNREFUSED|ECONNRESET/.test(err.message)) throw err;
      if (attempt === 20) return { status: 0, error: err.message };
      await sleep(100);
    }
  }
}
const all = (n, call) => Promise.all(Array.from({ length: n }, (_, i) => refusedAsZero(() => call(i))));

// Runs call(0..n-1), at most width at a time; the answers in order.
async function pooled(n, width, call) {
  const answers = new Array(n);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < n; i = next++) answers[i] = await call(i);
  };
  await Promise.all(Array.from({ length: width }, lane));
  return answers;
}

describe('nginx limits', () => {
  // 1 r/m: no request of the test's gets a new slot while it runs (it takes seconds, not minutes).
  it('no header switches a device limit off; made-up devices share one budget; admins have theirs', async () => {
    const stack = await startStack({
      env: { DEVICE_RATE: '1r/m', DEVICE_BURST: '2', SITE_RATE: '1r/m', SITE_BURST: '40', ADMIN_RATE: '1r/m', ADMIN_BURST: '5' },
    });
    try {
      // One URL, with headers that used to lift the limit: 1 + burst (2) go through.
      const forged = await all(6, () => stack.api('GET', '/api/devices/chatty', { headers: { Authorization: 'x' } }));
      assert.ok(count(forged, 429) >= 3, `statuses: ${statuses(forged)}`);
      const bearer = await stack.api('GET', '/api/devices/chatty', { admin: true });
      assert.equal(bearer.status, 429, 'a valid token does not lift the device limit either');
      assert.deepEqual(bearer.json, { status: 'NOK', message: 'too many requests: slow down' });

      // A flood of made-up devices, each URL once: the address's budget (1 + 40, 7 of it used) ends it.
      const flood = await all(60, (i) => stack.api('GET', `/api/devices/made-up-${i}`, {
        headers: { Authorization: `Bearer forged-${i}` },
      }));
      assert.ok(count(flood, 429) >= 19, `statuses: ${statuses(flood)}`);
      assert.deepEqual(flood.find((r) => r.status === 429).json, { status: 'NOK', message: 'too many requests: slow down' });
      // The address's budget is spent: a monitor on the port is refused too, the probe socket not.
      assert.equal((await stack.api('GET', '/api/health')).status, 429);
      assert.equal(await stack.probeHealth(), 200, 'the probe socket counts in no limit');

      // Admin calls: untouched by the device flood, limited on their own (1 + burst 5).
      const admin = await all(10, () => stack.api('GET', '/api/stats', { admin: true }));
      const why = () => `statuses: ${statuses(admin)}; ${admin.find((r) => r.error)?.error ?? ''}; stack exit ` +
        `${stack.child.exitCode ?? stack.child.signalCode ?? 'none'}; its output: ${stack.logs().slice(-3000)}`;
      assert.ok(count(admin, 200) >= 6, why());
      assert.ok(count(admin, 429) >= 1, `statuses: ${statuses(admin)}`);
    } finally { await stack.stop(); }
  });

  // A site's 1,000 devices, each polling and sending a reading once a minute: 2,000 device calls a
  // minute from one address. The harshest shape of that load for a leaky bucket is the whole
  // minute's calls at once (a fleet powered up together stays in step), so here they go as fast
  // as the machine takes them; were they slower, the bucket would only have drained more. The
  // bucket drains a whole round in 40 s (SITE_RATE 3000r/m), before the next round comes.
  it('with the defaults, 1,000 devices behind one address polling and logging every minute get no 429', async () => {
    const stack = await startStack();
    try {
      const devices = 1000;
      const id = (i) => `5C:CF:7F:00:${String(Math.floor(i / 100)).padStart(2, '0')}:${String(i % 100).padStart(2, '0')}`;
      const answers = await pooled(2 * devices, 32, (i) => (i % 2
        ? stack.api('POST', `/api/devices/${id(i >> 1)}/telemetry`, { body: { v: 2, nonce: 'AAAAAAAAAAAAAAAA', data: 'AAAA' } })
        : stack.api('GET', `/api/devices/${id(i >> 1)}`)));
      // Every call reached provd (unknown devices: its 404), none was refused by a limit.
      assert.equal(count(answers, 429), 0, `429s: ${count(answers, 429)}`);
      assert.equal(count(answers, 404), 2 * devices, `statuses: ${[...new Set(statuses(answers))]}`);
    } finally { await stack.stop(); }
  });
});

describe('caps on new devices', () => {
  it('new devices from one address a minute: 429 as JSON; in all: 403; known devices always get in', async () => {
    const stack = await startStack({ env: { PROVD_REGISTRATIONS_PER_MIN: '3', PROVD_MAX_DEVICES: '4' } });
    const register = (id) => stack.api('POST', `/api/devices/${id}`, { body: { ipaddr: '10.0.0.9', ssid: 'site' } });
    try {
      for (const id of ['admin-1', 'admin-2']) {
        assert.equal((await stack.api('PUT', `/api/devices/${id}`, { admin: true, body: {} })).status, 201);
      }
      assert.equal((await register('new-1')).status, 201);
      assert.equal((await register('new-2')).status, 201);
      const full = await register('new-3');
      assert.equal(full.status, 403, full.text);
      assert.match(full.json.message, /PROVD_MAX_DEVICES/);
      assert.equal((await stack.api('GET', '/api/devices/new-3', { admin: true })).status, 404, 'nothing stored');

      assert.equal((await stack.api('DELETE', '/api/devices/admin-1', { admin: true })).status, 204);
      assert.equal((await register('new-3')).status, 201);
      assert.equal((await stack.api('DELETE', '/api/devices/admin-2', { admin: true })).status, 204);
      const flood = await register('new-4'); // room for it, but the address had its 3 this minute
      assert.equal(flood.status, 429, flood.text);
      assert.match(flood.headers.get('content-type'), /^application\/json/);
      assert.equal(flood.headers.get('retry-after'), '60');
      assert.deepEqual(flood.json, { status: 'NOK', message: 'too many new devices from your address: try again in a minute' });
      assert.equal((await stack.api('GET', '/api/devices/new-4', { admin: true })).status, 404, 'nothing stored');

      const known = await register('new-1');
      assert.equal(known.status, 200, known.text);
    } finally { await stack.stop(); }
  });
});
