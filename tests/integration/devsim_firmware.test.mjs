// @no-database: it starts no provd, so tests/run.sh runs it once, not again on PostgreSQL.
// The firmware core's updates through devsim against a small HTTP server of the test's own that
// speaks the device side of the contract (poll answer with "firmware", the image with byte
// ranges, ?fw= and "fw" reports): downloads resumed after a cut connection, a server without
// Range support, a corrupted image never booted, --fail-update devices coming back with the old
// version, and no device reporting the new version before it has downloaded and rebooted.
// provd's own side is tested with devsim in devsim_ota.test.mjs.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { devsim, failsUpdates } from './lib/devsim.mjs';

const KEY = crypto.randomBytes(16).toString('hex');
const IMAGE = crypto.randomBytes(300 * 1024);
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');
const md5 = (b) => crypto.createHash('md5').update(b).digest('hex');

// The server. mode: { cut: bytes of each device's first image answer before the connection is
// destroyed (0: none), ranges: honour Range, serve: the bytes served (default IMAGE) }.
// Per device it records the versions reported, the image requests and when one completed.
async function startServer(mode) {
  const devices = new Map();
  const violations = [];
  const serve = mode.serve ?? IMAGE;
  const offer = (id) => ({ version: '2.0', url: `/fw/2.0?d=${id}`, size: IMAGE.length, sha256: sha256(IMAGE),
    md5: md5(IMAGE) });
  const device = (id) => {
    if (!devices.has(id)) devices.set(id, { reports: [], gets: [], completed: 0 });
    return devices.get(id);
  };
  // A report of 2.0 is only honest once an image download has completed (and the device rebooted).
  const report = (id, fw) => {
    const d = device(id);
    d.reports.push(fw);
    if (fw === '2.0' && d.completed === 0) violations.push(`${id} reported 2.0 before any complete download`);
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const m = url.pathname.match(/^\/api\/devices\/([\w.:-]+)$/);
      if (m && req.method === 'POST') {
        report(m[1], JSON.parse(body).fw);
        res.writeHead(201, { 'Content-Type': 'application/json' }).end('{}');
      } else if (m && req.method === 'GET') {
        const fw = url.searchParams.get('fw');
        report(m[1], fw);
        if (fw === '2.0') {
          res.writeHead(304).end();
        } else {
          res.writeHead(200, { 'Content-Type': 'application/json' })
            .end(JSON.stringify({ cfgsn: 0, data: {}, poll_interval: 1, firmware: offer(m[1]) }));
        }
      } else if (url.pathname === '/fw/2.0') {
        const d = device(url.searchParams.get('d'));
        const range = req.headers.range?.match(/^bytes=(\d+)-$/);
        const from = range && mode.ranges ? Number(range[1]) : 0;
        d.gets.push({ range: req.headers.range ?? null, from });
        const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': serve.length - from };
        if (from > 0) headers['Content-Range'] = `bytes ${from}-${serve.length - 1}/${serve.length}`;
        res.writeHead(from > 0 ? 206 : 200, headers);
        if (mode.cut && d.gets.length === 1) {
          res.write(serve.subarray(0, mode.cut), () => res.destroy());
          return;
        }
        res.end(serve.subarray(from), () => { d.completed++; });
      } else {
        res.writeHead(404).end();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { base: `http://127.0.0.1:${server.address().port}`, devices, violations,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }) };
}

const run = (srv, prefix, n, extra = []) => devsim(['--server', srv.base, '--devices', String(n), '--id-prefix',
  prefix, '--key', KEY, '--interval', '1', '--telemetry-every', '0', '--firmware-version', '1.0',
  '--duration', '8', ...extra]).result;


describe('devsim firmware updates', () => {
  it('downloads, resumes a cut transfer with Range, verifies, reboots and only then reports the new version', async () => {
    const srv = await startServer({ cut: 100000, ranges: true });
    try {
      const { code, summary, stderr } = await run(srv, 'up-', 20);
      assert.equal(code, 0, stderr);
      assert.deepEqual(srv.violations, []);
      assert.equal(summary.firmware_updated, 20);
      assert.equal(summary.firmware_refused, 0);
      for (const [id, d] of srv.devices) {
        // The first answer was cut; the second asked for the rest and got it as a 206.
        assert.equal(d.gets.length, 2, id);
        assert.equal(d.gets[0].range, null, id);
        assert.ok(d.gets[1].from > 0 && d.gets[1].from <= 100000, `${id}: ${d.gets[1].range}`);
        assert.equal(d.completed, 1, id);
        assert.equal(d.reports[0], '1.0', id);
        assert.equal(d.reports.at(-1), '2.0', id);
      }
      assert.equal(srv.devices.size, 20);
    } finally {
      await srv.close();
    }
  });

  it('resumes against a server without Range support by skipping what it has', async () => {
    const srv = await startServer({ cut: 150000, ranges: false });
    try {
      const { code, summary, stderr } = await run(srv, 'nr-', 5);
      assert.equal(code, 0, stderr);
      assert.deepEqual(srv.violations, []);
      assert.equal(summary.firmware_updated, 5);
      for (const [id, d] of srv.devices) {
        assert.equal(d.gets.length, 2, id);
        assert.match(d.gets[1].range, /^bytes=\d+-$/, id);
        assert.equal(d.reports.at(-1), '2.0', id);
      }
    } finally {
      await srv.close();
    }
  });

  it('never boots a corrupted image: keeps reporting the old version and gives up after three tries', async () => {
    const corrupt = Buffer.from(IMAGE);
    corrupt[12345] ^= 0x40;
    const srv = await startServer({ cut: 0, ranges: true, serve: corrupt });
    try {
      const { code, summary, stderr } = await run(srv, 'bad-', 4);
      assert.equal(code, 0, stderr);
      assert.equal(summary.firmware_updated, 0);
      assert.equal(summary.firmware_refused, 4 * 3);
      for (const [id, d] of srv.devices) {
        assert.equal(d.gets.length, 3, id); // each from the start, then no more
        assert.ok(d.gets.every((g) => g.range === null), id);
        assert.ok(d.reports.every((v) => v === '1.0'), id);
      }
    } finally {
      await srv.close();
    }
  });

  it('--fail-update: the chosen share comes back with the old version, the rest with the new one', async () => {
    const srv = await startServer({ cut: 0, ranges: true });
    try {
      const n = 40;
      const failing = Array.from({ length: n }, (_, i) => `fu-${String(i).padStart(4, '0')}`)
        .filter((id) => failsUpdates(id, 25));
      assert.ok(failing.length > 0 && failing.length < n);
      const { code, summary, stderr } = await run(srv, 'fu-', n, ['--fail-update', '25']);
      assert.equal(code, 0, stderr);
      assert.deepEqual(srv.violations, []);
      assert.equal(summary.firmware_updated, n - failing.length);
      // Each failing device boots the stored image three times (no new download), then stops.
      assert.equal(summary.firmware_rolled_back, failing.length * 3);
      for (const [id, d] of srv.devices) {
        assert.equal(d.gets.length, 1, id);
        assert.equal(d.reports.at(-1), failing.includes(id) ? '1.0' : '2.0', id);
      }
    } finally {
      await srv.close();
    }
  });
});
