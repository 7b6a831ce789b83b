// Locations, tags and bulk changes through real nginx + provd workers + the store (either backend):
// who may set a location, tags and the list's ?tag= in keyset pages, POST /api/bulk's actions,
// batches and bad input, concurrent bulk calls (and, on PostgreSQL, two hosts at once).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signedCall } from './lib/device.mjs';
import { pgBase, pgCreateDatabase, pgUri, startStack } from './lib/stack.mjs';

// Devices register from one address: the cap on new devices per address lifted.
const env = { PROVD_REGISTRATIONS_PER_MIN: '0', DEVICE_RATE: '10000r/s', DEVICE_BURST: '10000',
  SITE_RATE: '10000r/s', SITE_BURST: '10000' };
let stack;
before(async () => { stack = await startStack({ env }); });
after(async () => { await stack?.stop(); });

const api = (...args) => stack.api(...args);
const admin = (method, url, body) => api(method, url, { admin: true, body });
const view = async (id) => (await admin('GET', `/api/devices/${id}`)).json;
const bulk = (body, on = stack) => on.api('POST', '/api/bulk', { admin: true, body });
let serial = 0;
// count new devices registered by themselves (pending), ids PREFIX-01 ...
async function register(prefix, count, body = {}) {
  const ids = [];
  serial++;
  for (let i = 1; i <= count; i++) {
    const id = `${prefix}${serial}-${String(i).padStart(2, '0')}`;
    assert.equal((await api('POST', `/api/devices/${id}`, { body })).status, 201);
    ids.push(id);
  }
  return ids;
}
const listIds = async (query) => (await admin('GET', `/api/devices?${query}`)).json.map((d) => d.deviceid);

describe('location', () => {
  it('a device sends its location until an admin sets one; null hands it back', async () => {
    const [id] = await register('loc', 1, { location: 'shed' });
    assert.equal((await view(id)).location, 'shed');
    assert.equal((await api('POST', `/api/devices/${id}`, { body: { location: 'barn' } })).status, 200);
    assert.equal((await view(id)).location, 'barn');
    let r = await admin('PUT', `/api/devices/${id}`, { location: 'Greenhouse 2, row 4' });
    assert.equal(r.status, 200);
    assert.equal(r.json.location, 'Greenhouse 2, row 4');
    await api('POST', `/api/devices/${id}`, { body: { location: 'attic' } });
    assert.equal((await view(id)).location, 'Greenhouse 2, row 4', 'the admin\'s location stays');
    r = await admin('PUT', `/api/devices/${id}`, { location: null });
    assert.equal(r.json.location, '');
    await api('POST', `/api/devices/${id}`, { body: { location: 'attic' } });
    assert.equal((await view(id)).location, 'attic');
  });

  it('the list shows it and ?q= finds it, case-insensitively', async () => {
    const [id] = await register('where', 1, { location: 'Orchard Gate' });
    const found = (await admin('GET', '/api/devices?q=orchard%20GATE')).json;
    assert.deepEqual(found.map((d) => d.deviceid), [id]);
    assert.equal(found[0].location, 'Orchard Gate');
  });

  it('a keyed device\'s unsigned registration is refused and changes nothing', async () => {
    const [id] = await register('keyed', 1, { location: 'kept' });
    const { key } = (await admin('POST', `/api/devices/${id}/key`)).json;
    assert.equal((await api('POST', `/api/devices/${id}`, { body: { location: 'forged' } })).status, 401);
    assert.equal((await view(id)).location, 'kept');
    const r = await signedCall(stack, key, 'POST', `/api/devices/${id}`, { body: { location: 'signed' } });
    assert.equal(r.status, 200);
    assert.equal((await view(id)).location, 'signed');
  });

  it('bad locations get 400 naming the rule', async () => {
    const [id] = await register('badloc', 1);
    for (const location of ['x'.repeat(129), 'line\nbreak', 5]) {
      let r = await admin('PUT', `/api/devices/${id}`, { location });
      assert.equal(r.status, 400, JSON.stringify(location));
      assert.match(r.json.message, /^location must be/);
      r = await api('POST', `/api/devices/${id}`, { body: { location } });
      assert.equal(r.status, 400);
      assert.match(r.json.message, /^location must be/);
    }
    assert.equal((await admin('PUT', `/api/devices/${id}`, { location: 'ü'.repeat(128) })).status, 200);
  });
});

