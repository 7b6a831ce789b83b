// Secrets at rest (issue 18): device keys are sealed under the server key file, so a copy of the
// database alone gives no device key, while provd still opens them (a reading is accepted); the
// key file is private, and refused when it is not; admin answers are never cached.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { v2 } from './lib/seal.mjs';
import { backend, startStack } from './lib/stack.mjs';

// The device's key as the database holds it.
function storedKey(stack, id) {
  if (backend === 'postgresql') {
    return execFileSync('psql', ['-X', '-q', '-At', '-d', stack.db, '-c', `SELECT key FROM devices WHERE deviceid = '${id}'`],
      { encoding: 'utf8' }).trim();
  }
  return execFileSync('sqlite3', [stack.db, `SELECT key FROM devices WHERE deviceid = '${id}'`], { encoding: 'utf8' }).trim();
}

describe('device keys at rest', () => {
  it('a copy of the database alone gives no device key; provd opens them with its key file', async () => {
    const stack = await startStack({ env: { PROVD_REGISTRATION: 'open' } });
    try {
      assert.equal((await stack.api('POST', '/api/devices/sealed-1', { body: {} })).status, 201);
      const made = await stack.api('POST', '/api/devices/sealed-1/key', { admin: true });
      assert.equal(made.status, 201, made.text);
      assert.equal(made.headers.get('cache-control'), 'no-store');
      const key = made.json.key;
      assert.equal((await stack.api('PUT', '/api/devices/sealed-2', { admin: true, body: {} })).status, 201);
      stack.provctl(['device', 'key', 'sealed-2', '--set'], 'a passphrase of the operator\n');

      for (const [id, secret] of [['sealed-1', key], ['sealed-2', 'a passphrase of the operator']]) {
        const stored = storedKey(stack, id);
        assert.match(stored, /^provd-key1:[A-Za-z0-9+/=]+$/);
        assert.ok(!stored.includes(secret));
      }
      const reading = await stack.api('POST', '/api/devices/sealed-1/telemetry',
        { body: v2(JSON.stringify({ SEQN: 1, data: { v: 1 } }), key, 'sealed-1') });
      assert.equal(reading.status, 201, reading.text);

      if (backend === 'sqlite') { // the files themselves, WAL too: the key is in no byte of them
        const bytes = Buffer.concat(['', '-wal'].map((s) => fs.readFileSync(`${stack.db}${s}`)));
        assert.ok(bytes.length > 0);
        for (const secret of [key, 'a passphrase of the operator']) assert.equal(bytes.indexOf(secret), -1, secret);
      }
      const file = fs.statSync(stack.keyFile);
      assert.equal(file.mode & 0o777, 0o600);
      assert.equal(file.uid, fs.statSync(stack.dataDir).uid, 'the workers\' user owns it');
    } finally { await stack.stop(); }
  });

  it('a key file others may read is refused, with what to do', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'provd-keyfile-'));
    try {
      const first = await startStack({ dataDir });
      await first.stop({ keepData: true });
      fs.chmodSync(first.keyFile, 0o644);
      await assert.rejects(startStack({ dataDir }), /server key file .*provd\.key \(PROVD_KEY_FILE\) is open to others \(mode 644\): refused; chmod 600 it/);
    } finally { fs.rmSync(dataDir, { recursive: true, force: true }); }
  });
});

describe('admin tokens', () => {
  it('can expire, and the list shows when each was last used', async () => {
    const stack = await startStack();
    try {
      const token = stack.provctl(['token', 'create', 'quarterly', '--expires', '90d']);
      assert.match(stack.provctl(['token', 'list']), /^quarterly\s+\S+\s+expires \d{4}-\S+\s+last used never$/m);
      const before = Math.floor(Date.now() / 1000) * 1000;
      const r = await stack.api('GET', '/api/stats', { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('cache-control'), 'no-store');
      const line = stack.provctl(['token', 'list']).split('\n').find((l) => l.startsWith('quarterly '));
      const used = Date.parse(line.match(/last used (\S+)$/)[1]);
      assert.ok(used >= before, line);
      assert.throws(() => stack.provctl(['token', 'create', 'odd', '--expires', '90 days']),
        (e) => e.status === 2 && /--expires DAYSd\|HOURSh/.test(e.stderr));
    } finally { await stack.stop(); }
  });
});

