// Staged rollouts through the real stack (nginx + provd workers, which sweep every second with
// PROVD_ROLLOUT_SWEEP=1): devsim devices updated stage by stage to 100% with no request needed to
// move a stage; an emergency stop when --fail-update failures pass the threshold; pause, resume
// and cancel; one active rollout per tag; bad input refused with 400s naming the field.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { devsim, failsUpdates } from './lib/devsim.mjs';
import { pgCreateDatabase, pgDropDatabase, pgUri, startStack } from './lib/stack.mjs';
import { until as waitFor } from './lib/wait.mjs';

const KEY = crypto.randomBytes(16).toString('hex');

let stack;
before(async () => {
  stack = await startStack({
    env: { PROVD_REGISTRATION: 'open', PROVD_FLEET_KEY: KEY, PROVD_POLL_INTERVAL: '5', PROVD_ROLLOUT_SWEEP: '1',
      PROVD_REGISTRATIONS_PER_MIN: '0', SITE_RATE: '100000r/s', SITE_BURST: '100000' },
  });
  for (const v of ['2.0', '3.0']) {
    const res = await fetch(`${stack.base}/api/firmware?version=${v}`, {
      method: 'POST', body: crypto.randomBytes(30000),
      headers: { Authorization: `Bearer ${stack.token}`, 'Content-Type': 'application/octet-stream' },
    });
    assert.equal(res.status, 201, await res.text());
  }
});
after(async () => { await stack?.stop(); });

const admin = (method, path, body) => stack.api(method, path, { admin: true, body });



const ids = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

// n devsim devices running 1.0, registered (through host `on`) and tagged; devsim runs until stopped.
async function fleet(prefix, n, tag, extra = [], on = stack) {
  const sim = devsim(['--server', on.base, '--devices', String(n), '--id-prefix', prefix, '--key', KEY,
    '--interval', '1', '--telemetry-every', '0', '--firmware-version', '1.0', '--duration', '55', ...extra]);
  await waitFor(`${prefix} devices to register`, async () => {
    const r = await admin('GET', `/api/devices?q=${prefix}&limit=500`);
    return r.status === 200 && r.json.length === n;
  }, 15000);
  const bulk = await admin('POST', '/api/bulk', { action: 'tag', tag, ids: ids(prefix, n) });
  assert.equal(bulk.status, 200, bulk.text);
  assert.equal(bulk.json.affected, n);
  return sim;
}

