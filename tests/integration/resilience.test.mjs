// The stack as an operator runs it: registration policies, concurrent writers, killed workers,
// crash durability of acknowledged writes, clean shutdown, two stacks side by side.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { v2 } from './lib/seal.mjs';
import { alive, backend, descendants, provctl, startStack, top, workerPids } from './lib/stack.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const KEY = '000102030405060708090a0b0c0d0e0f';

const postReading = (stack, id, seqn) => stack.api('POST', `/api/devices/${id}/telemetry`,
  { body: JSON.stringify(v2(JSON.stringify({ SEQN: seqn }), KEY, id)), headers: { 'Content-Type': 'application/json' } });
const seqnsOf = async (stack, id) =>
  (await stack.api('GET', `/api/devices/${id}/telemetry?limit=1000&order=asc`, { admin: true })).json.map((r) => r.seqn);

// A program run without holding the event loop (the test's own requests go on meanwhile).
function run(file, args) {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

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
      assert.equal((await stack.api('GET', '/api/devices/known01', { admin: true })).json.ipaddr, '10.1.1.1');
    } finally { await stack.stop(); }
  });

  it('a bad configuration stops the start with a clear message', async () => {
    await assert.rejects(startStack({ env: { PROVD_REGISTRATION: 'sometimes' } }), /PROVD_REGISTRATION must be/);
    await assert.rejects(startStack({ env: { PROVD_POLL_INTERVAL: '2' } }), /PROVD_POLL_INTERVAL/);
    await assert.rejects(startStack({ env: { PROVD_SYNCHRONOUS: 'sometimes' } }), /PROVD_SYNCHRONOUS must be normal or full/);
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

  it('readings are stored once each while the workers committing them are killed', async () => {
    const env = { PROVD_REGISTRATION: 'open', PROVD_FLEET_KEY: KEY, DEVICE_RATE: '10000r/s', DEVICE_BURST: '10000' };
    const stack = await startStack({ workers: 2, env });
    const readings = 100;
    try {
      const ids = ['kill-ingest-0', 'kill-ingest-1', 'kill-ingest-2'];
      for (const id of ids) assert.equal((await stack.api('POST', `/api/devices/${id}`, { body: {} })).status, 201);
      // Each device sends SEQN 1, 2, ... in order, and one again after an answer it cannot
      // trust (a 5xx: its worker died); that one may have been stored, so 409 is right then. It
      // sends at least `readings`, and goes on until both kills are done and 10 more: however
      // fast the machine, the kills fall in the middle of the streams.
      let answered = 0;
      let killsDone = false;
      const sent = {};
      const stream = async (id) => {
        let seqn = 1;
        for (let after = 10; seqn <= readings || !killsDone || after-- > 0; seqn++, answered++) {
          let r = await postReading(stack, id, seqn);
          let resent = false;
          for (; r.status >= 500; resent = true) r = await postReading(stack, id, seqn);
          assert.ok(r.status === 201 || (resent && r.status === 409), `${id} SEQN ${seqn}: ${r.status}`);
        }
        sent[id] = seqn - 1;
      };
      // Both first workers die, so the one that ran the committer does.
      const killedAt = [];
      const killer = async () => {
        for (const pid of workerPids(stack)) {
          // Readings flowing, however slow the machine: one answered since the start or the last kill.
          await sleep(150);
          await waitFor(() => answered > (killedAt.at(-1) ?? 0), 'a reading answered before the kill');
          killedAt.push(answered);
          process.kill(pid, 'SIGKILL');
          await waitFor(() => workerPids(stack).length === 2 && !workerPids(stack).includes(pid), 'a replacement worker');
        }
        killsDone = true;
      };
      await Promise.all([...ids.map(stream), killer()]);
      assert.equal(killedAt.length, 2);
      assert.ok(killedAt.every((n) => n > 0), `killed after ${killedAt} readings`);
      for (const id of ids) assert.deepEqual(await seqnsOf(stack, id), Array.from({ length: sent[id] }, (_, i) => i + 1));
    } finally { await stack.stop(); }
  });

  // The writer of readings is held up by another program: on SQLite the sqlite3 CLI holding the
  // write lock, on PostgreSQL psql holding the device's row.
  it('a worker answers other requests while its reading waits for the writer', async () => {
    const env = { PROVD_REGISTRATION: 'open', PROVD_FLEET_KEY: KEY };
    const stack = await startStack({ workers: 1, env });
    let holder;
    try {
      for (const id of ['waiting-reading', 'meanwhile']) {
        assert.equal((await stack.api('POST', `/api/devices/${id}`, { body: {} })).status, 201);
      }
      // Another program holds the database's write lock, or the device's row: the writer waits.
      holder = backend === 'sqlite'
        ? spawn('sqlite3', [stack.db], { stdio: ['pipe', 'pipe', 'inherit'] })
        : spawn('psql', ['-X', '-q', '-At', '-d', stack.db], { stdio: ['pipe', 'pipe', 'inherit'] });
      holder.stdin.write(backend === 'sqlite' ? "BEGIN IMMEDIATE; SELECT 'locked';\n"
        : "BEGIN; SELECT 'locked' FROM devices WHERE deviceid = 'waiting-reading' FOR UPDATE;\n");
      await new Promise((resolve) => holder.stdout.once('data', resolve));
      let settled = false;
      const reading = postReading(stack, 'waiting-reading', 1).finally(() => { settled = true; });
      await sleep(300); // the one worker has taken the reading and waits for its commit
      const heartbeat = await stack.api('GET', '/api/devices/meanwhile');
      assert.equal(heartbeat.status, 200);
      assert.equal(settled, false, 'the heartbeat was answered while the reading waited');
      holder.stdin.end('COMMIT;\n');
      assert.equal((await reading).status, 201);
      assert.deepEqual(await seqnsOf(stack, 'waiting-reading'), [1]);
      const socket = backend === 'sqlite' ? `${stack.db}-writer.sock` : path.join(stack.dataDir, 'provd-writer.sock');
      assert.ok(fs.existsSync(socket), `the reading went through the stack's writer (${socket})`);
      // The worker's second thread now waits in accept(); SIGTERM still stops the worker.
      const procs = descendants(stack.child.pid);
      const stopped = stack.stop().then(() => true);
      assert.ok(await Promise.race([stopped, sleep(5000).then(() => false)]), 'the stack stopped within 5 s');
      assert.ok(procs.every((p) => !alive(p.pid)), 'no process of the stack is left');
    } finally {
      holder?.kill();
      for (const p of descendants(stack.child.pid)) {
        try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
      await stack.stop();
    }
  });

  for (const synchronous of ['normal', 'full']) it(`acknowledged writes survive SIGKILL of every worker and of nginx (PROVD_SYNCHRONOUS=${synchronous})`, async () => {
    let stack = await startStack({ env: { PROVD_SYNCHRONOUS: synchronous, PROVD_FLEET_KEY: KEY } });
    const dataDir = stack.dataDir;
    for (let i = 0; i < 25; i++) {
      assert.equal((await stack.api('POST', `/api/devices/durable-${i}`, { body: {} })).status, 201);
    }
    const edit = { data: { keep: true }, state: 'accepted' };
    assert.equal((await stack.api('PUT', '/api/devices/durable-0', { admin: true, body: edit })).status, 200);
    for (let seqn = 1; seqn <= 10; seqn++) assert.equal((await postReading(stack, 'durable-0', seqn)).status, 201);
    for (const p of descendants(stack.child.pid)) {
      try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    await stack.stop({ keepData: true });
    stack = await startStack({ dataDir });
    try {
      const list = await stack.api('GET', '/api/devices?q=durable-&limit=100', { admin: true });
      assert.equal(list.json.length, 25);
      assert.deepEqual(list.json.find((d) => d.deviceid === 'durable-0').data, { keep: true });
      assert.deepEqual(await seqnsOf(stack, 'durable-0'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    } finally { await stack.stop(); }
  });
});

describe('backups', () => {
  // SQLite: provctl copies the live database (SQLite's online backup API) while readings flow.
  if (backend === 'sqlite') it('provctl backup under ingest load, then restore: every reading acknowledged before the backup began, and a sound file', async () => {
    const env = { PROVD_REGISTRATION: 'open', PROVD_FLEET_KEY: KEY, DEVICE_RATE: '10000r/s', DEVICE_BURST: '10000' };
    const stack = await startStack({ env });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'provd-backup-'));
    try {
      const ids = ['bk-0', 'bk-1', 'bk-2', 'bk-3'];
      for (const id of ids) assert.equal((await stack.api('POST', `/api/devices/${id}`, { body: {} })).status, 201);
      const acked = Object.fromEntries(ids.map((id) => [id, []]));
      let flowing = true;
      const refused = [];
      const stream = async (id) => {
        for (let seqn = 1; flowing; seqn++) {
          const r = await postReading(stack, id, seqn);
          if (r.status !== 201) {
            refused.push(`reading ${seqn} of ${id}: ${r.status} ${r.text}`);
            flowing = false;
          } else acked[id].push(seqn);
        }
      };
      const streams = ids.map(stream);
      const total = () => ids.reduce((n, id) => n + acked[id].length, 0);
      await waitFor(() => total() >= 200 || !flowing, '200 readings stored');
      const before = Object.fromEntries(ids.map((id) => [id, [...acked[id]]]));
      const file = path.join(dir, 'provd-backup.sqlite3');
      const backup = await run(path.join(top, 'build/provctl'), ['--db', stack.db, 'backup', file]);
      await waitFor(() => total() >= ids.reduce((n, id) => n + before[id].length, 0) + 50 || !flowing, 'readings after the backup');
      flowing = false;
      await Promise.all(streams);
      assert.deepEqual(refused, []);
      assert.equal(backup.status, 0, backup.stderr);
      assert.match(backup.stdout, /^backup: done, .*provd-backup\.sqlite3$/m);
      assert.match(backup.stderr, /^backup: 100% \(\d+ of \d+ pages\)$/m);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);

      const restored = path.join(dir, 'restored.sqlite3');
      assert.match(provctl(restored, 'restore', file), /^restore: done, /);
      assert.equal(execFileSync('sqlite3', [restored, 'PRAGMA integrity_check'], { encoding: 'utf8' }).trim(), 'ok');
      const rows = execFileSync('sqlite3', [restored,
        'SELECT d.deviceid, t.seqn FROM telemetry t JOIN devices d ON d.id = t.device ORDER BY t.seqn'], { encoding: 'utf8' });
      const stored = Object.fromEntries(ids.map((id) => [id, new Set()]));
      for (const line of rows.trim().split('\n')) {
        const [id, seqn] = line.split('|');
        stored[id].add(Number(seqn));
      }
      for (const id of ids) {
        const missing = before[id].filter((seqn) => !stored[id].has(seqn));
        assert.deepEqual(missing, [], `${id}: acknowledged before the backup, missing from it`);
      }
      // Never over an existing file, and a clear line for a copy that is no database.
      assert.throws(() => provctl(stack.db, 'backup', file), /already exists/);
      fs.writeFileSync(path.join(dir, 'junk'), 'x'.repeat(4096));
      assert.throws(() => provctl(restored, 'restore', path.join(dir, 'junk')), /junk: file is not a database/);
    } finally {
      await stack.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  if (backend === 'postgresql') it('provctl backup on PostgreSQL points to pg_dump', () => {
    assert.throws(() => provctl(process.env.PROVD_TEST_PG + 'postgres', 'backup', path.join(os.tmpdir(), 'never')), /pg_dump/);
  });
});

describe('nginx in front', () => {
  it('device-facing calls over the rate limit get a JSON 429; admin calls have their own budget', async () => {
    const stack = await startStack({ env: { DEVICE_RATE: '1r/s', DEVICE_BURST: '2' } });
    try {
      await stack.api('POST', '/api/devices/chatty', { body: {} });
      const polls = await Promise.all(Array.from({ length: 10 }, () => stack.api('GET', '/api/devices/chatty')));
      const limited = polls.filter((r) => r.status === 429);
      assert.ok(limited.length > 0, `statuses: ${polls.map((r) => r.status)}`);
      assert.deepEqual(limited[0].json, { status: 'NOK', message: 'too many requests: slow down' });
      assert.equal((await stack.api('GET', '/api/devices/other')).status, 404, 'another device has its own budget');
      const admin = await Promise.all(Array.from({ length: 10 }, () => stack.api('GET', '/api/devices', { admin: true })));
      assert.deepEqual(admin.map((r) => r.status), Array(10).fill(200));
    } finally { await stack.stop(); }
  });

  it('when nginx cannot reach provd it answers a JSON 503', async () => {
    const stack = await startStack();
    try {
      fs.rmSync(path.join(stack.dataDir, 'run/provd.sock'));
      const r = await stack.api('GET', '/api/health');
      assert.equal(r.status, 503);
      assert.equal(r.json.status, 'NOK');
    } finally { await stack.stop(); }
  });

  it('make install lays out binaries, page, schema, units and an nginx configuration nginx accepts', () => {
    const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'provd-install-'));
    try {
      execFileSync('scripts/install.sh', [dest, '/usr'], { cwd: top, stdio: 'pipe', env: { ...process.env, PORT: '8099' } });
      for (const f of ['usr/bin/provctl', 'usr/lib/provd/provd', 'usr/share/provd/www/index.html',
        'usr/share/provd/schema/schema.sql', 'etc/provd/nginx.conf', 'lib/systemd/system/provd.service',
        'lib/systemd/system/provd-nginx.service']) {
        assert.ok(fs.existsSync(path.join(dest, f)), f);
      }
      const unit = fs.readFileSync(path.join(dest, 'lib/systemd/system/provd.service'), 'utf8');
      assert.match(unit, /^User=provd$/m);
      assert.match(unit, /ExecStart=.* \/usr\/lib\/provd\/provd$/m);
      const conf = fs.readFileSync(path.join(dest, 'etc/provd/nginx.conf'), 'utf8');
      assert.match(conf, /listen 0\.0\.0\.0:8099;/);
      const settings = conf.split('\n').filter((line) => !line.trimStart().startsWith('#')).join('\n');
      assert.doesNotMatch(settings, /@[A-Z_]+@/, 'every placeholder filled in');
      assert.match(settings, /^\s*access_log \/var\/log\/provd-nginx\/access\.log logfmt;$/m, 'the access log on, in logfmt');
      assert.match(settings, /^\s*127\.0\.0\.1 1;$/m, 'loopback may scrape /api/metrics');
      // nginx -t with the installed file, its run and log directories moved into the temp tree.
      const runDir = path.join(dest, 'run');
      fs.mkdirSync(path.join(runDir, 'tmp'), { recursive: true });
      fs.writeFileSync(path.join(runDir, 'nginx.conf'),
        conf.replaceAll('/run/provd-nginx', runDir).replaceAll('/var/log/provd-nginx', runDir));
      execFileSync('nginx', ['-t', '-q', '-p', runDir, '-c', path.join(runDir, 'nginx.conf'), '-e', path.join(runDir, 'e.log')], { stdio: 'pipe' });
    } finally { fs.rmSync(dest, { recursive: true, force: true }); }
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
      assert.ok(workerPids(a).length >= 2, 'workers run under the stack');
      await a.stop();
      await waitFor(() => procs.every((p) => !alive(p.pid)), 'every process of the stopped stack to end', 5000);
      assert.equal((await b.api('GET', '/api/health')).status, 200, 'the other stack is untouched');
    } finally { await a.stop(); await b.stop(); }
  });

  it('a stack on a port another stack holds stops with nginx\'s bind error, not serving through the other', async () => {
    const a = await startStack();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'provd-test-'));
    try {
      const second = spawnSync(path.join(top, 'scripts/stack.sh'), [], {
        env: { ...process.env, PORT: String(a.port), DATA_DIR: dataDir, WORKERS: '1', QUIET: '1' },
        encoding: 'utf8', timeout: 20_000,
      });
      assert.equal(second.status, 1);
      assert.match(second.stderr, /provd did not become healthy on .*Address already in use/s);
      assert.equal((await a.api('GET', '/api/health')).status, 200, 'the first stack is untouched');
    } finally { await a.stop(); fs.rmSync(dataDir, { recursive: true, force: true }); }
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
      assert.match(stack.provctl(['device', 'key', 'cli01']), /^[0-9a-f]{32}$/);
      assert.equal(stack.provctl(['device', 'key', 'cli01', '--set'], 'my passphrase\n'), '');
      assert.equal((await stack.api('GET', '/api/devices/cli01', { admin: true })).json.has_key, true);
      assert.throws(() => stack.provctl(['device', 'key', 'nobody']), (e) => /no device/.test(e.stderr));
      assert.throws(() => stack.provctl(['device', 'key', 'cli01', '--set'], 'tab\there'),
        (e) => /standard input/.test(e.stderr) && e.status === 2);
      // Never on the command line, where every user of the host can read it.
      assert.throws(() => stack.provctl(['device', 'key', 'cli01', '--set', 'my-passphrase']),
        (e) => /reads the secret from standard input/.test(e.stderr) && e.status === 2);
      for (const args of [['--help'], ['token', '--help'], ['device', 'key', '--help']]) {
        assert.match(execFileSync('build/provctl', args, { encoding: 'utf8' }), /provctl/);
      }
      assert.throws(() => execFileSync('build/provctl', ['frobnicate'], { stdio: 'pipe' }), (e) => e.status === 2);
    } finally { await stack.stop(); }
  });
});
