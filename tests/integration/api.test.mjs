// The HTTP API through real nginx + provd workers + the store: every endpoint, status and error path
// of the core server, starting with the seed's flow (register, poll, admin edit, new cfgsn, 304).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { backend, startStack, workerPids } from './lib/stack.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

const api = (...args) => stack.api(...args);

describe('seed flow', () => {
  it('register, poll, admin edit, the device sees the higher cfgsn, then 304', async () => {
    const id = '5C:CF:7F:00:00:01';
    let r = await api('POST', `/api/devices/${id}`, { body: { ipaddr: '192.168.1.20', ssid: 'home' } });
    assert.equal(r.status, 201);
    assert.deepEqual(r.json, { status: 'OK', message: 'Device Registered' });

    r = await api('GET', `/api/devices/${id}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { cfgsn: 0, data: {}, poll_interval: 60 });
    assert.equal(r.headers.get('etag'), '"0"');

    r = await api('PUT', `/api/devices/${id}`, { admin: true, body: { name: 'porch', data: { led: 'on', period: 5 } } });
    assert.equal(r.status, 200);
    assert.equal(r.json.cfgsn, 1);
    assert.equal(r.json.name, 'porch');

    r = await api('GET', `/api/devices/${id}`, { headers: { 'If-None-Match': '"0"' } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { cfgsn: 1, data: { led: 'on', period: 5 }, poll_interval: 60 });

    r = await api('GET', `/api/devices/${id}?cfgsn=1`, { headers: { 'If-None-Match': '"1"' } });
    assert.equal(r.status, 304);
    assert.equal(r.text, '');
    assert.equal(r.headers.get('etag'), '"1"');
    r = await api('GET', `/api/devices/${id}?cfgsn=1`, { headers: { 'If-None-Match': '"1"' } });
    assert.equal(r.status, 304, 'applied already stored: the 304 read from the poll index');
    assert.equal(r.headers.get('etag'), '"1"');
    r = await api('GET', '/api/devices/never-seen-here', { headers: { 'If-None-Match': '"1"' } });
    assert.equal(r.status, 404);

    r = await api('GET', `/api/devices?q=${encodeURIComponent(id)}`, { admin: true });
    const dev = r.json.find((d) => d.deviceid === id);
    assert.equal(dev.cfgsn_applied, 1, 'the ?cfgsn= of the poll is stored');
    assert.equal(dev.online, true);
    assert.equal(dev.liveness, 'online');
    assert.match(dev.lastseen, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(dev.datec, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(Date.parse(dev.next_expected) - Date.parse(dev.lastseen), 60_000);
    assert.equal(dev.ipaddr, '192.168.1.20');
    assert.equal(dev.ssid, 'home');
  });

  it('a known device registering again gets 200 with what it may know of itself, and its new address is stored', async () => {
    const id = 'reboot01';
    assert.equal((await api('POST', `/api/devices/${id}`, { body: { ipaddr: '10.0.0.1', ssid: 'a' } })).status, 201);
    const r = await api('POST', `/api/devices/${id}`, { body: { ipaddr: 'fe80::1', ssid: 'b' } });
    assert.equal(r.status, 200);
    assert.equal(r.json.deviceid, id);
    assert.equal(r.json.name, '');
    for (const hidden of ['ipaddr', 'ssid', 'state', 'data', 'lastseen', 'has_key', 'last_seqn', 'key']) {
      assert.equal(hidden in r.json, false, hidden);
    }
    const seen = (await api('GET', `/api/devices/${id}`, { admin: true })).json;
    assert.equal(seen.ipaddr, 'fe80::1');
    assert.equal(seen.ssid, 'b');
    assert.equal(seen.state, 'pending');
  });

  it('an unknown device polling gets 404 Device NOT Registered', async () => {
    const r = await api('GET', '/api/devices/never-registered');
    assert.equal(r.status, 404);
    assert.deepEqual(r.json, { status: 'NOK', message: 'Device NOT Registered' });
  });
});

describe('heartbeat times', () => {
  // Kept back at most 0.5 s, they show within about 0.6 s; asserted with room for a busy machine
  // (three test files at once on two cores), which still catches times held until some later event.
  it('heartbeats through either worker show in the list within 0.6 s (asserted: 4 s)', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `hbtime-${String(i).padStart(2, '0')}`);
    for (const id of ids) assert.equal((await api('POST', `/api/devices/${id}`, { body: {} })).status, 201);
    await sleep(1100); // heartbeats in a later second than the registrations
    const second = {};
    for (const id of ids) {
      second[id] = Math.floor(Date.now() / 1000) * 1000;
      assert.equal((await api('GET', `/api/devices/${id}`)).status, 200);
    }
    const sent = Date.now();
    const workersBefore = workerPids(stack).join(' ');
    let late = ids;
    let seen = {};
    while (late.length > 0 && Date.now() - sent < 10_000) {
      const r = await api('GET', '/api/devices?q=hbtime-&limit=50', { admin: true });
      seen = Object.fromEntries(r.json.map((d) => [d.deviceid, Date.parse(d.lastseen)]));
      late = ids.filter((id) => !(seen[id] >= second[id]));
      if (late.length > 0) await sleep(50);
    }
    const why = late.map((id) => `${id}: heartbeat in ${second[id]}, lastseen ${seen[id]}`).join('; ');
    assert.deepEqual(late, [], `every heartbeat is in the list (${why}; workers ${workersBefore}, then ` +
      `${workerPids(stack).join(' ')}); provd's log: ${stack.logs().slice(-2000)}`);
    assert.ok(Date.now() - sent < 4000, `shown after ${Date.now() - sent} ms`);
    // SQLite only: its one writer takes every worker's writes; PostgreSQL's workers write themselves.
    if (backend === 'sqlite') assert.ok(fs.existsSync(`${stack.db}-writer.sock`), 'one worker writes for the stack');
  });
});

describe('validation', () => {
  const cases = [
    ['POST', '/api/devices/ok1', { ipaddr: '300.1.1.1' }, 'ipaddr'],
    ['POST', '/api/devices/ok1', { ipaddr: 12 }, 'ipaddr'],
    ['POST', '/api/devices/ok1', { ssid: 'x'.repeat(33) }, 'ssid'],
    ['PUT', '/api/devices/ok1', { name: 'n'.repeat(65) }, 'name'],
    ['PUT', '/api/devices/ok1', { data: { blob: 'x'.repeat(8200) } }, 'data'],
    ['PUT', '/api/devices/ok1', { state: 'approved' }, 'state'],
    ['PUT', '/api/devices/ok1', { poll_interval: 1 }, 'poll_interval'],
    ['PUT', '/api/devices/ok1', { cfgsn: -3 }, 'cfgsn'],
  ];
  for (const [method, url, body, field] of cases) {
    it(`${method} ${JSON.stringify(body).slice(0, 40)} -> 400 naming ${field}`, async () => {
      const r = await api(method, url, { body, admin: method === 'PUT' });
      assert.equal(r.status, 400);
      assert.equal(r.json.status, 'NOK');
      assert.ok(r.json.message.startsWith(field), r.json.message);
    });
  }

  it('a 64-character name of multi-byte characters is accepted, 65 are not', async () => {
    let r = await api('PUT', '/api/devices/utf8name', { admin: true, body: { name: 'é'.repeat(64) } });
    assert.equal(r.status, 201);
    assert.equal(r.json.name, 'é'.repeat(64));
    r = await api('PUT', '/api/devices/utf8name', { admin: true, body: { name: 'é'.repeat(65) } });
    assert.equal(r.status, 400);
  });

  it('device ids: 64 characters pass, 65 and forbidden characters are 400', async () => {
    assert.equal((await api('POST', `/api/devices/${'a'.repeat(64)}`, { body: {} })).status, 201);
    for (const bad of ['a'.repeat(65), 'has%20space', 'semi%3Bcolon', '%C3%A9t%C3%A9']) {
      const r = await api('POST', `/api/devices/${bad}`, { body: {} });
      assert.equal(r.status, 400, bad);
      assert.match(r.json.message, /^deviceid/);
    }
  });

  it('bodies that are not one JSON object are 400', async () => {
    for (const body of ['{', '[1,2]', '"text"', '{"ipaddr":"1.2.3.4"} trailing', '{"ssid":"\u0000"}x']) {
      const r = await api('POST', '/api/devices/ok2', { body, headers: { 'Content-Type': 'application/json' } });
      assert.equal(r.status, 400, body);
      assert.equal(r.json.status, 'NOK');
    }
  });

  it('JSON that json-c would take but RFC 8259 does not is 400, so devices never get it back', async () => {
    for (const body of ['{"data":{"x":NaN}}', '{"data":{"x":Infinity}}', '{"data":{"x":1.}}', "{'data':1}",
      '{"data":{"x":007}}', '{"name":"a","name":"b"}', '{"name":"\u0000"}']) {
      const r = await api('PUT', '/api/devices/strict01', { admin: true, body, headers: { 'Content-Type': 'application/json' } });
      assert.equal(r.status, 400, body);
    }
    const r = await api('GET', '/api/devices/strict01', { admin: true });
    assert.equal(r.status, 404, 'nothing was stored');
  });

  it('malformed query values are 400', async () => {
    for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'state=nope', 'online=maybe', 'after=bad%20id']) {
      const r = await api('GET', `/api/devices?${q}`, { admin: true });
      assert.equal(r.status, 400, q);
    }
    assert.equal((await api('GET', '/api/devices/ok1?cfgsn=-1')).status, 400);
  });

  it('a body over 16 KiB is refused by nginx with a JSON 413', async () => {
    const r = await api('POST', '/api/devices/big', { body: { ssid: 'x'.repeat(17000) } });
    assert.equal(r.status, 413);
    assert.equal(r.json.status, 'NOK');
  });
});

