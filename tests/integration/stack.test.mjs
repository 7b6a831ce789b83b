// scripts/stack.sh's own choices: the database it is given (a file or a PostgreSQL URI, checked
// before anything starts, its password never shown), workers on FastCGI over TCP (PROVD_LISTEN),
// and nginx alone in front of other hosts' workers (PROVD_UPSTREAM with WORKERS=0).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { alive, descendants, freePort, pgBase, pgCreateDatabase, pgDropDatabase, pgUri, startStack, top, workerPids } from './lib/stack.mjs';

// scripts/stack.sh run to its end (it stops by itself on these errors): { status, stderr, ms }.
function stackRun(env) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'provd-test-'));
  const t0 = Date.now();
  try {
    const r = spawnSync(path.join(top, 'scripts/stack.sh'), [], {
      env: { ...process.env, PORT: '1', DATA_DIR: dataDir, WORKERS: '1', QUIET: '1', ...env },
      encoding: 'utf8', timeout: 20_000,
    });
    return { status: r.status, stderr: r.stderr, ms: Date.now() - t0 };
  } finally { fs.rmSync(dataDir, { recursive: true, force: true }); }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitFor(check, what, ms = 10_000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (await check()) return;
  assert.fail(`timed out waiting for ${what}`);
}

const connects = (port) => new Promise((resolve) => {
  const socket = net.createConnection({ host: '127.0.0.1', port });
  socket.once('connect', () => { socket.destroy(); resolve(true); });
  socket.once('error', () => resolve(false));
});

