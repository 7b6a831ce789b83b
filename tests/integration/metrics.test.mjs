// GET /api/metrics through real nginx + provd: the counters of what the test did, summed over the
// stack's workers and kept when every worker is killed, the fleet's gauges, who may scrape,
// promtool's check of the text, and a real Prometheus scraping the stack and answering a query.
// And the logs: nginx's request id in X-Request-Id, in its access log and in provd's logfmt lines.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { v2 } from './lib/seal.mjs';
import { freePort, startStack, top, workerPids } from './lib/stack.mjs';

const KEY = '000102030405060708090a0b0c0d0e0f';
// Loopback is not allowed to scrape without a token here; 127.0.0.2 is (the test connects from it).
const ALLOWED = '127.0.0.2';

let stack;
before(async () => {
  stack = await startStack({ env: { PROVD_REGISTRATION: 'open', PROVD_FLEET_KEY: KEY, METRICS_ALLOW: ALLOWED } });
});
after(async () => { await stack?.stop(); });

const api = (...args) => stack.api(...args);

// GET /api/metrics from localAddress, with headers: { status, type, text }.
function scrapeFrom(localAddress, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: stack.port, path: '/api/metrics', localAddress, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], text }));
    });
    req.on('error', reject);
  });
}

// The samples of an exposition: "name{labels}" -> value.
function samples(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-z_]+(?:\{[^}]*\})?) (\S+)$/);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

async function scrape() {
  const r = await api('GET', '/api/metrics', { admin: true });
  assert.equal(r.status, 200, r.text);
  return samples(r.text);
}

const reading = (id, seqn) => JSON.stringify(v2(JSON.stringify({ data: { v: seqn }, SEQN: seqn }), KEY, id));
const postReading = (id, body) => api('POST', `/api/devices/${id}/telemetry`, { body, headers: { 'Content-Type': 'application/json' } });

