// Starts the real stack for a test: scripts/stack.sh (nginx + spawn-fcgi/multiwatch + provd) on a
// free port with a fresh data directory, and an admin token made with provctl.
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const provctlPath = path.join(top, 'build/provctl');

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

// Options: env (PROVD_* and stack variables), dataDir (reuse one, e.g. after a crash), workers.
// A port found free can be taken by another test's stack before our nginx binds it: then the
// stack stops (it checks that its own nginx answers), and it is started again on another port.
export async function startStack(options = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePort(options);
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt === 3) throw err;
    }
  }
}

async function startOnFreePort({ env = {}, dataDir: given, workers = 2 }) {
  const port = await freePort();
  const dataDir = given ?? fs.mkdtempSync(path.join(os.tmpdir(), 'provd-test-'));
  let output = '';
  const child = spawn(path.join(top, 'scripts/stack.sh'), [], {
    env: { ...process.env, PORT: String(port), DATA_DIR: dataDir, WORKERS: String(workers), QUIET: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = once(child, 'exit');
  const base = `http://127.0.0.1:${port}`;
  const db = path.join(dataDir, 'provd.sqlite3');

  for (let i = 0; ; i++) {
    if (child.exitCode !== null) {
      if (!/Address already in use/.test(output)) throw new Error(`stack exited ${child.exitCode}:\n${output}`);
      if (!given) fs.rmSync(dataDir, { recursive: true, force: true });
      throw new PortTaken(`port ${port} taken`);
    }
    try {
      if ((await fetch(`${base}/api/health`)).ok && ownNginx(child, dataDir)) break;
    } catch { /* not listening yet */ }
    if (i > 150) throw new Error(`stack not healthy after 15 s:\n${output}`);
    await sleep(100);
  }

  const stack = {
    base, port, db, dataDir, child,
    token: provctl(db, 'token', 'create', `test-${port}`),
    logs: () => output,
    // Stops the stack with SIGTERM, as Ctrl-C would; keepData leaves the directory for a restart.
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      if (!keepData) fs.rmSync(dataDir, { recursive: true, force: true });
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
      let res;
      try {
        res = await fetch(base + urlPath, { method, headers: h, body: payload });
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

export function workerPids(stack) {
  const provd = path.join(top, 'build/provd');
  return descendants(stack.child.pid).filter((p) => p.args.startsWith(provd)).map((p) => p.pid);
}

export function alive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}
