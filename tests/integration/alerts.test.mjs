// Offline alerts (PROVD_ALERT_WEBHOOK) through the real stack: provd-alerts, started by
// scripts/stack.sh, POSTs to a real HTTP receiver of this test's. A device that stops polling
// turns overdue, then offline, and online again when it polls: exactly those alerts, in order,
// each under one id; also while the receiver answers 503 or refuses connections for a while, when
// provd-alerts is killed with SIGKILL, and (PostgreSQL) with two hosts on one database, each with
// its own provd-alerts. Devices poll every 5 s (the shortest interval), so a device is overdue 21 s
// after its last poll and offline 26 s after it; the tests wait for conditions, never for times.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { backend, descendants, pgBase, pgCreateDatabase, pgDropDatabase, pgUri, startStack, top } from './lib/stack.mjs';

const SECRET = 'alert-secret';
const FLEET_KEY = '000102030405060708090a0b0c0d0e0f';
const env = (rx) => ({
  PROVD_REGISTRATION: 'open', PROVD_FLEET_KEY: FLEET_KEY, PROVD_POLL_INTERVAL: '5', PROVD_ALERT_WEBHOOK: rx.url, PROVD_ALERT_SECRET: SECRET,
  PROVD_ALERT_SWEEP_MS: '200', PROVD_ALERT_RETRY_MAX_S: '1',
});
const CYCLE = ['online>overdue', 'overdue>offline', 'offline>online'];

// Waits until cond() is true, checking every 200 ms; fails naming what after a generous deadline.
async function until(what, cond, deadlineMs = 180000) {
  const end = Date.now() + deadlineMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

// A webhook receiver on loopback: mode 'ok' (204) or '503'; down() refuses connections until up().
class Receiver {
  constructor() {
    this.mode = 'ok';
    this.deliveries = []; // { id, body, raw, signature } of each 2xx, in arrival order
    this.refused = 0;     // requests answered 503
  }

  async up() {
    this.server = http.createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (d) => { raw += d; });
      req.on('end', () => {
        if (this.mode === '503') {
          this.refused++;
          res.writeHead(503).end();
          return;
        }
        this.deliveries.push({ id: req.headers['x-provd-alert-id'], body: JSON.parse(raw), raw,
          signature: req.headers['x-provd-signature'] });
        res.writeHead(204).end();
      });
    });
    this.server.listen(this.port ?? 0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = this.server.address().port;
    this.url = `http://127.0.0.1:${this.port}/hook`;
    return this;
  }

  async down() {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }

  // Each alert once, in the order of its first delivery; a repeated delivery must be the same body.
  distinct() {
    const seen = new Map();
    for (const d of this.deliveries) {
      if (seen.has(d.id)) assert.equal(d.raw, seen.get(d.id).raw, `alert ${d.id} delivered twice with different bodies`);
      else seen.set(d.id, d);
    }
    return [...seen.values()];
  }

  // A device's alerts as from>to, in delivery order.
  transitions(device) {
    return this.distinct().filter((d) => d.body.device === device).map((d) => `${d.body.from}>${d.body.to}`);
  }
}

const register = (stack, id) => stack.api('POST', `/api/devices/${id}`, { body: { ipaddr: '10.0.0.9', ssid: 'lab' } });
const poll = (stack, id) => stack.api('GET', `/api/devices/${id}`);

async function metric(stack, name) {
  const res = await stack.api('GET', '/api/metrics', { admin: true });
  const m = res.text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}

// One value from the database at uri (PostgreSQL), and the sweeper's lock (lib/store_pg.c's ALERT_LOCK).
const sql = (uri, query) => execFileSync('psql', ['-X', '-q', '-A', '-t', '-d', uri, '-c', query], { encoding: 'utf8' }).trim();
const LEAD_LOCK = "locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = 7073400002 "
  + 'AND database = (SELECT oid FROM pg_database WHERE datname = current_database())'; // pg_locks is the server's

