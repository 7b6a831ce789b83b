// The audit trail and the fleet overview (issue 21) through real nginx and workers, on the
// suite's backend: each kind of admin change (API and provctl) makes exactly one entry with its
// actor, before and after; a refused change none; GET /api/audit pages by limit, since and the
// Link's cursor; no token or device key is in any stored entry; retention by PROVD_AUDIT_DAYS;
// GET /api/overview's counts and its reading id.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { v2 } from './lib/seal.mjs';
import { backend, provctlPath, startStack } from './lib/stack.mjs';
import { until } from './lib/wait.mjs';

let stack;
before(async () => { stack = await startStack({ env: { PROVD_REGISTRATION: 'open' } }); });
after(async () => { await stack?.stop(); });

const api = (...args) => stack.api(...args);
const osUser = os.userInfo().username;

// The whole audit table as the database holds it, as text.
function storedAudit() {
  const sql = 'SELECT id, at, via, actor, action, target, before, after FROM audit ORDER BY id';
  if (backend === 'postgresql') {
    return execFileSync('psql', ['-X', '-q', '-At', '-d', stack.db, '-c', sql], { encoding: 'utf8' });
  }
  return execFileSync('sqlite3', [stack.db, sql], { encoding: 'utf8' });
}

function sql(statement) {
  if (backend === 'postgresql') return execFileSync('psql', ['-X', '-q', '-At', '-d', stack.db, '-c', statement], { encoding: 'utf8' });
  return execFileSync('sqlite3', ['-cmd', '.timeout 5000', stack.db, statement], { encoding: 'utf8' });
}

// Every entry of the trail for query (newest first), following the Link header page by page.
async function allEntries(query = '') {
  const entries = [];
  let url = `/api/audit${query}`;
  while (url) {
    const r = await api('GET', url, { admin: true });
    assert.equal(r.status, 200, r.text);
    entries.push(...r.json);
    url = r.headers.get('link')?.match(/^<([^>]+)>; rel="next"$/)?.[1];
  }
  return entries;
}

async function newest(query = '') {
  const r = await api('GET', `/api/audit?limit=1${query ? `&${query}` : ''}`, { admin: true });
  assert.equal(r.status, 200, r.text);
  return r.json[0];
}

// The token's name: provctl recorded its creation, the stack's first entry.
async function tokenName() {
  const made = (await allEntries()).filter((e) => e.action === 'token.create');
  assert.equal(made.length, 1);
  assert.equal(made[0].via, 'provctl');
  assert.equal(made[0].actor, osUser);
  return made[0].target;
}