describe('admin authentication', () => {
  it('admin routes need a valid bearer token', async () => {
    for (const headers of [{}, { Authorization: 'Bearer nope' }, { Authorization: 'Basic abc' }]) {
      const r = await api('GET', '/api/devices', { headers });
      assert.equal(r.status, 401);
      assert.equal(r.json.status, 'NOK');
      assert.match(r.headers.get('www-authenticate'), /^Bearer/);
    }
    assert.equal((await api('PUT', '/api/devices/x1', { body: { name: 'a' } })).status, 401);
    assert.equal((await api('DELETE', '/api/devices/x1')).status, 401);
    assert.equal((await api('POST', '/api/devices/x1/key')).status, 401);
    assert.equal((await api('GET', '/api/stats')).status, 401);
  });

  it('a token in the query string is refused even when it is valid', async () => {
    const r = await api('GET', `/api/devices?access_token=${stack.token}`);
    assert.equal(r.status, 401);
    assert.match(r.json.message, /query string/);
    assert.equal((await api('GET', `/api/devices?token=${stack.token}`, { admin: true })).status, 401);
  });
});

describe('routes', () => {
  it('GET /api/ and /api/health answer without a token', async () => {
    let r = await api('GET', '/api/');
    assert.equal(r.status, 200);
    assert.equal(r.json.message, 'REST API');
    r = await api('GET', '/api/health');
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'OK');
  });

  it('unknown routes are 404 and wrong methods 405 with Allow', async () => {
    let r = await api('GET', '/api/nothing');
    assert.equal(r.status, 404);
    assert.equal(r.json.status, 'NOK');
    r = await api('DELETE', '/api/devices');
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET');
    r = await api('PATCH', '/api/devices/abc');
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, POST, PUT, DELETE');
  });

  it('CORS: nginx answers preflights and adds the headers; security headers are set', async () => {
    const res = await fetch(`${stack.base}/api/devices`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://example.test', 'Access-Control-Request-Method': 'PUT' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-methods'), /PUT/);
    assert.match(res.headers.get('access-control-allow-headers'), /Authorization/);
    const r = await api('GET', '/api/');
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.match(r.headers.get('content-security-policy'), /default-src 'self'/);
  });
});