describe('tags', () => {
  it('PUT replaces them, folded to lower case, sorted, each once', async () => {
    const [id] = await register('tag', 1);
    assert.deepEqual((await view(id)).tags, []);
    let r = await admin('PUT', `/api/devices/${id}`, { tags: ['v2-board', 'Greenhouse', 'greenhouse'] });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.tags, ['greenhouse', 'v2-board']);
    r = await admin('PUT', `/api/devices/${id}`, { tags: ['v3'] });
    assert.deepEqual(r.json.tags, ['v3']);
    assert.deepEqual((await view(id)).tags, ['v3']);
  });

  it('?tag= lists the tagged devices in keyset pages; the Link keeps the tag', async () => {
    const ids = await register('page', 5);
    const tag = `page-${serial}`;
    for (const id of [ids[0], ids[2], ids[3], ids[4]]) await admin('PUT', `/api/devices/${id}`, { tags: [tag, 'other'] });
    let url = `/api/devices?limit=3&tag=${tag.toUpperCase()}`;
    const seen = [];
    for (let page = 0; url && page < 5; page++) {
      const r = await admin('GET', url);
      assert.equal(r.status, 200);
      seen.push(...r.json.map((d) => d.deviceid));
      const link = r.headers.get('link');
      if (link) assert.match(link, new RegExp(`tag=${tag}`));
      url = link?.match(/^<([^>]+)>/)?.[1];
    }
    assert.deepEqual(seen, [ids[0], ids[2], ids[3], ids[4]]);
    assert.deepEqual(await listIds(`tag=${tag}&sort=name&order=desc&limit=2`), [ids[4], ids[3]]);
  });

  it('bad tags get 400 naming the item', async () => {
    const [id] = await register('badtag', 1);
    const cases = [
      [['ok', 'a b'], /^tags\[1\] must be a tag/],
      [['x'.repeat(33)], /^tags\[0\] must be a tag/],
      [[7], /^tags\[0\] must be a tag/],
      [Array.from({ length: 17 }, (_, i) => `t${i}`), /^tags must hold at most 16/],
      ['greenhouse', /^tags must be an array/],
    ];
    for (const [tags, message] of cases) {
      const r = await admin('PUT', `/api/devices/${id}`, { tags });
      assert.equal(r.status, 400, JSON.stringify(tags));
      assert.match(r.json.message, message);
    }
    assert.deepEqual((await view(id)).tags, []);
    const r = await admin('GET', '/api/devices?tag=no%20way');
    assert.equal(r.status, 400);
    assert.match(r.json.message, /^tag must be/);
  });
});