const alertsPids = (stack) => descendants(stack.child.pid).filter((p) => /provd-alerts/.test(p.args)
  && !/bash/.test(p.args)).map((p) => p.pid);

// The alerts of one device came as one cycle, in order, ids rising, each body as documented.
function assertCycle(rx, device) {
  assert.deepEqual(rx.transitions(device), CYCLE);
  const alerts = rx.distinct().filter((d) => d.body.device === device);
  const ids = alerts.map((d) => BigInt(d.id));
  assert.ok(ids[0] < ids[1] && ids[1] < ids[2], `ids rise: ${ids}`);
  for (const a of alerts) {
    assert.equal(a.body.id, a.id);
    assert.equal(a.body.kind, a.body.to);
    assert.equal(a.body.subject, device);
    assert.match(a.body.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(a.body.lastseen, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const mac = crypto.createHmac('sha256', SECRET).update(a.raw).digest('hex');
    assert.equal(a.signature, `sha256=${mac}`);
  }
}

// Runs body(stack) on a stack of one worker sending its alerts to rx, whose logs are printed when
// body fails; stops both after.
async function withStack(rx, body) {
  const stack = await startStack({ env: env(rx), workers: 1 });
  try {
    await body(stack);
  } catch (err) {
    console.log(stack.logs());
    throw err;
  } finally {
    await stack.stop();
    await rx.down();
  }
}

describe(`offline alerts (${backend})`, { concurrency: true }, () => {
  it('overdue, offline and online again: exactly those alerts, in order, signed, without the key', async () => {
    const rx = await new Receiver().up();
    await withStack(rx, async (stack) => {
      assert.equal((await register(stack, 'dev-a')).status, 201);
      await until('overdue and offline', () => rx.transitions('dev-a').length >= 2);
      assert.equal((await poll(stack, 'dev-a')).status, 200);
      await until('online', () => rx.transitions('dev-a').length >= 3);
      assertCycle(rx, 'dev-a');
      const first = rx.distinct()[0].body;
      assert.equal(first.name, '');
      assert.deepEqual(Object.keys(first).sort(), ['device', 'from', 'id', 'kind', 'lastseen', 'name', 'subject', 'time', 'to']);
      assert.ok(!rx.deliveries.some((d) => d.raw.includes(FLEET_KEY)), 'no alert carries the device key');
      await until('the outbox empty', async () => (await metric(stack, 'provd_alerts_pending')) === 0);
      assert.ok(await metric(stack, 'provd_alerts_sent_total') >= 3);
      assert.equal(await metric(stack, 'provd_alerts_failed_total'), 0);
    });
  });

  it('the receiver answering 503, then refusing connections, then back: every alert delivered, in order', async () => {
    const rx = await new Receiver().up();
    rx.mode = '503';
    await withStack(rx, async (stack) => {
      assert.equal((await register(stack, 'dev-b')).status, 201);
      await until('the overdue alert refused twice', () => rx.refused >= 2);
      await rx.down();
      await until('the offline alert in the outbox', async () => (await metric(stack, 'provd_alerts_pending')) >= 2);
      assert.equal((await poll(stack, 'dev-b')).status, 200);
      await until('the online alert in the outbox', async () => (await metric(stack, 'provd_alerts_pending')) >= 3);
      assert.equal(rx.deliveries.length, 0);
      rx.mode = 'ok';
      await rx.up();
      await until('all three delivered', () => rx.transitions('dev-b').length >= 3);
      assertCycle(rx, 'dev-b');
      await until('the outbox empty', async () => (await metric(stack, 'provd_alerts_pending')) === 0);
      assert.match(stack.logs(), /event=alert_retry/);
    });
  });

  it('provd-alerts killed with SIGKILL and started again: nothing lost', async () => {
    const rx = await new Receiver().up();
    rx.mode = '503';
    await withStack(rx, async (stack) => {
      assert.equal((await register(stack, 'dev-c')).status, 201);
      await until('the overdue alert tried', () => rx.refused >= 1);
      const [killed] = alertsPids(stack);
      assert.ok(killed, 'provd-alerts runs');
      process.kill(killed, 'SIGKILL');
      await until('provd-alerts started again', () => alertsPids(stack).some((p) => p !== killed));
      rx.mode = 'ok';
      await until('overdue and offline', () => rx.transitions('dev-c').length >= 2);
      process.kill(alertsPids(stack)[0], 'SIGKILL'); // again, between two alerts
      assert.equal((await poll(stack, 'dev-c')).status, 200);
      await until('online', () => rx.transitions('dev-c').length >= 3);
      assertCycle(rx, 'dev-c');
    });
  });

  // PostgreSQL only (two hosts need a database both reach): run by the suite's PostgreSQL pass.
  if (pgBase) it('two hosts on one PostgreSQL: each alert under one id, none missing, the leader killed, its connection broken', async () => {
    const rx = await new Receiver().up();
    const name = pgCreateDatabase();
    const db = pgUri(name);
    const a = await startStack({ env: { ...env(rx), PROVD_DB: db }, workers: 1 });
    const b = await startStack({ env: { ...env(rx), PROVD_DB: db, PROVD_KEY_FILE: a.keyFile }, workers: 1 });
    const devices = ['host-1', 'host-2', 'host-3'];
    try {
      for (const [i, id] of devices.entries()) assert.equal((await register(i % 2 ? b : a, id)).status, 201);
      await until('both hosts run provd-alerts', () => alertsPids(a).length > 0 && alertsPids(b).length > 0);
      await until('every overdue alert', () => devices.every((d) => rx.transitions(d).length >= 1));
      const leader = /event=alerts_lead msg="this process/.test(a.logs()) ? a : b;
      process.kill(alertsPids(leader)[0], 'SIGKILL');
      await until('every offline alert', () => devices.every((d) => rx.transitions(d).length >= 2));
      // The leading session's connection broken under it (its advisory lock goes with it): a
      // provd-alerts reconnects and takes the lead again, here or on the other host.
      assert.equal(sql(db, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE ${LEAD_LOCK}`), '1');
      for (const [i, id] of devices.entries()) assert.equal((await poll(i % 2 ? a : b, id)).status, 200);
      await until('every online alert', () => devices.every((d) => rx.transitions(d).length >= 3));
      await until('one leader again', () => sql(db, `SELECT count(*) FROM pg_locks WHERE ${LEAD_LOCK}`) === '1');
      for (const d of devices) assertCycle(rx, d);
      // Not one transition under two ids: no host sent an alert the other had decided too.
      const keys = rx.distinct().map((d) => `${d.body.device} ${d.body.from}>${d.body.to}`);
      assert.equal(new Set(keys).size, keys.length);
      assert.equal(keys.length, 3 * devices.length);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      pgDropDatabase(name);
      await rx.down();
    }
  });

  it('provd-alerts refuses a bad setting with one line and exit 78, naming the variable', () => {
    for (const [name, value] of [['PROVD_ALERT_WEBHOOK', 'ftp://example.org/'], ['PROVD_ALERT_WEBHOOK', 'http://a b/'],
      ['PROVD_ALERT_SWEEP_MS', '10'], ['PROVD_ALERT_RETRY_MAX_S', 'x']]) {
      const run = spawnSync(path.join(top, 'build/provd-alerts'), [], { encoding: 'utf8',
        env: { PATH: process.env.PATH, PROVD_DB: '/nonexistent/provd.sqlite3', PROVD_ALERT_WEBHOOK: 'http://127.0.0.1:9/', [name]: value } });
      assert.equal(run.status, 78, `${name}=${value}: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(`^provd-alerts: ${name} must be`));
    }
  });
});