describe('admin device management', () => {
  it('cfgsn rises only when data changes; an explicit higher cfgsn is accepted', async () => {
    const id = 'cfg01';
    await api('POST', `/api/devices/${id}`, { body: {} });
    let r = await api('PUT', `/api/devices/${id}`, { admin: true, body: { data: { a: 1 } } });
    assert.equal(r.json.cfgsn, 1);
    r = await api('PUT', `/api/devices/${id}`, { admin: true, body: { data: { a: 1 }, name: 'same data' } });
    assert.equal(r.json.cfgsn, 1, 'same data: no new serial');
    r = await api('PUT', `/api/devices/${id}`, { admin: true, body: { data: { a: 2 }, cfgsn: 7 } });
    assert.equal(r.json.cfgsn, 7, 'the original frontend sends its own higher cfgsn');
    r = await api('PUT', `/api/devices/${id}`, { admin: true, body: { data: { a: 3 }, cfgsn: 2 } });
    assert.equal(r.json.cfgsn, 8, 'a lower explicit cfgsn is ignored');
    assert.equal(r.headers.get('etag'), '"8"');
  });

  it('If-Match on a device that is gone is 412, not a re-creation', async () => {
    const r = await api('PUT', '/api/devices/gone01', { admin: true, headers: { 'If-Match': '"0"' }, body: { name: 'x' } });
    assert.equal(r.status, 412);
    assert.equal((await api('GET', '/api/devices/gone01', { admin: true })).status, 404);
  });

  it('If-Match guards against lost updates', async () => {
    const id = 'cfg02';
    await api('POST', `/api/devices/${id}`, { body: {} });
    let r = await api('PUT', `/api/devices/${id}`, { admin: true, headers: { 'If-Match': '"0"' }, body: { data: { x: 1 } } });
    assert.equal(r.status, 200);
    r = await api('PUT', `/api/devices/${id}`, { admin: true, headers: { 'If-Match': '"0"' }, body: { data: { x: 2 } } });
    assert.equal(r.status, 412);
    assert.equal(r.json.status, 'NOK');
    r = await api('GET', `/api/devices/${id}`, { admin: true });
    assert.deepEqual(r.json.data, { x: 1 }, 'the stale write changed nothing');
    r = await api('PUT', `/api/devices/${id}`, { admin: true, headers: { 'If-Match': 'garbage' }, body: {} });
    assert.equal(r.status, 400);
  });

  it('approval: pending devices poll; rejected devices get 403; open and accept', async () => {
    const id = 'state01';
    await api('POST', `/api/devices/${id}`, { body: {} });
    assert.equal((await api('GET', `/api/devices/${id}`)).status, 200, 'pending devices can still poll');
    let r = await api('PUT', `/api/devices/${id}`, { admin: true, body: { state: 'rejected' } });
    assert.equal(r.json.state, 'rejected');
    r = await api('GET', `/api/devices/${id}`);
    assert.equal(r.status, 403);
    r = await api('GET', `/api/devices/${id}`, { headers: { 'If-None-Match': '"0"' } });
    assert.equal(r.status, 403, 'holding its configuration does not spare a rejected device');
    assert.equal((await api('POST', `/api/devices/${id}`, { body: {} })).status, 403);
    await api('PUT', `/api/devices/${id}`, { admin: true, body: { state: 'accepted' } });
    assert.equal((await api('GET', `/api/devices/${id}`)).status, 200);
  });

  it('poll interval: per-device override and back to the default', async () => {
    const id = 'interval01';
    await api('POST', `/api/devices/${id}`, { body: {} });
    await api('PUT', `/api/devices/${id}`, { admin: true, body: { poll_interval: 15 } });
    assert.equal((await api('GET', `/api/devices/${id}`)).json.poll_interval, 15);
    await api('PUT', `/api/devices/${id}`, { admin: true, body: { poll_interval: null } });
    assert.equal((await api('GET', `/api/devices/${id}`)).json.poll_interval, 60);
  });

  it('the admin view of one device is not a heartbeat', async () => {
    const r = await api('PUT', '/api/devices/admin-made', { admin: true, body: { name: 'by hand' } });
    assert.equal(r.status, 201);
    assert.equal(r.json.state, 'accepted');
    const v = await api('GET', '/api/devices/admin-made', { admin: true });
    assert.equal(v.status, 200);
    assert.equal(v.json.lastseen, null);
    assert.equal(v.json.liveness, 'offline');
  });

  it('delete removes the device: 204, then 404', async () => {
    await api('POST', '/api/devices/del01', { body: {} });
    assert.equal((await api('DELETE', '/api/devices/del01', { admin: true })).status, 204);
    assert.equal((await api('GET', '/api/devices/del01')).status, 404);
    assert.equal((await api('DELETE', '/api/devices/del01', { admin: true })).status, 404);
  });

  it('a new device key is shown once and never again', async () => {
    await api('POST', '/api/devices/key01', { body: {} });
    const r = await api('POST', '/api/devices/key01/key', { admin: true });
    assert.equal(r.status, 201);
    assert.match(r.json.key, /^[0-9a-f]{32}$/);
    const all = [await api('GET', '/api/devices', { admin: true }), await api('GET', '/api/devices/key01', { admin: true }),
      await api('GET', '/api/devices/key01'), await api('POST', '/api/devices/key01', { body: {} })];
    for (const x of all) assert.equal(x.text.includes(r.json.key), false);
    assert.equal(all[1].json.has_key, true);
    assert.equal((await api('POST', '/api/devices/nokey/key', { admin: true })).status, 404);
  });

  it('SQL injection attempts are stored literally', async () => {
    const evil = "x'); DROP TABLE devices; --";
    const r = await api('PUT', '/api/devices/inject01', { admin: true, body: { name: evil, data: { q: "' OR 1=1 --" } } });
    assert.equal(r.status, 201);
    const back = await api('GET', `/api/devices?q=${encodeURIComponent("DROP TABLE")}`, { admin: true });
    assert.equal(back.json.length, 1);
    assert.equal(back.json[0].name, evil);
    assert.deepEqual(back.json[0].data, { q: "' OR 1=1 --" });
    assert.equal((await api('GET', "/api/devices?q=%27%20OR%201%3D1%20--", { admin: true })).json.length, 0);
  });
});