describe('the database', () => {
  it('a wrong or unreachable PROVD_DB stops the start at once with one line, never the password', async () => {
    const closed = await freePort();
    const wrong = [
      ['/nonexistent-provd-dir/provd.sqlite3', /cannot open the database/],
      [`postgresql://provd:s3cret-one@127.0.0.1:${closed}/provd?password=s3cret-two&connect_timeout=5`, /cannot open the database/],
    ];
    // A server that answers, and a database it does not have.
    if (pgBase) wrong.push([pgUri('provd_no_such_database').replace('://provd@', '://provd:s3cret-one@'), /database "provd_no_such_database" does not exist/]);
    for (const [db, reason] of wrong) {
      const r = stackRun({ PROVD_DB: db });
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.match(r.stderr, /^stack: /);
      assert.match(r.stderr, reason);
      assert.doesNotMatch(r.stderr, /s3cret/);
      assert.ok(r.ms < 10_000, `stopped after ${r.ms} ms`);
    }
  });

  // PostgreSQL only: a password in the URI (trust authentication takes and ignores it).
  if (pgBase) it('a PostgreSQL PROVD_DB is used as given; what the stack prints shows no password', async () => {
    const name = pgCreateDatabase();
    const db = pgUri(name).replace('://provd@', '://provd:hunter2-secret@');
    let stack;
    try {
      stack = await startStack({ env: { PROVD_DB: db, QUIET: '0' } });
      assert.equal((await stack.api('POST', '/api/devices/given-db', { body: {} })).status, 201);
      const list = execFileSync('psql', ['-X', '-qAt', '-d', pgUri(name), '-c', 'SELECT count(*) FROM devices'], { encoding: 'utf8' });
      assert.equal(list.trim(), '1', 'the device is in the database given');
      await waitFor(() => /^stack: retention: /m.test(stack.logs()), 'what the stack prints once serving');
      assert.match(stack.logs(), /provd is serving .*\(database postgresql:\/\/provd:\*\*\*@/);
      assert.doesNotMatch(stack.logs(), /hunter2/);
    } finally {
      await stack?.stop();
      pgDropDatabase(name);
    }
  });

  // PostgreSQL only: there retention (and the coming days' partitions) is one job, not the workers'.
  if (pgBase) it('on PostgreSQL the stack runs provctl prune as one job, which stops with it', async () => {
    const stack = await startStack({ env: { PROVD_RETENTION_DAYS: '30', PRUNE_INTERVAL: '1', QUIET: '0' } });
    let procs;
    try {
      const runs = () => stack.logs().match(/^stack: retention: .*\b0 readings\b/gm)?.length ?? 0;
      await waitFor(() => runs() >= 2, 'a prune, then another PRUNE_INTERVAL later');
      procs = descendants(stack.child.pid);
    } finally { await stack.stop(); }
    assert.ok(procs.every((p) => !alive(p.pid)), 'nothing of the stack is left');
  });
});

describe('stopping', () => {
  // A terminal's Ctrl-C signals the whole foreground process group, and make passes it on to the
  // script once more.
  it('Ctrl-C stops it all cleanly: no worker started again, no error, nothing left running', async () => {
    const stack = await startStack({ detached: true });
    try {
      const pids = descendants(stack.child.pid).map((p) => p.pid);
      const exited = new Promise((resolve) => stack.child.once('exit', (code, signal) => resolve({ code, signal })));
      process.kill(-stack.child.pid, 'SIGINT');
      stack.child.kill('SIGINT');
      assert.deepEqual(await exited, { code: 0, signal: null }, stack.logs());
      assert.doesNotMatch(stack.logs(), /stopping the rest|respawn|Spawning child/);
      await waitFor(() => pids.every((pid) => !alive(pid)), 'every process of the stack to end');
    } finally { await stack.stop(); }
  });
});

describe('FastCGI over TCP', () => {
  it('PROVD_LISTEN: the workers listen on host:port and nginx reaches them there', async () => {
    const fcgi = await freePort();
    const stack = await startStack({ env: { PROVD_LISTEN: `127.0.0.1:${fcgi}` } });
    try {
      assert.equal((await stack.api('POST', '/api/devices/tcp01', { body: {} })).status, 201);
      assert.equal((await stack.api('GET', '/api/devices/tcp01')).status, 200);
      assert.equal(fs.existsSync(path.join(stack.dataDir, 'run/provd.sock')), false, 'no Unix socket');
      assert.ok(await connects(fcgi), 'the workers accept on the TCP port');
      assert.match(fs.readFileSync(path.join(stack.dataDir, 'run/nginx.conf'), 'utf8'), new RegExp(`server 127\\.0\\.0\\.1:${fcgi};`));
    } finally { await stack.stop(); }
    assert.equal(await connects(fcgi), false, 'the port is closed with the stack');
  });

  it('PROVD_UPSTREAM with WORKERS=0: nginx alone sends to every host and skips a dead one', async () => {
    const [a, b] = [await freePort(), await freePort()];
    const hostA = await startStack({ workers: 1, env: { PROVD_LISTEN: `127.0.0.1:${a}` } });
    let hostB;
    let front;
    try {
      // Both hosts serve one database (hostA's); so does the front's admin token.
      hostB = await startStack({ workers: 1, env: { PROVD_LISTEN: `127.0.0.1:${b}`, PROVD_DB: hostA.db } });
      front = await startStack({ workers: 0, env: { PROVD_UPSTREAM: `127.0.0.1:${b},127.0.0.1:${a}`, PROVD_DB: hostA.db } });
      const conf = fs.readFileSync(path.join(front.dataDir, 'run/nginx.conf'), 'utf8');
      for (const port of [a, b]) assert.match(conf, new RegExp(`server 127\\.0\\.0\\.1:${port} max_fails=\\d+ fail_timeout=\\d+s;`));
      assert.deepEqual(workerPids(front), [], 'no worker of its own');

      for (let i = 0; i < 10; i++) assert.equal((await front.api('POST', `/api/devices/rr-${i}`, { body: {} })).status, 201);
      const seen = await hostA.api('GET', '/api/devices?q=rr-', { admin: true });
      assert.equal(seen.json.length, 10, 'one database behind both hosts');

      await hostB.stop();
      const after = [];
      for (let i = 0; i < 20; i++) after.push((await front.api('GET', `/api/devices/rr-${i % 10}`)).status);
      assert.deepEqual(after, Array(20).fill(200), 'the dead host is skipped');
      assert.equal((await front.api('GET', '/api/devices', { admin: true })).status, 200);
    } finally {
      await front?.stop();
      await hostB?.stop();
      await hostA.stop();
    }
  });

  it('nginx alone needs PROVD_UPSTREAM, and workers behind PROVD_UPSTREAM need PROVD_LISTEN', () => {
    let r = stackRun({ WORKERS: '0' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /WORKERS=0 .* needs PROVD_UPSTREAM/);
    r = stackRun({ WORKERS: '1', PROVD_UPSTREAM: '127.0.0.1:9001' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /PROVD_LISTEN/);
    r = stackRun({ PROVD_LISTEN: 'localhost' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /PROVD_LISTEN must be host:port/);
  });

  it('render-nginx: an upstream of every PROVD_UPSTREAM host that nginx accepts; bad lists refused', () => {
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'provd-render-'));
    try {
      const render = (env) => spawnSync(path.join(top, 'scripts/render-nginx.sh'), [], {
        env: { ...process.env, RUN_DIR: runDir, SOCKET: `${runDir}/provd.sock`, PORT: '8099', PROVD_LISTEN: '', ...env },
        encoding: 'utf8',
      });
      const r = render({ PROVD_UPSTREAM: '127.0.0.1:9001,[::1]:9002,localhost:9003' });
      assert.equal(r.status, 0, r.stderr);
      const upstream = r.stdout.match(/upstream provd \{([^}]*)\}/)[1];
      assert.deepEqual(upstream.trim().split(/\n\s*/), ['127.0.0.1:9001', '[::1]:9002', 'localhost:9003']
        .map((h) => `server ${h} max_fails=1 fail_timeout=10s;`));
      fs.mkdirSync(path.join(runDir, 'tmp'));
      fs.writeFileSync(path.join(runDir, 'nginx.conf'), r.stdout);
      execFileSync('nginx', ['-t', '-q', '-p', runDir, '-c', path.join(runDir, 'nginx.conf'), '-e', path.join(runDir, 'e.log')], { stdio: 'pipe' });
      assert.match(render({}).stdout, new RegExp(`server unix:${runDir}/provd.sock;`), 'the Unix socket by default');
      for (const bad of ['127.0.0.1', '127.0.0.1:9001,', 'a b:1', '127.0.0.1:9001;x', 'h:1,h:2;']) {
        const refused = render({ PROVD_UPSTREAM: bad });
        assert.equal(refused.status, 1, bad);
        assert.match(refused.stderr, /PROVD_UPSTREAM/);
      }
    } finally { fs.rmSync(runDir, { recursive: true, force: true }); }
  });
});
