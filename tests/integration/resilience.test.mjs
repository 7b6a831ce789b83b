// The stack as an operator runs it: registration policies, concurrent writers, killed workers,
// crash durability of acknowledged writes, clean shutdown, two stacks side by side.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { alive, descendants, provctl, startStack, workerPids } from './lib/stack.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check, what, ms = 10_000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (await check()) return;
  assert.fail(`timed out waiting for ${what}`);
}

describe('registration policy', () => {
  it('open: new devices are accepted at once', async () => {
    const stack = await startStack({ env: { PROVD_REGISTRATION: 'open' } });
    try {
      assert.equal((await stack.api('POST', '/api/devices/open01', { body: {} })).status, 201);
      assert.equal((await stack.api('GET', '/api/devices/open01', { admin: true })).json.state, 'accepted');
    } finally { await stack.stop(); }
  });

  it('closed: only devices an admin created may register', async () => {
    const stack = await startStack({ env: { PROVD_REGISTRATION: 'closed' } });
    try {
      const r = await stack.api('POST', '/api/devices/stranger', { body: {} });
      assert.equal(r.status, 403);
      assert.match(r.json.message, /closed/);
      assert.equal((await stack.api('GET', '/api/devices/stranger', { admin: true })).status, 404, 'nothing stored');
      assert.equal((await stack.api('PUT', '/api/devices/known01', { admin: true, body: { name: 'k' } })).status, 201);
      const known = await stack.api('POST', '/api/devices/known01', { body: { ipaddr: '10.1.1.1' } });
      assert.equal(known.status, 200);
      assert.equal(known.json.ipaddr, '10.1.1.1');
    } finally { await stack.stop(); }
  });

  it('a bad configuration stops the start with a clear message', async () => {
    await assert.rejects(startStack({ env: { PROVD_REGISTRATION: 'sometimes' } }), /PROVD_REGISTRATION must be/);
    await assert.rejects(startStack({ env: { PROVD_POLL_INTERVAL: '2' } }), /PROVD_POLL_INTERVAL/);
  });
});

describe('under load and failure', () => {
  it('30 simultaneous registrations of one id: one row, no 5xx', async () => {
    const stack = await startStack({ workers: 4 });
    try {
      const results = await Promise.all(Array.from({ length: 30 }, () =>
        stack.api('POST', '/api/devices/race01', { body: { ipaddr: '10.0.0.9', ssid: 'r' } })));
      const statuses = results.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 201).length, 1, `statuses: ${statuses}`);
      assert.ok(statuses.every((s) => s === 201 || s === 200), `statuses: ${statuses}`);
      const list = await stack.api('GET', '/api/devices?q=race01', { admin: true });
      assert.equal(list.json.length, 1);
    } finally { await stack.stop(); }
  });

  it('mixed concurrent writers (polls, registrations, admin edits) never get a 5xx', async () => {
    const stack = await startStack({ workers: 4 });
    try {
      const calls = [];
      for (let i = 0; i < 200; i++) {
        const id = `mix${i % 20}`;
        calls.push(stack.api('POST', `/api/devices/${id}`, { body: {} }));
        calls.push(stack.api('GET', `/api/devices/${id}`));
        calls.push(stack.api('PUT', `/api/devices/${id}`, { admin: true, body: { data: { n: i } } }));
      }
      const statuses = (await Promise.all(calls)).map((r) => r.status);
      assert.deepEqual(statuses.filter((s) => s >= 500), []);
    } finally { await stack.stop(); }
  });

  it('a worker killed with SIGKILL is replaced and the service goes on', async () => {
    const stack = await startStack({ workers: 2 });
    try {
      const before = workerPids(stack);
      assert.equal(before.length, 2);
      process.kill(before[0], 'SIGKILL');
      await waitFor(() => {
        const now = workerPids(stack);
        return now.length === 2 && !now.includes(before[0]);
      }, 'a replacement worker');
      for (let i = 0; i < 20; i++) {
        const r = await stack.api('POST', `/api/devices/after-kill-${i}`, { body: {} });
        assert.equal(r.status, 201);
      }
    } finally { await stack.stop(); }
  });

  it('acknowledged writes survive SIGKILL of every worker and of nginx', async () => {
    let stack = await startStack();
    const dataDir = stack.dataDir;
    for (let i = 0; i < 25; i++) {
      assert.equal((await stack.api('POST', `/api/devices/durable-${i}`, { body: {} })).status, 201);
    }
    assert.equal((await stack.api('PUT', '/api/devices/durable-0', { admin: true, body: { data: { keep: true } } })).status, 200);
    for (const p of descendants(stack.child.pid)) {
      try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    await stack.stop({ keepData: true });
    stack = await startStack({ dataDir });
    try {
      const list = await stack.api('GET', '/api/devices?q=durable-&limit=100', { admin: true });
      assert.equal(list.json.length, 25);
      assert.deepEqual(list.json.find((d) => d.deviceid === 'durable-0').data, { keep: true });
    } finally { await stack.stop(); }
  });
});