// The ids of every page from url on, following Link: <...>; rel="next"; each next url must match keep.
async function walkPages(url, keep) {
  const seen = [];
  for (let guard = 0; url && guard < 10; guard++) {
    const r = await api('GET', url, { admin: true });
    assert.equal(r.status, 200);
    seen.push(...r.json.map((d) => d.deviceid));
    const link = r.headers.get('link');
    url = link ? link.match(/^<([^>]+)>; rel="next"$/)[1] : null;
    if (url) assert.match(url, keep);
  }
  return seen;
}

describe('device list', () => {
  before(async () => {
    for (let i = 0; i < 7; i++) await api('POST', `/api/devices/page-${i}`, { body: {} });
    await api('PUT', '/api/devices/page-3', { admin: true, body: { name: 'Garden Pump', state: 'accepted' } });
  });

  it('keyset pages follow the Link header to the end, keeping the filters', async () => {
    const seen = await walkPages('/api/devices?limit=3&q=page-', /q=page-/);
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6].map((i) => `page-${i}`));
  });

  it('filters by state, online and name substring (case-insensitive)', async () => {
    let r = await api('GET', '/api/devices?state=accepted&q=page', { admin: true });
    assert.deepEqual(r.json.map((d) => d.deviceid), ['page-3']);
    r = await api('GET', '/api/devices?q=garden%20PUMP', { admin: true });
    assert.deepEqual(r.json.map((d) => d.deviceid), ['page-3']);
    r = await api('GET', '/api/devices?online=false&q=admin-made', { admin: true });
    assert.ok(r.json.every((d) => d.online === false));
    r = await api('GET', '/api/devices?online=true&q=page-', { admin: true });
    assert.equal(r.json.length, 7);
  });

  it('sorts by a column across pages through nginx: the Link keeps sort and order', async () => {
    const names = { 'sort-0': 'Pump', 'sort-1': 'Attic', 'sort-2': 'Pump', 'sort-3': 'Boiler', 'sort-4': 'Pump' };
    for (const [id, name] of Object.entries(names)) {
      await api('POST', `/api/devices/${id}`, { body: {} });
      await api('PUT', `/api/devices/${id}`, { admin: true, body: { name } });
    }
    await api('PUT', '/api/devices/sort-5', { admin: true, body: { name: 'Boiler' } }); // never seen
    const seen = await walkPages('/api/devices?limit=2&q=sort-&sort=name&order=desc', /&q=sort-&sort=name&order=desc$/);
    assert.deepEqual(seen, ['sort-4', 'sort-2', 'sort-0', 'sort-5', 'sort-3', 'sort-1']);

    // Never seen sorts as the longest ago: first oldest-first.
    const r = await api('GET', '/api/devices?q=sort-&sort=lastseen', { admin: true });
    assert.equal(r.json[0].deviceid, 'sort-5');
    assert.equal(r.json[0].lastseen, null);
    for (const [query, field] of [['sort=liveness', 'sort'], ['sort=name%3Bx', 'sort'], ['order=down', 'order']]) {
      const bad = await api('GET', `/api/devices?${query}`, { admin: true });
      assert.equal(bad.status, 400);
      assert.match(bad.json.message, new RegExp(`^${field} `));
    }
  });

  it('stats count devices, online and pending', async () => {
    const r = await api('GET', '/api/stats', { admin: true });
    assert.equal(r.status, 200);
    const list = (await api('GET', '/api/devices?limit=1000', { admin: true })).json;
    assert.equal(r.json.devices, list.length);
    assert.equal(r.json.pending, list.filter((d) => d.state === 'pending').length);
    assert.equal(r.json.online, list.filter((d) => d.online).length);
    assert.equal(typeof r.json.readings, 'number');
  });
});
