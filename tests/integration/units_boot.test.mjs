// The installed systemd units, run by a real systemd (issue 18): `make install` (scripts/install.sh)
// inside a container booted with systemd-nspawn over a throwaway overlay of this machine's root,
// then the units started as the README says, and checked as a user would: the API through
// provd-nginx, who the processes run as, the socket's group and the data's modes; provd-prune
// once; ble-agent without Bluetooth, then on BlueZ's emulator (btvirt) with a BLE peer's reading.
// The container shares the host's network (provd-nginx listens on a free port of 127.0.0.1, and
// on the -pg pass provd reaches the test's PostgreSQL), nothing else: its writes go to a tmpfs.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { v2 } from './lib/seal.mjs';
import { backend, freePort, pgCreateDatabase, pgDropDatabase, pgUri, top } from './lib/stack.mjs';

const run = promisify(execFile);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const skip = (process.getuid() !== 0 && 'only root can boot a container')
  || (!onPath('systemd-nspawn') && 'systemd-nspawn is not installed (Debian package systemd-container)');
const noBtvirt = !onPath('btvirt') && 'btvirt is not installed (Debian package bluez-test-tools)';

// Generous: a loaded 2-core CI machine boots, starts and stops the container in seconds.
const PATIENCE_MS = 120_000;

