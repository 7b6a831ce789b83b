// The firmware core against the real stack: build/devsim simulates a few hundred devices that
// register, poll and send encrypted readings through nginx + provd; an admin's configuration
// change reaches its device, and every reading devsim saw accepted is stored exactly once.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { devsim } from './lib/devsim.mjs';
import { startStack } from './lib/stack.mjs';
import { until as waitFor } from './lib/wait.mjs';

const KEY = crypto.randomBytes(16).toString('hex');
const POLL_S = 5;

let stack;
before(async () => {
  // A fleet of hundreds on one address, at a dozen times the usual pace: past the defaults for one
  // site (new devices a minute, device calls per address), which tests/integration/limits.test.mjs
  // checks; here they are lifted.
  stack = await startStack({
    env: { PROVD_REGISTRATION: 'open', PROVD_FLEET_KEY: KEY, PROVD_POLL_INTERVAL: String(POLL_S),
      PROVD_REGISTRATIONS_PER_MIN: '0', SITE_RATE: '100000r/s', SITE_BURST: '100000' },
  });
});
after(async () => { await stack?.stop(); });

const fleetArgs = (prefix, devices, extra = []) => ['--server', stack.base, '--devices', String(devices),
  '--id-prefix', prefix, '--key', KEY, ...extra];

const readingsStored = async () => (await stack.api('GET', '/api/stats', { admin: true })).json.readings;

async function seqns(id) {
  const r = await stack.api('GET', `/api/devices/${id}/telemetry?order=asc&limit=10000`, { admin: true });
  assert.equal(r.status, 200, r.text);
  return r.json.map((reading) => reading.seqn);
}

// Every device whose id starts with prefix, through the admin list's pages.
async function listDevices(prefix) {
  const found = [];
  let url = '/api/devices?limit=1000';
  while (url) {
    const r = await stack.api('GET', url, { admin: true });
    assert.equal(r.status, 200, r.text);
    found.push(...r.json.filter((d) => d.deviceid.startsWith(prefix)));
    url = r.headers.get('link')?.match(/<([^>]+)>;\s*rel="next"/)?.[1];
  }
  return found;
}

const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);

describe('devsim', () => {
  it('300 devices register, poll and log; a config change reaches its device; every reading is stored once', async () => {
    const devices = 300;
    const target = 'e2e-0123';
    const before = await readingsStored();
    const run = devsim(fleetArgs('e2e-', devices, ['--interval', String(POLL_S), '--telemetry-every', '2',
      '--duration', '20']));

    // Mid-run, once the device is there, an admin changes its configuration.
    await waitFor(`${target} to register`,
      async () => (await stack.api('GET', `/api/devices/${target}`, { admin: true })).status === 200, 10000);
    const put = await stack.api('PUT', `/api/devices/${target}`, { admin: true, body: { data: { led: 'on', rate: 7 } } });
    assert.equal(put.status, 200, put.text);
    const cfgsn = put.json.cfgsn;
    assert.ok(cfgsn >= 1);
    // The device applies it at its next poll and reports it at the one after (two intervals).
    const applied = await waitFor(`${target} to apply cfgsn ${cfgsn}`, async () => {
      const d = (await listDevices(target)).find((x) => x.deviceid === target);
      return d?.cfgsn_applied === cfgsn && d;
    }, (3 * POLL_S + 2) * 1000);
    assert.deepEqual(applied.data, { led: 'on', rate: 7 });

    const { code, summary, stderr } = await run.result;
    assert.equal(code, 0, stderr);
    assert.equal(summary.result, 'ok');
    assert.equal(summary.registered, devices);
    assert.equal(summary.unregistered, 0);
    assert.equal(summary.readings_refused, 0);
    assert.equal(summary.readings_unconfirmed, 0);
    assert.equal(summary.configs_applied, 1);
    // Every poll but the one that fetched the new configuration was a 304.
    assert.equal(summary.polls - summary.not_modified, 1);
    assert.ok(summary.polls >= devices * 3, `polls: ${summary.polls}`);
    assert.ok(summary.readings_accepted >= devices * 4, `accepted: ${summary.readings_accepted}`);
    assert.match(stderr, /registered 300\/300/);

    // Stored exactly once: the server holds as many new readings as devsim saw accepted ...
    assert.equal(await readingsStored() - before, summary.readings_accepted);
    // ... and each device's SEQNs run 1, 2, 3 ... without a gap or a repeat.
    const sample = ['e2e-0000', target, 'e2e-0299', ...range(0, 5).map(() =>
      `e2e-${String(crypto.randomInt(devices)).padStart(4, '0')}`)];
    for (const id of sample) {
      const s = await seqns(id);
      assert.ok(s.length >= 4, `${id}: ${s.length} readings`);
      assert.deepEqual(s, range(1, s.length), id);
    }

    const list = await listDevices('e2e-');
    assert.equal(list.length, devices);
    for (const d of list) {
      assert.equal(d.state, 'accepted', d.deviceid);
      assert.equal(d.online, true, d.deviceid);
      assert.equal(d.ssid, 'devsim');
    }
  });

  it('v1 envelopes, and SEQNs that continue across a restart with --state-dir', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'devsim-state-'));
    try {
      const before = await readingsStored();
      const args = fleetArgs('v1-', 3, ['--v1', '--telemetry-every', '1', '--duration', '3', '--state-dir', stateDir]);
      const first = await devsim(args).result;
      assert.equal(first.code, 0, first.stderr);
      const s1 = await seqns('v1-0001');
      assert.ok(s1.length >= 2);
      assert.deepEqual(s1, range(1, s1.length));
      assert.ok(fs.existsSync(path.join(stateDir, 'v1-0001.seqn')));

      const second = await devsim(args).result;
      assert.equal(second.code, 0, second.stderr);
      // The restart resumes past the reserved block of 64: no SEQN is sent twice, none refused.
      const s2 = await seqns('v1-0001');
      const resumed = s2.slice(s1.length);
      assert.ok(resumed.length >= 2);
      assert.deepEqual(resumed, range(65, resumed.length));
      assert.equal(second.summary.readings_refused, 0);
      assert.equal(await readingsStored() - before,
        first.summary.readings_accepted + second.summary.readings_accepted);
    } finally {
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('exits non-zero when the server refuses the readings (wrong key)', async () => {
    const wrongKey = crypto.randomBytes(16).toString('hex');
    const { code, summary, stderr } = await devsim(['--server', stack.base, '--devices', '2', '--id-prefix', 'bad-',
      '--key', wrongKey, '--telemetry-every', '1', '--duration', '3']).result;
    assert.equal(code, 1);
    assert.equal(summary.registered, 2);
    assert.equal(summary.readings_accepted, 0);
    assert.ok(summary.readings_refused >= 2);
    assert.match(summary.result, /FAILED: readings refused/);
    assert.match(stderr, /bad-000\d: error: reading refused \(400\)/);
  });

  it('refuses options out of bounds with a usage error', async () => {
    const bad = [['--devices', '0'], ['--devices', '100001'], ['--interval', '0'], ['--key', 'abc'],
      ['--server', 'ftp://x'], ['--connections', '5000']];
    for (const [opt, value] of bad) {
      // Each value is checked where it stands, so a bad one after good ones is still refused.
      const { code, stderr } = await devsim([...fleetArgs('u-', 1), opt, value]).result;
      assert.equal(code, 2, `${opt} ${value}`);
      assert.match(stderr, new RegExp(opt));
    }
    const help = await devsim(['--help']).result;
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: devsim --server URL/);
  });
});