describe('audit trail', () => {
  it('each kind of admin change makes one entry, with the token, before and after', async () => {
    const token = await tokenName();
    const count = async () => (await allEntries()).length;
    let n = await count();

    let r = await api('PUT', '/api/devices/aud-1', { admin: true, body: { name: 'porch', data: { led: 'on' } } });
    assert.equal(r.status, 201, r.text);
    let e = await newest();
    assert.equal(await count(), ++n);
    assert.deepEqual({ via: e.via, actor: e.actor, action: e.action, target: e.target, before: e.before },
      { via: 'api', actor: token, action: 'device.create', target: 'aud-1', before: null });
    assert.deepEqual(e.after, { name: 'porch', state: 'accepted', location: '', tags: [], cfgsn: 0, poll_interval: null, firmware: null, data: { led: 'on' } });
    assert.ok(Math.abs(Date.parse(e.at) - Date.now()) < 60_000);

    r = await api('PUT', '/api/devices/aud-1', { admin: true, headers: { 'If-Match': '"0"' },
      body: { data: { led: 'off' }, poll_interval: 30, state: 'rejected' } });
    assert.equal(r.status, 200, r.text);
    e = await newest();
    assert.equal(await count(), ++n);
    assert.equal(e.action, 'device.update');
    assert.deepEqual(e.before, { name: 'porch', state: 'accepted', location: '', tags: [], cfgsn: 0, poll_interval: null, firmware: null, data: { led: 'on' } });
    assert.deepEqual(e.after, { name: 'porch', state: 'rejected', location: '', tags: [], cfgsn: 1, poll_interval: 30, firmware: null, data: { led: 'off' } });

    // Refused: a stale If-Match (412), a bad body (400), an unknown device (404): no entry.
    r = await api('PUT', '/api/devices/aud-1', { admin: true, headers: { 'If-Match': '"0"' }, body: { name: 'late' } });
    assert.equal(r.status, 412);
    r = await api('PUT', '/api/devices/aud-1', { admin: true, body: { poll_interval: 1 } });
    assert.equal(r.status, 400);
    assert.equal((await api('DELETE', '/api/devices/aud-none', { admin: true })).status, 404);
    assert.equal((await api('POST', '/api/devices/aud-none/key', { admin: true })).status, 404);
    assert.equal(await count(), n);
    assert.equal((await api('GET', '/api/devices/aud-1', { admin: true })).json.name, 'porch');

    r = await api('POST', '/api/devices/aud-1/key', { admin: true });
    assert.equal(r.status, 201, r.text);
    e = await newest();
    assert.equal(await count(), ++n);
    assert.deepEqual({ action: e.action, actor: e.actor, before: e.before, after: e.after },
      { action: 'device.key', actor: token, before: null, after: { key: 'changed' } });

    stack.provctl(['device', 'key', 'aud-1', '--set'], 'the operator passphrase\n');
    e = await newest();
    assert.equal(await count(), ++n);
    assert.deepEqual({ via: e.via, actor: e.actor, action: e.action, after: e.after },
      { via: 'provctl', actor: osUser, action: 'device.key', after: { key: 'changed' } });

    stack.provctl(['token', 'create', 'aud-extra']);
    e = await newest();
    assert.deepEqual({ action: e.action, target: e.target, after: e.after },
      { action: 'token.create', target: 'aud-extra', after: { expires: null } });
    assert.throws(() => stack.provctl(['token', 'create', 'aud-extra']), /exists/);
    stack.provctl(['token', 'revoke', 'aud-extra']);
    e = await newest();
    assert.deepEqual({ action: e.action, target: e.target }, { action: 'token.revoke', target: 'aud-extra' });
    assert.throws(() => stack.provctl(['token', 'revoke', 'aud-extra']), /no token/);
    n += 2;
    assert.equal(await count(), n, 'a refused create or revoke makes no entry');

    r = await api('DELETE', '/api/devices/aud-1', { admin: true });
    assert.equal(r.status, 204);
    e = await newest();
    assert.equal(await count(), ++n);
    assert.equal(e.action, 'device.delete');
    assert.equal(e.before.state, 'rejected');
    assert.equal(e.after, null);

    const history = await allEntries('?device=aud-1');
    assert.deepEqual(history.map((h) => h.action),
      ['device.delete', 'device.key', 'device.key', 'device.update', 'device.create']);
  });

  it('a device\'s location and tags are in its entries; a bulk change is one entry with its request and count', async () => {
    let r = await api('PUT', '/api/devices/aud-t1', { admin: true, body: { name: 'shed' } });
    assert.equal(r.status, 201, r.text);
    r = await api('PUT', '/api/devices/aud-t1', { admin: true, body: { location: 'Shed 2', tags: ['Greenhouse', 'v2-board'] } });
    assert.equal(r.status, 200, r.text);
    let e = await newest();
    assert.equal(e.action, 'device.update');
    assert.deepEqual([e.before.location, e.before.tags, e.after.location, e.after.tags],
      ['', [], 'Shed 2', ['greenhouse', 'v2-board']]);
    assert.equal((await api('PUT', '/api/devices/aud-t2', { admin: true, body: {} })).status, 201);

    const before = (await allEntries()).length;
    r = await api('POST', '/api/bulk', { admin: true, body: { action: 'tag', tag: 'greenhouse', ids: ['aud-t1', 'aud-t2'] } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.affected, 1); // aud-t1 has it already
    e = await newest();
    assert.deepEqual({ action: e.action, target: e.target, before: e.before, after: e.after }, {
      action: 'devices.bulk', target: 'devices', before: null,
      after: { request: { action: 'tag', tag: 'greenhouse', ids: ['aud-t1', 'aud-t2'] }, affected: 1 },
    });
    // Nothing changed, nothing recorded; a refused call neither.
    r = await api('POST', '/api/bulk', { admin: true, body: { action: 'tag', tag: 'greenhouse', ids: ['aud-t1', 'aud-t2'] } });
    assert.equal(r.json.affected, 0);
    assert.equal((await api('POST', '/api/bulk', { admin: true, body: { action: 'tag', ids: ['aud-t1'] } })).status, 400);
    assert.equal((await allEntries()).length, before + 1);
    assert.deepEqual((await api('GET', '/api/devices/aud-t2', { admin: true })).json.tags, ['greenhouse']);
  });

  it('pages by limit and the Link cursor, from since; bad parameters are a 400 naming them', async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal((await api('PUT', '/api/devices/aud-page', { admin: true, body: { name: `n${i}` } })).status,
        i === 0 ? 201 : 200);
    }
    const all = await allEntries('?device=aud-page');
    assert.equal(all.length, 5);
    assert.deepEqual(all.map((e) => e.after.name), ['n4', 'n3', 'n2', 'n1', 'n0']);
    const paged = await allEntries('?device=aud-page&limit=2');
    assert.deepEqual(paged.map((e) => e.id), all.map((e) => e.id));
    let r = await api('GET', '/api/audit?device=aud-page&limit=2', { admin: true });
    assert.match(r.headers.get('link'), /^<\/api\/audit\?limit=2&after=\d+&device=aud-page>; rel="next"$/);
    r = await api('GET', `/api/audit?device=aud-page&after=${all[1].id}&limit=2`, { admin: true });
    assert.deepEqual(r.json.map((e) => e.id), [all[2].id, all[3].id]);

    const since = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    r = await api('GET', `/api/audit?since=${since}`, { admin: true });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, []);
    r = await api('GET', `/api/audit?device=aud-page&since=${all[4].at}`, { admin: true });
    assert.equal(r.json.length, 5);

    for (const [query, field] of [['limit=0', 'limit'], ['limit=501', 'limit'], ['after=x', 'after'],
      ['since=today', 'since'], ['device=a%2Fb', 'device']]) {
      r = await api('GET', `/api/audit?${query}`, { admin: true });
      assert.equal(r.status, 400, query);
      assert.equal(r.json.status, 'NOK');
      assert.match(r.json.message, new RegExp(`^${field} `));
    }
    assert.equal((await api('GET', '/api/audit')).status, 401);
  });

  it('concurrent changes each record the device as the change found it; of racing If-Match, one', async () => {
    assert.equal((await api('PUT', '/api/devices/aud-race', { admin: true, body: { data: { v: -1 } } })).status, 201);
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) =>
      api('PUT', '/api/devices/aud-race', { admin: true, body: { data: { v: i } } })));
    assert.deepEqual(answers.map((r) => r.status), Array(16).fill(200));
    const chain = (await allEntries('?device=aud-race')).reverse(); // oldest first
    assert.equal(chain.length, 17);
    for (let i = 1; i < chain.length; i++) {
      assert.deepEqual(chain[i].before, chain[i - 1].after, `entry ${i} starts where entry ${i - 1} ended`);
      assert.equal(chain[i].after.cfgsn, i);
    }

    const racing = await Promise.all(Array.from({ length: 8 }, (_, i) => api('PUT', '/api/devices/aud-race',
      { admin: true, headers: { 'If-Match': '"16"' }, body: { data: { winner: i } } })));
    assert.deepEqual(racing.map((r) => r.status).sort(), [200, 412, 412, 412, 412, 412, 412, 412]);
    const entries = await allEntries('?device=aud-race');
    assert.equal(entries.length, 18);
    assert.deepEqual(entries[0].after.data, racing.find((r) => r.status === 200).json.data);
    assert.equal(entries[0].after.cfgsn, 17);
  });

  it('no token and no device key is in any stored entry', async () => {
    assert.equal((await api('PUT', '/api/devices/aud-secret', { admin: true, body: { name: 's' } })).status, 201);
    const key = (await api('POST', '/api/devices/aud-secret/key', { admin: true })).json.key;
    stack.provctl(['device', 'key', 'aud-secret', '--set'], 'another operator passphrase\n');
    const extra = stack.provctl(['token', 'create', 'aud-secret-token']);
    const stored = storedAudit();
    assert.match(stored, /device\.key/);
    for (const secret of [stack.token, extra, key, 'another operator passphrase']) {
      assert.equal(stored.includes(secret), false);
    }
    if (backend === 'sqlite') { // nor in any byte of the database's files
      const bytes = Buffer.concat(['', '-wal'].map((s) => fs.readFileSync(`${stack.db}${s}`)));
      for (const secret of [stack.token, extra, key]) assert.equal(bytes.indexOf(secret), -1);
    }
  });

  it('provctl prune deletes the entries older than PROVD_AUDIT_DAYS', async () => {
    const old = Math.floor(Date.now() / 1000) - 40 * 86400;
    sql(`INSERT INTO audit (at, via, actor, action, target) VALUES (${old}, 'api', 'old', 'device.update', 'aud-old')`);
    assert.equal((await allEntries('?device=aud-old')).length, 1);
    const before = (await allEntries()).length;
    const out = execFileSync(provctlPath, ['--db', stack.db, 'prune'],
      { encoding: 'utf8', env: { ...process.env, PROVD_AUDIT_DAYS: '30' } });
    assert.match(out, /deleted 1 audit entries older than 30 days/);
    assert.equal((await allEntries('?device=aud-old')).length, 0);
    assert.equal((await allEntries()).length, before - 1);
  });
});

