// Several provd hosts on one PostgreSQL, as an operator runs them: two stacks (each its own nginx
// and workers) on one database, with the invariants that must hold while both write at once
// (SEQN, cfgsn, registration), a host killed under load, and PostgreSQL restarted under load.
// Each test file run gets a PostgreSQL cluster of its own (scripts/pg-cluster.sh), since the
// restart test restarts it. PostgreSQL-only: two hosts need a database both reach.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { v2 } from './lib/seal.mjs';
import { descendants, freePort, startStack, top } from './lib/stack.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const KEY = '000102030405060708090a0b0c0d0e0f';
const pgCluster = path.join(top, 'scripts/pg-cluster.sh');
// Load from one address: nginx's limits and the cap on new devices per address lifted.
const env = { PROVD_REGISTRATION: 'open', PROVD_FLEET_KEY: KEY, DEVICE_RATE: '10000r/s', DEVICE_BURST: '10000',
  SITE_RATE: '10000r/s', SITE_BURST: '10000', PROVD_REGISTRATIONS_PER_MIN: '0' };

const reading = (id, seqn) => JSON.stringify(v2(JSON.stringify({ SEQN: seqn }), KEY, id));
const postReading = (stack, id, seqn, body = reading(id, seqn)) => stack.api('POST', `/api/devices/${id}/telemetry`,
  { body, headers: { 'Content-Type': 'application/json' } });
const seqnsOf = async (stack, id) =>
  (await stack.api('GET', `/api/devices/${id}/telemetry?limit=1000&order=asc`, { admin: true })).json.map((r) => r.seqn);
const count = (list, value) => list.filter((v) => v === value).length;

// A PostgreSQL cluster of this file's own, under build/, and a fresh database in it per test.
let pgDir;
let pgBase;
let databases = 0;
before(async () => {
  if (!process.env.PROVD_TEST_PG) return;
  pgDir = fs.mkdtempSync(path.join(top, 'build/pg-cluster-test-'));
  pgBase = execFileSync(pgCluster, ['start', pgDir, String(await freePort())], { encoding: 'utf8' }).trim();
});
after(() => {
  if (!pgDir) return;
  spawnSync(pgCluster, ['stop', pgDir], { stdio: 'inherit' });
  fs.rmSync(pgDir, { recursive: true, force: true });
});

function newDatabase() {
  const name = `cluster_${process.pid}_${++databases}`;
  execFileSync(pgCluster, ['createdb', pgDir, name]);
  return pgBase + name;
}

// Two hosts on one new database; the second host's token is the first's (one database), and so
// is its server key file (device keys are sealed under it).
async function twoHosts(extra = {}) {
  const db = newDatabase();
  const a = await startStack({ env: { ...env, ...extra, PROVD_DB: db } });
  const b = await startStack({ env: { ...env, ...extra, PROVD_DB: db, PROVD_KEY_FILE: a.keyFile } });
  b.token = a.token;
  return [a, b];
}

const stopAll = (...stacks) => Promise.all(stacks.map((s) => s?.stop()));

