// Starts the real stack for a test: scripts/stack.sh (nginx + spawn-fcgi/multiwatch + provd) on a
// free port with a fresh data directory and database, and an admin token made with provctl.
// The database is a SQLite file in the data directory, or with PROVD_TEST_PG=<base URI> (tests/run.sh
// sets it) a fresh PostgreSQL database of its own on that server.
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const provctlPath = path.join(top, 'build/provctl');

// The backend the suite runs against: PROVD_TEST_PG's server, else SQLite.
export const pgBase = process.env.PROVD_TEST_PG || null;
export const backend = pgBase ? 'postgresql' : 'sqlite';

// The URI of database name on PROVD_TEST_PG's server (its path replaced, its parameters kept).
export function pgUri(name) {
  const m = pgBase.match(/^(postgres(?:ql)?:\/\/[^/?]*)(?:\/[^?]*)?(\?.*)?$/);
  if (!m) throw new Error('PROVD_TEST_PG must be a postgresql:// URI');
  return `${m[1]}/${name}${m[2] ?? ''}`;
}

function psql(sql) {
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', pgUri('postgres'), '-c', sql], { stdio: 'pipe' });
}

let databases = 0;
// A new empty database on PROVD_TEST_PG's server, named after this process so suites never meet.
export function pgCreateDatabase() {
  const name = `provd_test_${process.pid}_${++databases}_${Date.now().toString(36)}`;
  psql(`CREATE DATABASE "${name}"`);
  return name;
}

export function pgDropDatabase(name) {
  psql(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

export function provctl(db, ...args) {
  return execFileSync(provctlPath, ['--db', db, ...args], { encoding: 'utf8', stdio: 'pipe' }).trim();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class PortTaken extends Error {}

// Whether the nginx holding the port is this stack's: nginx writes its pid file once bound.
function ownNginx(child, dataDir) {
  let pid;
  try { pid = Number(fs.readFileSync(path.join(dataDir, 'run/nginx.pid'), 'utf8')); } catch { return false; }
  return descendants(child.pid).some((p) => p.pid === pid);
}

// The status of provd's health check asked on the stack's probe socket (nginx.conf), which no
// limit counts: probing through the port would spend a test's small budgets.
function probeHealth(dataDir) {
  return new Promise((resolve, reject) => {
    http.get({ socketPath: path.join(dataDir, 'run/health.sock'), path: '/api/health' }, (res) => {
      res.resume();
      resolve(res.statusCode);
    }).on('error', reject);
  });
}

// Options: env (PROVD_* and stack variables), dataDir (reuse one, e.g. after a crash), workers,
// port (the one a stopped stack had, for a client that keeps its URL; default: a free one),
// detached (the stack in a process group of its own, as a terminal's foreground job is).
// The stack's database: env.PROVD_DB when given (another stack's, say: this stack does not own
// it); else with PostgreSQL the one recorded in a reused dataDir, or a new one recorded there;
// else the SQLite file in dataDir. stop() drops a database the stack owns, unless keepData.
// A port found free can be taken by another test's stack before our nginx binds it: then the
// stack stops (it checks that its own nginx answers), and it is started again on another port.
export async function startStack(options = {}) {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'provd-test-'));
  const pgNameFile = path.join(dataDir, 'pg-database');
  let db = options.env?.PROVD_DB;
  let pgName = null;
  if (!db && pgBase) {
    try { pgName = fs.readFileSync(pgNameFile, 'utf8').trim(); } catch { /* a new data directory */ }
    if (!pgName) {
      pgName = pgCreateDatabase();
      fs.writeFileSync(pgNameFile, `${pgName}\n`);
    }
    db = pgUri(pgName);
  }
  // Without PROVD_DB stack.sh takes its default, the SQLite file in DATA_DIR.
  const stackDb = db;
  db ??= path.join(dataDir, 'provd.sqlite3');
  const forget = () => {
    if (options.dataDir) return; // the caller's data directory, and its database, stay
    if (pgName) pgDropDatabase(pgName);
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePort({ ...options, dataDir, db, stackDb, pgName });
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt === 3) {
        forget();
        throw err;
      }
    }
  }
}