describe('fleet overview', () => {
  // The overview's counts are as of its counted_at (a host keeps a slow count a while: on a busy
  // machine, even a small fleet's): one counted in a later second than now, so after what came before.
  const countedAfterNow = async () => {
    const now = Math.floor(Date.now() / 1000);
    return until('an overview counted after ' + new Date(now * 1000).toISOString(), async () => {
      const r = await api('GET', '/api/overview', { admin: true });
      assert.equal(r.status, 200, r.text);
      return Date.parse(r.json.counted_at) / 1000 > now && r.json;
    }, 10_000, 100);
  };

  it('counts devices by state and liveness, and its reading id rises by one per reading taken', async () => {
    let r;
    const first = await countedAfterNow();
    assert.equal(first.by_firmware, null);
    assert.equal(first.devices, first.by_state.pending + first.by_state.accepted + first.by_state.rejected);
    assert.equal(first.devices, first.by_liveness.online + first.by_liveness.overdue + first.by_liveness.offline);
    assert.ok(Array.isArray(first.recently_offline));

    assert.equal((await api('POST', '/api/devices/ov-1', { body: { ipaddr: '10.0.0.5' } })).status, 201);
    assert.equal((await api('PUT', '/api/devices/ov-never', { admin: true, body: {} })).status, 201);
    const key = (await api('POST', '/api/devices/ov-1/key', { admin: true })).json.key;
    for (let seqn = 1; seqn <= 3; seqn++) {
      r = await api('POST', '/api/devices/ov-1/telemetry', { body: v2(JSON.stringify({ SEQN: seqn, t: seqn }), key, 'ov-1') });
      assert.equal(r.status, 201, r.text);
    }
    r = await api('POST', '/api/devices/ov-1/telemetry', { body: v2(JSON.stringify({ SEQN: 3 }), key, 'ov-1') });
    assert.equal(r.status, 409);
    const later = await countedAfterNow();
    assert.equal(later.devices, first.devices + 2);
    assert.equal(later.by_state.accepted, first.by_state.accepted + 2);
    assert.equal(later.by_liveness.online, first.by_liveness.online + 1);
    assert.equal(later.by_liveness.offline, first.by_liveness.offline + 1, 'never seen counts as offline');
    assert.equal(later.readings.last_id - first.readings.last_id, 3);
    assert.equal((await api('GET', '/api/overview')).status, 401);
  });

  it('by_firmware counts the versions devices report running, most devices first', async () => {
    for (const [id, fw] of [['ov-f1', '1.0.0'], ['ov-f2', '2.0.0'], ['ov-f3', '2.0.0']])
      assert.equal((await api('POST', `/api/devices/${id}`, { body: { fw } })).status, 201);
    // A slow read of the versions is kept a while as the counts are: the new one comes soon.
    const want = JSON.stringify({ '2.0.0': 2, '1.0.0': 1 });
    await until(`by_firmware ${want}`, async () =>
      JSON.stringify((await api('GET', '/api/overview', { admin: true })).json.by_firmware) === want, 10_000, 100);
  });
});