async function rollout(id) {
  const r = await admin('GET', `/api/rollouts/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// The rollout once it is in state (a generous deadline: stages wait for devices' polls).
const rolloutIn = (id, state, ms) =>
  waitFor(`rollout ${id} to be ${state}`, async () => { const r = await rollout(id); return r.state === state && r; }, ms);

describe('staged rollouts', () => {
  it('refuses bad input with 400s naming the field, and unknown rollouts with 404', async () => {
    const good = { firmware: '2.0', tag: 'nothing', stages: [5, 25, 100], success_threshold: 95,
      failure_threshold: 5, timeout: 3600 };
    const cases = [
      [{ ...good, stages: [5, 5, 100] }, /stages/],
      [{ ...good, stages: [5, 25] }, /stages/],
      [{ ...good, stages: [0, 100] }, /stages/],
      [{ ...good, stages: [50.5, 100] }, /stages/],
      [{ ...good, stages: [] }, /stages/],
      [{ ...good, stages: 'all' }, /stages/],
      [{ ...good, success_threshold: 101 }, /success_threshold/],
      [{ ...good, failure_threshold: -1 }, /failure_threshold/],
      [{ ...good, timeout: 0 }, /timeout/],
      [{ ...good, timeout: 99999999 }, /timeout/],
      [{ ...good, tag: 'no spaces' }, /tag/],
      [{ ...good, firmware: '9.9' }, /firmware 9.9 does not exist/],
      [{ ...good, firmware: undefined }, /firmware is required/],
      [{ ...good, extra: 1 }, /extra/],
    ];
    for (const [body, why] of cases) {
      const r = await admin('POST', '/api/rollouts', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.match(r.json.message, why);
    }
    assert.equal((await admin('GET', '/api/rollouts/999999')).status, 404);
    assert.equal((await admin('GET', '/api/rollouts/abc')).status, 404);
    assert.equal((await admin('POST', '/api/rollouts/999999/pause')).status, 404);
    assert.equal((await stack.api('POST', '/api/rollouts', { body: good })).status, 401);
  });

  it('moves devsim devices stage by stage to 100% with no request needed', async () => {
    const n = 10;
    const sim = await fleet('ro-', n, 'ro');
    const made = await admin('POST', '/api/rollouts', { firmware: '2.0', tag: 'ro', stages: [10, 50, 100],
      success_threshold: 100, failure_threshold: 20, timeout: 600 });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.json.state, 'running');
    assert.equal(made.json.stage, 1);
    assert.deepEqual(made.json.progress.map((p) => p.devices), [1]); // ceil(10% x 10)
    const dup = await admin('POST', '/api/rollouts', { firmware: '2.0', tag: 'ro', stages: [100],
      success_threshold: 100, failure_threshold: 20, timeout: 600 });
    assert.equal(dup.status, 409, dup.text);
    const done = await rolloutIn(made.json.id, 'done', 45000);
    sim.child.kill('SIGTERM');
    await sim.result;
    assert.equal(done.stage, 3);
    assert.deepEqual(done.progress.map((p) => [p.stage, p.percent, p.devices, p.installed, p.failed]),
      [[1, 10, 1, 1, 0], [2, 50, 4, 4, 0], [3, 100, 5, 5, 0]]);
    for (const id of ids('ro-', n)) {
      const d = (await admin('GET', `/api/devices/${id}`)).json;
      assert.equal(d.firmware_running, '2.0', id);
      assert.equal(d.firmware_status, 'installed', id);
    }
    const audit = await admin('GET', '/api/audit?limit=50');
    assert.ok(audit.json.some((e) => e.action === 'rollout.create' && e.target === String(made.json.id)));
  });

  it('pauses itself when failures pass the threshold (emergency stop), and no later stage starts', async () => {
    const n = 10;
    const first = ids('rf-', n).slice(0, 5);
    assert.ok(first.some((id) => failsUpdates(id, 50)), 'a failing device in stage 1');
    const sim = await fleet('rf-', n, 'rf', ['--fail-update', '50']);
    const made = await admin('POST', '/api/rollouts', { firmware: '2.0', tag: 'rf', stages: [50, 100],
      success_threshold: 60, failure_threshold: 10, timeout: 600 });
    assert.equal(made.status, 201, made.text);
    const stopped = await rolloutIn(made.json.id, 'paused', 40000);
    sim.child.kill('SIGTERM');
    await sim.result;
    assert.match(stopped.reason, /^emergency stop: \d+ of \d+ devices offered failed \(threshold 10%\)$/);
    assert.equal(stopped.stage, 1);
    assert.equal(stopped.progress.length, 1);
    for (const id of ids('rf-', n).slice(5))
      assert.equal((await admin('GET', `/api/devices/${id}`)).json.firmware_status, 'none', id);
  });

  it('pauses, resumes and cancels; cancel clears devices not yet offered', async () => {
    for (const id of ids('rp-', 4)) {
      const r = await admin('PUT', `/api/devices/${id}`, { name: id, state: 'accepted', tags: ['rp'] });
      assert.equal(r.status, 201, r.text);
    }
    const made = await admin('POST', '/api/rollouts', { firmware: '3.0', tag: 'RP', stages: [50, 100],
      success_threshold: 50, failure_threshold: 50, timeout: 60 });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.json.tag, 'rp');
    const id = made.json.id;
    assert.equal((await admin('POST', `/api/rollouts/${id}/resume`)).status, 409);
    const paused = await admin('POST', `/api/rollouts/${id}/pause`);
    assert.equal(paused.status, 200, paused.text);
    assert.equal(paused.json.state, 'paused');
    assert.equal((await admin('POST', `/api/rollouts/${id}/pause`)).status, 409);
    assert.equal((await admin('POST', `/api/rollouts/${id}/resume`)).json.state, 'running');
    assert.equal((await admin('GET', '/api/devices/rp-0000')).json.firmware_status, 'pending');
    const cancelled = await admin('POST', `/api/rollouts/${id}/cancel`);
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal(cancelled.json.state, 'cancelled');
    assert.equal((await admin('POST', `/api/rollouts/${id}/cancel`)).status, 409);
    const d = (await admin('GET', '/api/devices/rp-0000')).json;
    assert.equal(d.firmware, null);
    assert.equal(d.firmware_status, 'none');
    const list = await admin('GET', '/api/rollouts');
    assert.ok(list.json.some((r) => r.id === id && r.state === 'cancelled'));
    const actions = (await admin('GET', '/api/audit?limit=50')).json
      .filter((e) => e.target === String(id)).map((e) => e.action);
    assert.deepEqual(actions, ['rollout.cancel', 'rollout.resume', 'rollout.pause', 'rollout.create']);
    const again = await admin('POST', '/api/rollouts', { firmware: '3.0', tag: 'rp', stages: [100],
      success_threshold: 50, failure_threshold: 50, timeout: 60 });
    assert.equal(again.status, 201, again.text);
  });
});

// Stages started per sweep, as the workers log them (event=rollout_sweep ... stages=N).
const stagesLogged = (s) => [...s.logs().matchAll(/event=rollout_sweep msg="stages=(\d+)/g)]
  .reduce((sum, m) => sum + Number(m[1]), 0);

// PostgreSQL only: two hosts (their own nginx and 2 workers each) on one database, all four
// workers sweeping every second.
if (process.env.PROVD_TEST_PG) describe('two provd hosts on one PostgreSQL', () => {
  it('evaluate one rollout at once: each stage starts once', async () => {
    const name = pgCreateDatabase();
    const env = { PROVD_REGISTRATION: 'open', PROVD_FLEET_KEY: KEY, PROVD_POLL_INTERVAL: '5',
      PROVD_ROLLOUT_SWEEP: '1', PROVD_REGISTRATIONS_PER_MIN: '0', SITE_RATE: '100000r/s', SITE_BURST: '100000',
      PROVD_DB: pgUri(name) };
    const a = await startStack({ env });
    const b = await startStack({ env: { ...env, PROVD_KEY_FILE: a.keyFile } });
    b.token = a.token;
    const sims = [];
    try {
      const up = await fetch(`${a.base}/api/firmware?version=2.0`, { method: 'POST', body: crypto.randomBytes(20000),
        headers: { Authorization: `Bearer ${a.token}`, 'Content-Type': 'application/octet-stream' } });
      assert.equal(up.status, 201);
      const saved = stack;
      stack = a; // fleet() and admin() talk to host a; the devices poll either host
      try {
        sims.push(await fleet('ta-', 10, 'two', [], a));
        sims.push(await fleet('tb-', 10, 'two', [], b));
        const made = await admin('POST', '/api/rollouts', { firmware: '2.0', tag: 'two',
          stages: [20, 40, 60, 80, 100], success_threshold: 100, failure_threshold: 50,
          timeout: 600 });
        assert.equal(made.status, 201, made.text);
        const done = await rolloutIn(made.json.id, 'done', 50000);
        assert.deepEqual(done.progress.map((p) => [p.stage, p.devices, p.installed]),
          Array.from({ length: 5 }, (_, i) => [i + 1, 4, 4]));
      } finally { stack = saved; }
      assert.equal(stagesLogged(a) + stagesLogged(b), 4, `${a.logs()}\n${b.logs()}`);
    } finally {
      for (const s of sims) s.child.kill('SIGTERM');
      await Promise.all(sims.map((s) => s.result));
      await Promise.all([a.stop(), b.stop()]);
      pgDropDatabase(name);
    }
  });
});