// Polls check() (its truthy result returned) until it holds; fails saying what never happened.
async function until(what, check) {
  let last;
  for (const end = Date.now() + PATIENCE_MS; Date.now() < end; await sleep(100)) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) { last = err; }
  }
  assert.fail(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

// A booted container: its directory (overlay layers on a tmpfs, the merged root, the console
// log), nspawn and the container's init. stop() powers it off and removes every trace; it is
// safe to call whatever state start() reached.
class Container {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'provd-boot-'));
    this.layers = path.join(this.dir, 'layers');
    this.root = path.join(this.dir, 'root');
    this.mounts = [];
  }

  mount(args, at) {
    fs.mkdirSync(at, { recursive: true });
    execFileSync('mount', [...args, at], { stdio: 'pipe' });
    this.mounts.unshift(at);
  }

  async start() {
    this.mount(['-t', 'tmpfs', '-o', 'mode=0700', 'tmpfs'], this.layers);
    for (const d of ['upper', 'work']) fs.mkdirSync(path.join(this.layers, d));
    this.mount(['-t', 'overlay', '-o', `lowerdir=/,upperdir=${this.layers}/upper,workdir=${this.layers}/work`, 'overlay'],
      this.root);
    this.console = path.join(this.dir, 'console.log');
    const out = fs.openSync(this.console, 'w');
    // basic.target: none of the host's own services (its nginx, PostgreSQL, ...), only ours.
    // The checkout is bound in, read-only, wherever it is (install.sh runs from it).
    this.nspawn = spawn('systemd-nspawn', ['--quiet', `--directory=${this.root}`, `--machine=${path.basename(this.dir)}`,
      '--boot', '--register=no', '--keep-unit', '--link-journal=no', `--bind-ro=${top}`, '--', 'systemd.unit=basic.target'],
    { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.exited = once(this.nspawn, 'exit');
    this.init = await until(`the container's systemd (${this.consoleTail()})`, () => {
      if (this.nspawn.exitCode !== null) throw new Error(`systemd-nspawn exited ${this.nspawn.exitCode}`);
      const pids = execFileSync('ps', ['-o', 'pid=', '--ppid', String(this.nspawn.pid)], { encoding: 'utf8' }).split('\n');
      return pids.map(Number).find((pid) => pid && fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'systemd');
    });
    const state = await until('the boot to finish', async () =>
      (await this.sh('systemctl', 'is-system-running', '--wait').catch((err) => ({ stdout: err.stdout }))).stdout.trim()
        .match(/^(running|degraded)$/));
    if (state[0] === 'degraded') {
      // A unit of the host's own failed: not ours to judge, but said in case a test fails.
      console.log((await this.sh('systemctl', '--failed', '--no-pager')).stdout);
    }
  }

  consoleTail() {
    try { return fs.readFileSync(this.console, 'utf8').slice(-2000); } catch { return ''; }
  }

  // Runs a command inside the container (as root): { stdout, stderr }, rejected on failure.
  sh(...args) {
    return run('nsenter', ['--target', String(this.init), '--all', '--', ...args], { encoding: 'utf8', timeout: PATIENCE_MS });
  }

  // A command's exit status and output, without rejecting.
  async status(...args) {
    try { return { code: 0, ...(await this.sh(...args)) }; } catch (err) { return err; }
  }

  async stop() {
    if (this.nspawn && this.nspawn.exitCode === null && this.nspawn.signalCode === null) {
      this.nspawn.kill('SIGTERM'); // nspawn asks the container's systemd to power off
      const killer = setTimeout(() => this.nspawn.kill('SIGKILL'), PATIENCE_MS);
      await this.exited;
      clearTimeout(killer);
    }
    for (const at of this.mounts) execFileSync('umount', ['--lazy', at], { stdio: 'pipe' });
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('the installed units under systemd', { skip }, () => {
  const box = new Container();
  let port, pgName, base;

  before(async () => {
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    pgName = backend === 'postgresql' ? pgCreateDatabase() : null;
    await box.start();
    const db = pgName ? [`PROVD_DB=${pgUri(pgName)}`] : [];
    await box.sh('env', `PORT=${port}`, 'LISTEN=127.0.0.1', ...db, path.join(top, 'scripts/install.sh'));
  });

  after(async () => {
    await box.stop();
    if (pgName) pgDropDatabase(pgName);
  });

  const api = async (method, urlPath, body, token) => {
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(base + urlPath, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: await res.json() };
  };
  const show = async (unit, property) => (await box.sh('systemctl', 'show', '--value', `--property=${property}`, unit)).stdout.trim();
  const journal = async (unit) => (await box.sh('journalctl', '--no-pager', '--output=cat', `--unit=${unit}`)).stdout;
  const stat = async (...files) => (await box.sh('stat', '--format=%U %G %a', ...files)).stdout.trim().split('\n');
  // provctl as the README runs it: as provd, with the settings root alone reads in /etc/default/provd.
  const provctl = async (...args) => (await box.sh('sh', '-c',
    'exec runuser -u provd -- env $(grep ^PROVD_ /etc/default/provd) /usr/local/bin/provctl "$@"', 'provctl', ...args)).stdout.trim();
  // A file written into the container (its /run or /etc: the overlay, gone with it).
  const put = (file, text) => fs.writeFileSync(`/proc/${box.init}/root${file}`, text);

  it('install.sh made the service user and the socket group', async () => {
    assert.match((await box.sh('id', '-nG', 'provd')).stdout, /^provd\n$/);
    assert.match((await box.sh('getent', 'group', 'provd-web')).stdout, /^provd-web:x:\d+:\n$/);
  });

  it('systemctl enable --now provd provd-nginx: the API answers through provd-nginx', async () => {
    await box.sh('systemctl', 'enable', '--now', 'provd.service', 'provd-nginx.service');
    await until('provd-nginx to answer', async () => (await fetch(`${base}/api/health`)).ok);
    const created = await api('POST', '/api/devices/unit-boot-1', {});
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const polled = await api('GET', '/api/devices/unit-boot-1');
    assert.equal(polled.status, 200);
    assert.equal(polled.json.cfgsn, 0);
    if (pgName) { // install.sh wrote PROVD_DB into /etc/default/provd: the row is in PostgreSQL
      const rows = execFileSync('psql', ['-X', '-At', '-d', pgUri(pgName), '-c',
        "SELECT count(*) FROM devices WHERE deviceid = 'unit-boot-1'"], { encoding: 'utf8' });
      assert.equal(rows.trim(), '1');
      assert.notEqual((await box.status('test', '-e', '/var/lib/provd/provd.sqlite3')).code, 0);
    }
    for (const unit of ['provd.service', 'provd-nginx.service']) {
      assert.equal(await show(unit, 'ActiveState'), 'active', unit);
      assert.equal(await show(unit, 'NRestarts'), '0', unit);
    }
    // nginx said nothing worse than notices (it warns of a file limit below its connections).
    assert.doesNotMatch(await journal('provd-nginx.service'), /\[(warn|error|crit|alert|emerg)\]/);
  });

  it('runs no process as root: the workers as provd (group provd-web), nginx as www-data, sandboxed', async () => {
    const procs = (await box.sh('ps', '-eo', 'pid=,user:20=,group:20=,args=')).stdout.split('\n')
      .map((l) => l.trim().match(/^(\d+)\s+(\S+)\s+(\S+)\s+(.*)$/)).filter(Boolean)
      .map(([, pid, user, group, args]) => ({ pid, user, group, args }));
    const of = (re) => procs.filter((p) => re.test(p.args));
    const provd = of(/^(\/usr\/bin\/multiwatch |\/usr\/local\/lib\/provd\/provd$)/);
    const nginx = of(/^nginx: /);
    assert.equal(provd.length, 5, procs.map((p) => p.args).join('\n')); // multiwatch and 4 workers
    assert.ok(nginx.length >= 2, procs.map((p) => p.args).join('\n'));  // master and workers
    for (const p of provd) assert.deepEqual([p.user, p.group], ['provd', 'provd-web'], p.args);
    for (const p of nginx) assert.deepEqual([p.user, p.group], ['www-data', 'www-data'], p.args);
    // The sandbox is in force, not only written down: no capability, no new privileges, a
    // system call filter.
    const status = (await box.sh('grep', '-H', '-E', '^(CapEff|NoNewPrivs|Seccomp):',
      ...[...provd, ...nginx].map((p) => `/proc/${p.pid}/status`))).stdout;
    for (const p of [...provd, ...nginx]) {
      const value = (field) => status.match(new RegExp(`^/proc/${p.pid}/status:${field}:\\s+(\\S+)$`, 'm'))?.[1];
      assert.deepEqual([value('CapEff'), value('NoNewPrivs'), value('Seccomp')], ['0000000000000000', '1', '2'], p.args);
    }
  });

  it("the socket is provd-web's, the data directory 0700, the key and database 0600", async () => {
    assert.deepEqual(await stat('/run/provd/provd.sock'), ['provd provd-web 660']);
    const files = ['/var/lib/provd', '/var/lib/provd/provd.key'];
    if (backend === 'sqlite') files.push('/var/lib/provd/provd.sqlite3', '/var/lib/provd/provd.sqlite3-wal');
    assert.deepEqual(await stat(...files), ['provd provd-web 700', ...files.slice(1).map(() => 'provd provd-web 600')]);
  });

  it('provd-prune.service runs once and succeeds, leaving the data as it was; its timer starts', async () => {
    const before = await stat('/var/lib/provd', '/var/lib/provd/provd.key');
    await box.sh('systemctl', 'start', 'provd-prune.service'); // a oneshot: returns once it has run
    assert.equal(await show('provd-prune.service', 'Result'), 'success');
    assert.equal(await show('provd-prune.service', 'ExecMainStatus'), '0');
    assert.deepEqual(await stat('/var/lib/provd', '/var/lib/provd/provd.key'), before);
    await box.sh('systemctl', 'enable', '--now', 'provd-prune.timer');
    assert.equal(await show('provd-prune.timer', 'ActiveState'), 'active');
    assert.equal((await api('GET', '/api/devices/unit-boot-1')).status, 200);
  });

  it('ble-agent.service fails only for want of Bluetooth (exit 9: no AF_BLUETOOTH, 3: no adapter)', async () => {
    await box.sh('systemctl', 'start', 'ble-agent.service');
    const code = await until('ble-agent to exit', async () =>
      (await show('ble-agent.service', 'ExecMainExitTimestampMonotonic')) !== '0' && show('ble-agent.service', 'ExecMainStatus'));
    await box.sh('systemctl', 'stop', 'ble-agent.service'); // no restart 5 s later
    const log = await journal('ble-agent.service');
    assert.ok(['3', '9'].includes(code), `exit ${code}:\n${log}`);
    assert.match(log, /ble-agent: (this kernel has no Bluetooth support|no Bluetooth adapter hci0)/);
  });

  it("ble-agent.service on BlueZ's emulator: a BLE peer's reading reaches provd through it", { skip: noBtvirt }, async () => {
    // btvirt as ble.test.mjs runs it (sockets fixed under /tmp, here its /run/btvirt; the AF_ALG
    // stand-in preloaded), as a service of the container's. The stand-in is copied out of the
    // checkout first: a checkout under /tmp is hidden from a service whose /tmp is /run/btvirt.
    await box.sh('cp', path.join(top, 'build/ble-test/afalg_shim.so'), '/run/afalg_shim.so');
    await box.sh('systemd-run', '--unit=btvirt', '--property=RuntimeDirectory=btvirt', '--property=BindPaths=/run/btvirt:/tmp',
      '--setenv=LD_PRELOAD=/run/afalg_shim.so', '/usr/bin/btvirt', '-s', '-L');
    await until("btvirt's socket", async () => (await box.status('test', '-S', '/run/btvirt/bt-server-le')).code === 0);

    const id = 'unit-boot-ble';
    const token = await provctl('token', 'create', 'unit-boot');
    assert.equal((await api('POST', `/api/devices/${id}`, {})).status, 201);
    assert.equal((await api('PUT', `/api/devices/${id}`, { state: 'accepted' }, token)).status, 200);
    const key = await provctl('device', 'key', id);
    const reading = { data: { value: 7 }, SEQN: 1 };
    put('/run/ble-frame', `${id}\n${JSON.stringify(v2(JSON.stringify(reading), key, id))}`);
    put('/run/ble-battery', '77\n');
    put('/etc/default/ble-agent', `BLE_AGENT_OPTS=--hci-socket /run/btvirt/bt-server-le --server ${base} --name provd-unit --battery-file /run/ble-battery\n`);

    await box.sh('systemctl', 'start', 'ble-agent.service');
    await until('ble-agent to advertise', async () => (await journal('ble-agent.service')).includes('advertising as "provd-unit"'));
    const central = await box.sh(path.join(top, 'build/ble-test/ble-central'), '/run/btvirt/bt-server-le', 'provd-unit',
      '/run/ble-battery', '--frame', '/run/ble-frame');
    const result = JSON.parse(JSON.parse(central.stdout).telemetry[0].result);
    assert.equal(result.status, 201, central.stdout);
    const stored = await api('GET', `/api/devices/${id}/telemetry`, undefined, token);
    assert.deepEqual(stored.json.map((r) => r.reading), [reading]);

    // ble-agent first: it says goodbye to the controller as it stops.
    await box.sh('systemctl', 'stop', 'ble-agent.service');
    assert.equal(await show('ble-agent.service', 'Result'), 'success', await journal('ble-agent.service'));
    assert.equal(await show('ble-agent.service', 'NRestarts'), '0');
    await box.sh('systemctl', 'stop', 'btvirt.service');
    assert.deepEqual(await stat('/var/lib/ble-agent', '/var/lib/ble-agent/spool.sqlite3'), ['root root 700', 'root root 600']);
  });

  it('systemctl restart and stop: each stop is clean, and then nothing of provd is left running', async () => {
    // A stop signalled to multiwatch and its workers at once could hang (provd.service: KillMode).
    for (let i = 0; i < 3; i++) {
      await box.sh('systemctl', 'restart', 'provd.service'); // provd-nginx, which requires it, too
      await until('provd-nginx to answer again', async () => (await fetch(`${base}/api/health`)).ok);
      assert.equal((await api('GET', '/api/devices/unit-boot-1')).status, 200);
    }
    await box.sh('systemctl', 'stop', 'provd-nginx.service', 'provd.service');
    for (const unit of ['provd.service', 'provd-nginx.service']) {
      assert.equal(await show(unit, 'ActiveState'), 'inactive', unit);
      assert.equal(await show(unit, 'Result'), 'success', `${unit}:\n${await journal(unit)}`);
    }
    // A stop that hung was ended by SIGKILL after TimeoutStopSec (a restart then carries on).
    assert.doesNotMatch(await journal('provd.service'), /timed out|Killing process/);
    assert.equal((await box.status('ps', '-u', 'provd,www-data', '-o', 'args=')).stdout, '');
    assert.notEqual((await box.status('test', '-e', '/run/provd')).code, 0);
  });
});