describe('running it', () => {
  it('two stacks run side by side; SIGTERM leaves nothing running', async () => {
    const a = await startStack();
    const b = await startStack();
    try {
      assert.notEqual(a.port, b.port);
      await a.api('POST', '/api/devices/only-in-a', { body: {} });
      assert.equal((await b.api('GET', '/api/devices/only-in-a')).status, 404);
      assert.equal((await a.api('GET', '/api/devices/only-in-a')).status, 200);
      const procs = descendants(a.child.pid);
      assert.ok(procs.some((p) => p.args.includes('nginx')), 'nginx runs under the stack');
      assert.ok(procs.filter((p) => p.args.includes('build/provd')).length >= 2, 'workers run under the stack');
      await a.stop();
      await waitFor(() => procs.every((p) => !alive(p.pid)), 'every process of the stopped stack to end', 5000);
      assert.equal((await b.api('GET', '/api/health')).status, 200, 'the other stack is untouched');
    } finally { await a.stop(); await b.stop(); }
  });

  it('provctl: tokens, device list, device keys, help', async () => {
    const stack = await startStack();
    try {
      const t = provctl(stack.db, 'token', 'create', 'ops');
      assert.match(t, /^provd_[0-9a-f]{64}$/);
      const auth = { headers: { Authorization: `Bearer ${t}` } };
      assert.equal((await stack.api('GET', '/api/stats', auth)).status, 200);
      assert.match(provctl(stack.db, 'token', 'list'), /^ops\s+\d{4}-/m);
      assert.throws(() => provctl(stack.db, 'token', 'create', 'ops'), (e) => /exists/.test(e.stderr));
      provctl(stack.db, 'token', 'revoke', 'ops');
      assert.equal((await stack.api('GET', '/api/stats', auth)).status, 401, 'a revoked token stops working');

      await stack.api('POST', '/api/devices/cli01', { body: {} });
      assert.match(provctl(stack.db, 'device', 'list'), /^cli01\s+pending\s+online/m);
      assert.match(provctl(stack.db, 'device', 'key', 'cli01'), /^[0-9a-f]{32}$/);
      assert.equal(provctl(stack.db, 'device', 'key', 'cli01', '--set', 'my-passphrase'), '');
      assert.equal((await stack.api('GET', '/api/devices/cli01', { admin: true })).json.has_key, true);
      assert.throws(() => provctl(stack.db, 'device', 'key', 'nobody'), (e) => /no device/.test(e.stderr));
      assert.throws(() => provctl(stack.db, 'device', 'key', 'cli01', '--set', 'tab\there'), (e) => /SECRET/.test(e.stderr) && e.status === 2);
      for (const args of [['--help'], ['token', '--help'], ['device', 'key', '--help']]) {
        assert.match(execFileSync('build/provctl', args, { encoding: 'utf8' }), /provctl/);
      }
      assert.throws(() => execFileSync('build/provctl', ['frobnicate'], { stdio: 'pipe' }), (e) => e.status === 2);
    } finally { await stack.stop(); }
  });
});