describe('metrics', () => {
  it('counts what happened, by route, result and answer, with the fleet\'s gauges; promtool passes', async () => {
    for (const id of ['m-1', 'm-2', 'm-3']) assert.equal((await api('POST', `/api/devices/${id}`, { body: {} })).status, 201);
    assert.equal((await api('POST', '/api/devices/m-1', { body: {} })).status, 200, 'known: no new registration');
    assert.equal((await api('GET', '/api/devices/m-1')).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await api('GET', '/api/devices/m-2', { headers: { 'If-None-Match': '"0"' } })).status, 304);
    const body = reading('m-1', 1);
    assert.equal((await postReading('m-1', body)).status, 201);
    assert.equal((await postReading('m-1', body)).status, 409);
    assert.equal((await postReading('m-2', '{"v":2,"nonce":"AAAAAAAAAAAAAAAA","data":"AAAA"}')).status, 400);
    assert.equal((await postReading('m-unknown', reading('m-unknown', 1))).status, 404);
    assert.equal((await api('GET', '/api/no-such-thing')).status, 404);

    const r = await api('GET', '/api/metrics', { admin: true });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4');
    const s = samples(r.text);
    assert.equal(s.get('provd_registrations_total'), 3);
    assert.equal(s.get('provd_requests_total{route="device_register",code="2xx"}'), 4);
    assert.equal(s.get('provd_polls_total{answer="200"}'), 1);
    assert.equal(s.get('provd_polls_total{answer="304"}'), 2);
    assert.equal(s.get('provd_requests_total{route="device_get",code="3xx"}'), 2);
    assert.equal(s.get('provd_request_duration_seconds_count{route="device_get"}'), 3);
    assert.equal(s.get('provd_request_duration_seconds_bucket{route="device_get",le="+Inf"}'), 3);
    assert.equal(s.get('provd_readings_total{result="accepted"}'), 1);
    assert.equal(s.get('provd_readings_total{result="replay"}'), 1);
    assert.equal(s.get('provd_readings_total{result="unreadable"}'), 1);
    assert.equal(s.get('provd_readings_total{result="refused"}'), 1);
    assert.equal(s.get('provd_requests_total{route="unmatched",code="4xx"}'), 1);
    assert.equal(s.get('provd_devices{state="accepted"}'), 3);
    assert.equal(s.get('provd_devices{state="pending"}'), 0);
    assert.equal(s.get('provd_devices_liveness{liveness="online"}'), 3);
    assert.equal(s.get('provd_devices_liveness{liveness="offline"}'), 0);
    assert.ok(s.get('provd_database_bytes') > 0);
    assert.equal(s.get('provd_database_up'), 1);
    const counted = s.get('provd_fleet_counted_timestamp_seconds'); // a small fleet: counted per scrape
    assert.ok(Math.abs(counted - Date.now() / 1000) < 60, `counted at ${counted}`);
    assert.equal([...s.keys()].filter((k) => k.includes('m-1')).length, 0, 'no per-device labels');

    const check = spawnSync('promtool', ['check', 'metrics'], { input: r.text, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
  });

  it('without a token only METRICS_ALLOW may scrape; a client cannot claim it', async () => {
    assert.equal((await scrapeFrom('127.0.0.1')).status, 401);
    assert.equal((await scrapeFrom('127.0.0.1', { 'Metrics-Allowed': '1', 'X-Forwarded-For': ALLOWED })).status, 401);
    assert.equal((await scrapeFrom('127.0.0.1', { Authorization: 'Bearer wrong' })).status, 401);
    const allowed = await scrapeFrom(ALLOWED);
    assert.equal(allowed.status, 200);
    assert.equal(allowed.type, 'text/plain; version=0.0.4');
    assert.equal(samples(allowed.text).get('provd_database_up'), 1);
    assert.equal((await scrapeFrom('127.0.0.1', { Authorization: `Bearer ${stack.token}` })).status, 200);
  });

  it('the counters outlive every worker: killed, replaced, still counted', async () => {
    const before = await scrape();
    const killed = workerPids(stack);
    assert.equal(killed.length, 2);
    for (const pid of killed) process.kill(pid, 'SIGKILL');
    // multiwatch starts new workers; a request answered means one is up.
    for (let i = 0; ; i++) {
      const now = workerPids(stack);
      if (now.length === 2 && !now.some((p) => killed.includes(p))) break;
      assert.ok(i < 300, 'replacement workers within 30 s');
      await sleep(100);
    }
    const after = await scrape();
    assert.equal(after.get('provd_registrations_total'), before.get('provd_registrations_total'));
    assert.equal(after.get('provd_readings_total{result="accepted"}'), before.get('provd_readings_total{result="accepted"}'));
    assert.equal(after.get('provd_requests_total{route="metrics",code="2xx"}'),
      before.get('provd_requests_total{route="metrics",code="2xx"}') + 1, 'the scrape before, counted');
  });

  it('a real Prometheus scrapes the stack and answers a query on a counter', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'provd-prometheus-'));
    const port = await freePort();
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), [
      'global:',
      '  scrape_interval: 1s',
      'scrape_configs:',
      '  - job_name: provd',
      '    metrics_path: /api/metrics',
      '    authorization:',
      `      credentials: ${stack.token}`,
      '    static_configs:',
      `      - targets: ['127.0.0.1:${stack.port}']`,
      '',
    ].join('\n'));
    const prometheus = spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    prometheus.stderr.on('data', (d) => { log += d; });
    const exited = once(prometheus, 'exit');
    try {
      const expected = (await scrape()).get('provd_registrations_total');
      const query = encodeURIComponent('sum by (job) (provd_registrations_total)');
      let answer;
      for (let i = 0; ; i++) {
        assert.equal(prometheus.exitCode, null, `prometheus exited:\n${log}`);
        try {
          const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${query}`);
          if (res.ok) answer = await res.json();
        } catch { /* not listening yet */ }
        if (answer?.data?.result?.length) break;
        assert.ok(i < 300, `no sample in Prometheus within 30 s:\n${JSON.stringify(answer)}\n${log}`);
        await sleep(100);
      }
      assert.equal(answer.status, 'success');
      assert.equal(answer.data.result[0].metric.job, 'provd');
      assert.equal(Number(answer.data.result[0].value[1]), expected);
    } finally {
      prometheus.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metrics off', () => {
  it('PROVD_METRICS=off: /api/metrics is a 404 saying so, the rest of the API as before', async () => {
    const off = await startStack({ env: { PROVD_METRICS: 'off', PROVD_REGISTRATION: 'open' } });
    try {
      const r = await off.api('GET', '/api/metrics', { admin: true });
      assert.equal(r.status, 404);
      assert.match(r.json.message, /PROVD_METRICS=off/);
      assert.equal((await off.api('POST', '/api/devices/off-1', { body: '{}' })).status, 201);
    } finally { await off.stop(); }
  });

  it('a PROVD_METRICS other than on or off stops provd with one line naming it', () => {
    const r = spawnSync(path.join(top, 'build/provd'), ['--check'],
      { env: { ...process.env, PROVD_METRICS: 'maybe', PROVD_DB: path.join(os.tmpdir(), 'provd-metrics-never.db') }, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /PROVD_METRICS must be on or off \(not "maybe"\)/);
  });
});

describe('logs', () => {
  it('a request\'s id is its X-Request-Id, in nginx\'s access log and provd\'s line, both logfmt, nothing secret', async () => {
    const id = 'log-1';
    assert.equal((await api('POST', `/api/devices/${id}`, { body: {} })).status, 201);
    const secret = 'plaintext-never-logged';
    const sealed = JSON.stringify(v2(JSON.stringify({ data: { v: secret } }), KEY, id)); // no SEQN: unreadable
    const r = await api('POST', `/api/devices/${id}/telemetry`, { body: sealed, headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 400);
    const rid = r.headers.get('x-request-id');
    assert.match(rid, /^[0-9a-f]{32}$/);
    const other = (await api('GET', '/api/', { admin: true })).headers.get('x-request-id');
    assert.match(other, /^[0-9a-f]{32}$/);
    assert.notEqual(other, rid);

    const logfmt = /^(?:[a-z_]+=(?:"(?:[^"\\]|\\.)*"|[^\s"]*)(?: |$))+$/;
    const access = fs.readFileSync(path.join(stack.dataDir, 'run/access.log'), 'utf8').split('\n').filter(Boolean);
    const line = access.find((l) => l.includes(`request_id=${rid}`));
    assert.ok(line, `the request in nginx's access log:\n${access.slice(-5).join('\n')}`);
    assert.match(line, logfmt);
    assert.match(line, / method=POST uri="\/api\/devices\/log-1\/telemetry" status=400 /);

    const provd = stack.logs().split('\n').find((l) => l.includes(`request_id=${rid}`));
    assert.ok(provd, `provd's line of the request:\n${stack.logs().slice(-2000)}`);
    assert.match(provd, logfmt);
    assert.match(provd, /^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ level=info event=reading_unreadable request_id=[0-9a-f]{32} device=log-1 msg="[^"]+"$/);

    const everything = `${access.join('\n')}\n${stack.logs()}`;
    for (const secretText of [secret, stack.token, KEY, JSON.parse(sealed).data]) {
      assert.ok(!everything.includes(secretText), `no secret in a log line: ${secretText}`);
    }
  });
});
