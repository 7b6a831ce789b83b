// Firmware updates end to end: devsim devices against the real stack (nginx + provd) with its
// firmware API: an image uploaded, assigned to each device, offered in its polls, downloaded
// (signed by keyed devices), verified and booted; the devices that come back with the old
// version (--fail-update) counted as failed, the others as installed, each exactly as devsim saw.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { devsim, failsUpdates } from './lib/devsim.mjs';
import { startStack } from './lib/stack.mjs';
import { until as waitFor } from './lib/wait.mjs';

const KEY = crypto.randomBytes(16).toString('hex');
const IMAGE = crypto.randomBytes(200 * 1024);

let stack;
before(async () => {
  stack = await startStack({
    env: { PROVD_REGISTRATION: 'open', PROVD_FLEET_KEY: KEY, PROVD_POLL_INTERVAL: '5',
      PROVD_REGISTRATIONS_PER_MIN: '0', SITE_RATE: '100000r/s', SITE_BURST: '100000' },
  });
});
after(async () => { await stack?.stop(); });

async function upload(version, bytes) {
  const res = await fetch(`${stack.base}/api/firmware?version=${encodeURIComponent(version)}`, {
    method: 'POST', body: bytes,
    headers: { Authorization: `Bearer ${stack.token}`, 'Content-Type': 'application/octet-stream' },
  });
  const text = await res.text();
  assert.equal(res.status, 201, `POST /api/firmware: ${text}`);
  return JSON.parse(text);
}

async function view(id) {
  const r = await stack.api('GET', `/api/devices/${id}`, { admin: true });
  assert.equal(r.status, 200, r.text);
  return r.json;
}


const ids = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

// Starts devsim, waits for every device to be known, assigns `version` to each, and returns
// devsim's result once it has run for `seconds`.
async function rollOut(prefix, n, version, seconds, extra = []) {
  // A device's first signed call must find it known (its secret is looked up by its id): an admin
  // makes signing devices first, as for any keyed fleet (README.md, Device trust).
  if (extra.includes('--sign')) {
    for (const id of ids(prefix, n))
      assert.equal((await stack.api('PUT', `/api/devices/${id}`, { admin: true, body: { name: id } })).status, 201);
  }
  const run = devsim(['--server', stack.base, '--devices', String(n), '--id-prefix', prefix, '--key', KEY,
    '--interval', '1', '--telemetry-every', '0', '--firmware-version', '1.0', '--duration', String(seconds),
    ...extra]);
  for (const id of ids(prefix, n)) {
    await waitFor(`${id} to register`, async () => (await stack.api('GET', `/api/devices/${id}`, { admin: true })).status === 200, 10000);
    const put = await stack.api('PUT', `/api/devices/${id}`, { admin: true, body: { firmware: version } });
    assert.equal(put.status, 200, put.text);
  }
  return run.result;
}

describe('firmware updates through devsim and the real stack', () => {
  it('devices download, verify and boot the assigned image; the --fail-update share is counted failed', async () => {
    const up = await upload('2.0', IMAGE);
    assert.equal(up.sha256, crypto.createHash('sha256').update(IMAGE).digest('hex'));
    assert.equal(up.size, IMAGE.length);
    const n = 30;
    const failing = ids('ota-', n).filter((id) => failsUpdates(id, 20));
    assert.ok(failing.length > 0 && failing.length < n);

    const { code, summary, stderr } = await rollOut('ota-', n, '2.0', 20, ['--fail-update', '20']);
    assert.equal(code, 0, stderr);
    assert.equal(summary.firmware_updated, n - failing.length);
    assert.equal(summary.firmware_refused, 0);
    assert.ok(summary.firmware_bytes >= (n - failing.length) * IMAGE.length, `bytes: ${summary.firmware_bytes}`);
    for (const id of ids('ota-', n)) {
      const d = await view(id);
      assert.equal(d.firmware, '2.0', id);
      if (failing.includes(id)) {
        assert.equal(d.firmware_running, '1.0', id);
        assert.equal(d.firmware_status, 'failed', id);
      } else {
        assert.equal(d.firmware_running, '2.0', id);
        assert.equal(d.firmware_status, 'installed', id);
      }
    }
  });

  // A signing device takes the offer only from its sealed configuration (firmware/README.md).
  it('keyed devices get the offer sealed and sign the image download like their polls', async () => {
    await upload('2.1+signed', IMAGE.subarray(0, 50000));
    const { code, summary, stderr } = await rollOut('otas-', 3, '2.1+signed', 12, ['--sign']);
    assert.equal(code, 0, stderr);
    assert.equal(summary.firmware_updated, 3);
    for (const id of ids('otas-', 3)) {
      const d = await view(id);
      assert.equal(d.firmware_running, '2.1+signed', id);
      assert.equal(d.firmware_status, 'installed', id);
    }
  });
});