// Defined in the PostgreSQL run of the suite only (PROVD_TEST_PG): SQLite serves one host.
if (process.env.PROVD_TEST_PG) describe('two provd hosts on one PostgreSQL', () => {
  it('the same reading sent to both hosts at once is stored once: one 201 and one 409', async () => {
    const [a, b] = await twoHosts();
    try {
      for (let i = 0; i < 20; i++) {
        const id = `twice-${i}`;
        assert.equal((await a.api('POST', `/api/devices/${id}`, { body: {} })).status, 201);
        const body = reading(id, 1);
        const statuses = (await Promise.all([postReading(a, id, 1, body), postReading(b, id, 1, body)]))
          .map((r) => r.status).sort();
        assert.deepEqual(statuses, [201, 409], `${id}: ${statuses}`);
        assert.deepEqual(await seqnsOf(b, id), [1]);
      }
    } finally { await stopAll(a, b); }
  });

  it('50 concurrent PUTs with If-Match over both hosts: one 2xx per cfgsn, 412 for the rest', async () => {
    const [a, b] = await twoHosts();
    try {
      assert.equal((await a.api('POST', '/api/devices/contended', { body: {} })).status, 201);
      let etag = (await a.api('GET', '/api/devices/contended', { admin: true })).headers.get('etag');
      const winners = [];
      let refused = 0;
      for (let round = 0; round < 5; round++) {
        const puts = Array.from({ length: 10 }, (_, i) => (i % 2 ? b : a).api('PUT', '/api/devices/contended',
          { admin: true, headers: { 'If-Match': etag }, body: { data: { round, writer: i } } }));
        const answers = await Promise.all(puts);
        const ok = answers.filter((r) => r.status === 200);
        assert.equal(ok.length, 1, `round ${round}: ${answers.map((r) => r.status)}`);
        assert.ok(answers.every((r) => r.status === 200 || r.status === 412), answers.map((r) => r.status).join());
        refused += answers.length - ok.length;
        winners.push(ok[0].json.cfgsn);
        etag = ok[0].headers.get('etag');
      }
      assert.deepEqual(winners, [1, 2, 3, 4, 5], 'each cfgsn was given once');
      assert.equal(refused, 45);
      const now = (await b.api('GET', '/api/devices/contended', { admin: true })).json;
      assert.equal(now.cfgsn, 5);
      assert.equal(now.data.round, 4);
    } finally { await stopAll(a, b); }
  });

  it('30 concurrent first registrations of one id over both hosts: one row, one 201, no 5xx', async () => {
    const [a, b] = await twoHosts();
    try {
      for (let i = 0; i < 5; i++) {
        const id = `first-${i}`;
        const answers = await Promise.all(Array.from({ length: 30 },
          (_, n) => (n % 2 ? b : a).api('POST', `/api/devices/${id}`, { body: { ipaddr: `10.0.0.${n}` } })));
        const statuses = answers.map((r) => r.status);
        assert.equal(count(statuses, 201), 1, statuses.join());
        assert.equal(count(statuses, 200), 29, statuses.join());
        const list = await a.api('GET', `/api/devices?q=${id}`, { admin: true });
        assert.deepEqual(list.json.map((d) => d.deviceid), [id]);
      }
    } finally { await stopAll(a, b); }
  });

  it('a host killed -9 under ingest: every acknowledged reading is stored, the other host answers throughout', async () => {
    const [a, b] = await twoHosts();
    try {
      const ids = ['hostkill-0', 'hostkill-1', 'hostkill-2', 'hostkill-3'];
      for (const id of ids) assert.equal((await a.api('POST', `/api/devices/${id}`, { body: {} })).status, 201);
      const acknowledged = new Map(ids.map((id) => [id, []]));
      let aDead = false;
      // Each device alternates hosts; once host a is gone its requests fail and go to b.
      const stream = async (id, n) => {
        for (let seqn = 1; seqn <= 60; seqn++) {
          let r;
          const first = (seqn + n) % 2 ? a : b;
          try { r = await postReading(first, id, seqn); } catch { r = { status: 0 }; }
          const resent = r.status === 0 || r.status >= 500;
          if (resent) r = await postReading(b, id, seqn);
          assert.ok(r.status === 201 || (resent && r.status === 409), `${id} SEQN ${seqn}: ${r.status} ${r.text ?? ''}`);
          if (r.status === 201) acknowledged.get(id).push(seqn);
          if (first === b) assert.ok(r.status < 500, `host b answered ${r.status}`);
        }
      };
      const killer = async () => {
        await sleep(300);
        for (const p of descendants(a.child.pid)) {
          try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
        }
        try { process.kill(a.child.pid, 'SIGKILL'); } catch { /* already gone */ }
        aDead = true;
      };
      await Promise.all([...ids.map(stream), killer()]);
      assert.ok(aDead);
      for (const id of ids) {
        const stored = await seqnsOf(b, id);
        assert.deepEqual(stored, Array.from({ length: 60 }, (_, i) => i + 1), `${id}: every SEQN stored once`);
        for (const seqn of acknowledged.get(id)) assert.ok(stored.includes(seqn));
      }
      assert.ok([...acknowledged.values()].flat().length > 200, 'most readings were acknowledged at once');
    } finally { await stopAll(a, b); }
  });

  it('PostgreSQL restarted under load: JSON 503s within 2 s during, service back by itself, nothing acknowledged lost', async () => {
    const [a, b] = await twoHosts();
    try {
      const ids = ['restart-0', 'restart-1'];
      for (const id of ids) assert.equal((await a.api('POST', `/api/devices/${id}`, { body: {} })).status, 201);
      const acknowledged = new Map(ids.map((id) => [id, []]));
      const unavailable = [];
      let restarted = false;
      const stream = async (id, n) => {
        let seqn = 1;
        for (let sent = 0; sent < 400 && (!restarted || acknowledged.get(id).length < 40 || seqn < 50); sent++) {
          const host = (sent + n) % 2 ? a : b;
          const t0 = Date.now();
          const r = await postReading(host, id, seqn);
          const took = Date.now() - t0;
          if (r.status === 201) { acknowledged.get(id).push(seqn); seqn++; continue; }
          if (r.status === 409) { seqn++; continue; } // stored by an attempt whose answer was lost
          assert.equal(r.status, 503, `${id} SEQN ${seqn}: ${r.status} ${r.text}`);
          assert.match(r.headers.get('content-type'), /^application\/json(;|$)/, 'nginx adds its charset');
          assert.equal(r.json.status, 'NOK');
          assert.ok(took < 2500, `a 503 took ${took} ms`);
          unavailable.push(took);
          await sleep(50);
        }
      };
      const restart = async () => {
        await sleep(400);
        spawnSync(pgCluster, ['stop', pgDir], { stdio: 'inherit' });
        await sleep(1500); // down for a while: every call meanwhile is a 503
        const down = await a.api('GET', '/api/devices/restart-0');
        assert.equal(down.status, 503, down.text);
        spawnSync(pgCluster, ['restart', pgDir], { stdio: 'inherit' });
        restarted = true;
      };
      await Promise.all([...ids.map(stream), restart()]);
      assert.ok(unavailable.length > 0, 'some calls met the database down');
      for (const id of ids) {
        const stored = await seqnsOf(a, id);
        for (const seqn of acknowledged.get(id)) assert.ok(stored.includes(seqn), `${id} SEQN ${seqn} acknowledged and lost`);
        assert.ok(acknowledged.get(id).length >= 40, `${id} went on after the restart`);
      }
      assert.equal((await b.api('GET', '/api/health')).status, 200);
    } finally { await stopAll(a, b); }
  });

  it('a wrong or unreachable PROVD_DB stops the stack at once with one clear line', async () => {
    const unreachable = `postgresql://provd:secretpw@127.0.0.1:${await freePort()}/nowhere`;
    const r = spawnSync(path.join(top, 'build/provd'), ['--check'], { env: { ...process.env, PROVD_DB: unreachable }, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^provd: .*127\.0\.0\.1/);
    assert.doesNotMatch(r.stderr, /secretpw/, 'the password is never printed');
    const bad = spawnSync(path.join(top, 'build/provd'), ['--check'], { env: { ...process.env, PROVD_DB: 'postgresql://[nope' }, encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  });

  it('a PROVD_RUN_DIR provd cannot write to stops it with one line naming it', () => {
    const missing = path.join(os.tmpdir(), `provd-no-run-dir-${process.pid}`);
    const r = spawnSync(path.join(top, 'build/provd'), ['--check'],
      { env: { ...process.env, PROVD_DB: path.join(os.tmpdir(), 'provd-run-dir-never.db'), PROVD_RUN_DIR: missing }, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`PROVD_RUN_DIR: ${missing} is not a directory provd can write to`));
  });
});