async function startOnFreePort({ env = {}, dataDir, db, stackDb, pgName, workers = 2, port: fixedPort, detached = false }) {
  const keyFile = env.PROVD_KEY_FILE ?? path.join(dataDir, 'provd.key'); // scripts/stack.sh's
  const port = fixedPort ?? await freePort();
  let output = '';
  const childEnv = { ...process.env, PORT: String(port), DATA_DIR: dataDir, WORKERS: String(workers), QUIET: '1', ...env, PROVD_DB: stackDb };
  if (!stackDb) delete childEnv.PROVD_DB; // never the caller's
  const child = spawn(path.join(top, 'scripts/stack.sh'), [], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached });
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = once(child, 'exit');
  const base = `http://127.0.0.1:${port}`;

  for (let i = 0; ; i++) {
    if (child.exitCode !== null) {
      if (!/Address already in use/.test(output)) throw new Error(`stack exited ${child.exitCode}:\n${output}`);
      throw new PortTaken(`port ${port} taken`);
    }
    try {
      if (await probeHealth(dataDir) === 200 && ownNginx(child, dataDir)) break;
    } catch { /* not listening yet */ }
    if (i > 150) {
      child.kill('SIGTERM');
      await exited;
      throw new Error(`stack not healthy after 15 s:\n${output}`);
    }
    await sleep(100);
  }

  const stack = {
    base, port, db, dataDir, keyFile, child,
    probeHealth: () => probeHealth(dataDir),
    // Named after the port and the time: a stack started again on a reused dataDir and port
    // makes a token of its own.
    token: provctl(db, 'token', 'create', `test-${port}-${Date.now().toString(36)}`),
    // provctl on this stack's database with its server key (device keys); input: its standard input.
    provctl: (args, input) => execFileSync(provctlPath, ['--db', db, ...args],
      { encoding: 'utf8', stdio: 'pipe', input, env: { ...process.env, PROVD_KEY_FILE: keyFile } }).trim(),
    logs: () => output,
    // Stops the stack with SIGTERM, as Ctrl-C would; keepData leaves the directory (and the
    // PostgreSQL database it names) for a restart.
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      if (keepData) return;
      if (pgName && fs.existsSync(dataDir)) pgDropDatabase(pgName);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
    // One API call: { status, headers, text, json }. `admin: true` sends the stack's token.
    async api(method, urlPath, { body, admin = false, headers = {} } = {}) {
      const h = { ...headers };
      if (admin) h.Authorization = `Bearer ${stack.token}`;
      let payload = body;
      if (body !== undefined && typeof body !== 'string') {
        payload = JSON.stringify(body);
        h['Content-Type'] = 'application/json';
      }
      // A GET whose kept-alive connection was closed before any answer came is sent once more,
      // as an HTTP client may (RFC 9112, 9.3.1: idempotent requests); anything else fails.
      const send = () => fetch(base + urlPath, { method, headers: h, body: payload });
      let res;
      try {
        res = await send().catch((err) => {
          if (method === 'GET' && /other side closed/.test(err.cause?.message ?? '')) return send();
          throw err;
        });
      } catch (err) { // undici says only "fetch failed"; the why is in its cause
        throw new Error(`${method} ${base}${urlPath}: ${err.message}: ${err.cause?.message ?? err.cause}`);
      }
      const text = await res.text();
      let json;
      try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
      return { status: res.status, headers: res.headers, text, json };
    },
  };
  return stack;
}

function processTable() {
  const out = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/)).filter(Boolean)
    .map(([, pid, ppid, args]) => ({ pid: Number(pid), ppid: Number(ppid), args }));
}

// Every process below pid (the stack script): nginx master and workers, multiwatch, provd workers.
export function descendants(pid) {
  const table = processTable();
  const found = [];
  let frontier = [pid];
  while (frontier.length) {
    const children = table.filter((p) => frontier.includes(p.ppid));
    found.push(...children);
    frontier = children.map((p) => p.pid);
  }
  return found;
}

// The stack's provd workers: build/provd, or the copy a stack started as root runs when the
// checkout is out of its user's reach (scripts/stack.sh).
export function workerPids(stack) {
  const programs = [path.join(top, 'build/provd'), path.join(stack.dataDir, 'run/bin/provd')];
  return descendants(stack.child.pid).filter((p) => programs.some((provd) => p.args.startsWith(provd)))
    .map((p) => p.pid);
}

export function alive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}
