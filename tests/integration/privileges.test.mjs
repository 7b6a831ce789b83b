// Least privilege under `make run` (scripts/stack.sh), as CI runs it: as root. nginx's workers and
// provd's run as the unprivileged service user, never root; DATA_DIR is that user's alone, and the
// database and its WAL are 0600; a DATA_DIR that is a symbolic link or someone else's is refused.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { backend, descendants, startStack, workerPids } from './lib/stack.mjs';

const asRoot = process.getuid() === 0;
const notRoot = !asRoot && 'only a stack started as root changes users';

const uidOf = (pid) => Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)[1]);
const mode = (file) => fs.statSync(file).mode & 0o777;
const serviceUid = () => Number(execFileSync('id', ['-u', 'provd'], { encoding: 'utf8' }).trim());

describe('make run as root', { skip: notRoot }, () => {
  it('runs every worker as the service user; DATA_DIR is 0700 and the database 0600, theirs', async () => {
    const stack = await startStack();
    try {
      assert.equal((await stack.api('POST', '/api/devices/owned', { body: {} })).status, 201);
      const uid = serviceUid();
      assert.notEqual(uid, 0);
      const procs = descendants(stack.child.pid);
      const nginxWorkers = procs.filter((p) => p.args.startsWith('nginx: worker'));
      const multiwatch = procs.filter((p) => p.args.startsWith('/usr/bin/multiwatch'));
      const workers = workerPids(stack);
      assert.ok(nginxWorkers.length >= 1 && multiwatch.length === 1 && workers.length === 2,
        procs.map((p) => p.args).join('\n'));
      for (const pid of [...nginxWorkers.map((p) => p.pid), multiwatch[0].pid, ...workers]) {
        assert.equal(uidOf(pid), uid, `${pid} runs as ${uidOf(pid)}`);
      }
      assert.equal(mode(stack.dataDir), 0o700);
      assert.equal(fs.statSync(stack.dataDir).uid, uid);
      if (backend === 'sqlite') {
        for (const file of ['provd.sqlite3', 'provd.sqlite3-wal']) {
          const at = path.join(stack.dataDir, file);
          assert.equal(mode(at), 0o600, file);
          assert.equal(fs.statSync(at).uid, uid, file);
        }
      }
    } finally { await stack.stop(); }
  });

  it('refuses a DATA_DIR someone else owns', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'provd-theirs-'));
    try {
      fs.chownSync(dir, 65534, 65534); // nobody's, as a directory another user made under /tmp
      await assert.rejects(startStack({ dataDir: dir }), /DATA_DIR .* belongs to nobody, not to provd: refused/);
      assert.deepEqual(fs.readdirSync(dir).filter((f) => f !== 'pg-database'), [], 'nothing written there');
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });
});

describe('DATA_DIR', () => {
  it('is refused when it is a symbolic link', async () => {
    const real = fs.mkdtempSync(path.join(os.tmpdir(), 'provd-real-'));
    const link = `${real}-link`;
    fs.symlinkSync(real, link);
    try {
      await assert.rejects(startStack({ dataDir: link }), /DATA_DIR .*-link is a symbolic link: refused/);
      assert.deepEqual(fs.readdirSync(real).filter((f) => f !== 'pg-database'), [], 'nothing written there');
    } finally {
      fs.rmSync(link, { force: true });
      fs.rmSync(real, { recursive: true, force: true });
    }
  });
});