describe('POST /api/bulk', () => {
  it('tag, untag and approve the devices a filter matches, with counts', async () => {
    const ids = await register('bulk', 4, { location: 'north field' });
    const [other] = await register('bulk', 1, { location: 'south field' });
    const tag = `b${serial}`;
    let r = await bulk({ action: 'tag', tag, filter: { q: 'north field', state: 'pending' } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { action: 'tag', affected: 4, more: false });
    assert.equal((await bulk({ action: 'tag', tag, filter: { q: 'north field' } })).json.affected, 0, 'tagged already');
    assert.deepEqual(await listIds(`tag=${tag}`), ids);
    r = await bulk({ action: 'approve', filter: { tag } });
    assert.deepEqual(r.json, { action: 'approve', affected: 4, more: false });
    assert.equal((await view(ids[0])).state, 'accepted');
    assert.equal((await view(other)).state, 'pending');
    r = await bulk({ action: 'untag', tag, ids: [ids[1], ids[3], other] });
    assert.equal(r.json.affected, 2);
    assert.deepEqual(await listIds(`tag=${tag}`), [ids[0], ids[2]]);
    // The most ids a call takes, at the longest, fit the body nginx takes.
    const longest = Array.from({ length: 200 }, (_, i) => `${'x'.repeat(60)}${String(i).padStart(4, '0')}`);
    r = await bulk({ action: 'approve', ids: longest });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.affected, 0);
  });

  it('set raises each changed device\'s cfgsn once, as a PUT does, and the device polls the new data', async () => {
    const ids = await register('set', 3);
    const tag = `s${serial}`;
    await bulk({ action: 'tag', tag, ids });
    await admin('PUT', `/api/devices/${ids[0]}`, { data: { period: 30, led: 'on' } });
    const before = await Promise.all(ids.map(view));
    let r = await bulk({ action: 'set', key: 'period', value: 30, filter: { tag } });
    assert.deepEqual(r.json, { action: 'set', affected: 2, more: false }, 'the first has it already');
    const after = await Promise.all(ids.map(view));
    assert.deepEqual(after.map((d) => d.cfgsn - before[ids.indexOf(d.deviceid)].cfgsn), [0, 1, 1]);
    assert.deepEqual(after[1].data, { period: 30 });
    r = await api('GET', `/api/devices/${ids[1]}`, { headers: { 'If-None-Match': `"${before[1].cfgsn}"` } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { cfgsn: before[1].cfgsn + 1, data: { period: 30 }, poll_interval: 60 });
    r = await bulk({ action: 'set', key: 'wifi', value: { ssid: 'lab', channels: [1, 6] }, filter: { tag } });
    assert.equal(r.json.affected, 3);
    assert.deepEqual((await view(ids[0])).data, { period: 30, led: 'on', wifi: { ssid: 'lab', channels: [1, 6] } });
  });

  it('works in batches of limit devices: more says to call again', async () => {
    const ids = await register('batch', 5);
    const tag = `batch${serial}`;
    const affected = [];
    for (let call = 0; call < 5; call++) {
      const r = await bulk({ action: 'tag', tag, filter: { q: ids[0].slice(0, -3) }, limit: 2 });
      affected.push([r.json.affected, r.json.more]);
      if (!r.json.more) break;
    }
    assert.deepEqual(affected, [[2, true], [2, true], [1, false]]);
    assert.deepEqual(await listIds(`tag=${tag}`), ids);
  });

  it('two concurrent calls change each device once between them', async () => {
    const ids = await register('race', 30);
    const tag = `race${serial}`;
    const filter = { q: ids[0].slice(0, -3) };
    const tagged = await Promise.all([bulk({ action: 'tag', tag, filter }), bulk({ action: 'tag', tag, filter })]);
    assert.equal(tagged[0].json.affected + tagged[1].json.affected, 30);
    const approved = await Promise.all([bulk({ action: 'approve', filter }), bulk({ action: 'approve', filter })]);
    assert.equal(approved[0].json.affected + approved[1].json.affected, 30);
    const before = await Promise.all(ids.map(view));
    const set = await Promise.all([1, 2].map((v) => bulk({ action: 'set', key: 'v', value: v, filter })));
    assert.deepEqual(set.map((r) => r.json.affected), [30, 30], 'different values: each call changes every device');
    const after = await Promise.all(ids.map(view));
    after.forEach((d, i) => assert.equal(d.cfgsn, before[i].cfgsn + 2, d.deviceid));
  });

  it('bad input gets 400 with a clear message', async () => {
    const cases = [
      [{}, /^action is required/],
      [{ action: 'delete', filter: {} }, /^action must be tag, untag, approve or set/],
      [{ action: 'approve' }, /^give either filter .* or ids/],
      [{ action: 'approve', filter: {}, ids: ['a'] }, /^give either filter/],
      [{ action: 'tag', filter: {} }, /^tag is required for tag/],
      [{ action: 'approve', tag: 'x', filter: {} }, /^tag is not taken by approve/],
      [{ action: 'tag', tag: 'no way', filter: {} }, /^tag must be a tag/],
      [{ action: 'set', key: 'a.b', value: 1, filter: {} }, /^key must be a property name/],
      [{ action: 'set', key: 'a', filter: {} }, /^key and value are required for set/],
      [{ action: 'approve', filter: { stat: 'pending' } }, /^filter: unknown field "stat"/],
      [{ action: 'approve', filter: { state: 'gone' } }, /^filter: state must be pending/],
      [{ action: 'approve', filter: { online: 'yes' } }, /^filter: online must be true or false/],
      [{ action: 'approve', filter: [] }, /^filter must be an object/],
      [{ action: 'approve', ids: ['ok', 'not/an/id'] }, /^ids\[1\] must be a device id/],
      [{ action: 'approve', ids: Array.from({ length: 201 }, (_, i) => `d${i}`) }, /^ids must hold at most 200/],
      [{ action: 'approve', filter: {}, limit: 0 }, /^limit must be from 1 to 5000/],
      [{ action: 'approve', filter: {}, dry_run: true }, /^unknown field "dry_run"/],
    ];
    for (const [body, message] of cases) {
      const r = await bulk(body);
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
      assert.match(r.json.message, message, JSON.stringify(body).slice(0, 80));
    }
    assert.equal((await api('POST', '/api/bulk', { body: { action: 'approve', filter: {} } })).status, 401);
  });
});

// Two hosts need a database both reach: PostgreSQL only.
if (pgBase) describe('two provd hosts on one PostgreSQL', () => {
  it('concurrent bulk calls on both hosts change each device once between them', async () => {
    const db = pgUri(pgCreateDatabase());
    const a = await startStack({ env: { ...env, PROVD_REGISTRATION: 'open', PROVD_DB: db } });
    const b = await startStack({ env: { ...env, PROVD_REGISTRATION: 'open', PROVD_DB: db, PROVD_KEY_FILE: a.keyFile } });
    b.token = a.token;
    try {
      for (let i = 0; i < 40; i++) assert.equal((await a.api('POST', `/api/devices/host-${i}`, { body: {} })).status, 201);
      const filter = { q: 'host-' };
      const tagged = await Promise.all([a, b, a, b].map((s) => bulk({ action: 'tag', tag: 'both', filter }, s)));
      assert.equal(tagged.reduce((n, r) => n + r.json.affected, 0), 40);
      const cap = Array.from({ length: 15 }, (_, i) => `c${i}`);
      await a.api('PUT', '/api/devices/host-0', { admin: true, body: { tags: cap } }); // 15: room for one more
      const more = await Promise.all(['x', 'y'].map((tag, i) => bulk({ action: 'tag', tag, ids: ['host-0'] }, [a, b][i])));
      assert.equal(more[0].json.affected + more[1].json.affected, 1, 'the cap of 16 holds across hosts');
      // Heartbeats of the same devices on both hosts meanwhile: their batched writes lock the
      // rows too, in id order as the bulk change does, so neither waits on the other in a cycle.
      const polls = Array.from({ length: 80 }, (_, i) => [a, b][i % 2].api('GET', `/api/devices/host-${i % 40}`,
        { headers: { 'If-None-Match': '"0"' } }));
      const set = await Promise.all([a, b].map((s, i) => bulk({ action: 'set', key: 'k', value: i, filter }, s)));
      assert.deepEqual(set.map((r) => r.json.affected), [40, 40]);
      for (const r of await Promise.all(polls)) assert.ok([200, 304].includes(r.status), r.text);
      const devices = (await a.api('GET', '/api/devices?q=host-&limit=100', { admin: true })).json;
      assert.equal(devices.length, 40);
      for (const d of devices) assert.equal(d.cfgsn, 2, d.deviceid);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
