// @no-database: it starts no provd, so tests/run.sh runs it once, not again on PostgreSQL.
// bench/report.awk, the table `make bench` prints: each row is divided by the ceilings measured
// around its own backend's rows at its fleet size (FastCGI, keep-alive FastCGI, and for
// PostgreSQL's rows pgbench -S), and the targets are judged from those ratios.
// Fed measurements written here (the bench itself is not a test: it takes minutes).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { top } from './lib/stack.mjs';

// name, devices ('-': none), req/s, p99 ms, responses >= 400, backend of a provd row
const RUNS = [
  ['nginx_return_200', '-', 40000, 1.0, 0, '-'],
  ['nginx_fastcgi_hello', 1000, 14000, 2.0, 0, '-'],
  ['nginx_fastcgi_keepalive', 1000, 24000, 2.0, 0, '-'],
  ['hello_closing_at_once', 1000, 18000, 2.0, 0, '-'], // shown against the ceiling, not part of it
  ['heartbeat_metrics_off', 1000, 12500, 3.0, 0, 'sqlite'],
  ['heartbeat', 1000, 12000, 3.0, 0, 'sqlite'],
  ['poll_304', 1000, 11000, 3.0, 0, 'sqlite'],
  ['list_first_page', 1000, 3000, 4.0, 0, 'sqlite'],
  ['ingest_v1', 1000, 8000, 9.0, 0, 'sqlite'],
  ['ingest_v2', 1000, 8000, 9.0, 3, 'sqlite'],
  ['signed_heartbeat', 1000, 10000, 3.0, 0, 'sqlite'],
  ['nginx_fastcgi_hello_after', 1000, 16000, 2.0, 0, '-'],
  ['nginx_fastcgi_keepalive_after', 1000, 26000, 2.0, 0, '-'],
  ['pgbench_select', 1000, 20000, 1.0, 0, '-'],
  ['pgbench_devices_pk', 1000, 18000, 1.0, 0, '-'],
  ['pg_heartbeat', 1000, 9000, 3.0, 0, 'pg'],
  ['pg_poll_304', 1000, 9500, 3.0, 0, 'pg'],
  ['pg_ingest_v2', 1000, 5000, 9.0, 0, 'pg'],
  ['pg_signed_heartbeat', 1000, 9000, 3.0, 2, 'pg'],
  ['pgbench_select_after', 1000, 22000, 1.0, 0, '-'],
  ['nginx_fastcgi_hello_after_pg', 1000, 15000, 2.0, 0, '-'],
  ['nginx_fastcgi_keepalive_after_pg', 1000, 23000, 2.0, 0, '-'],
  // the machine is slower at 1M: its ceiling is 10000, not 15000
  ['nginx_fastcgi_hello', 1000000, 9000, 2.0, 0, '-'],
  ['nginx_fastcgi_keepalive', 1000000, 15000, 2.0, 0, '-'],
  ['heartbeat', 1000000, 7000, 3.0, 0, 'sqlite'],
  ['list_first_page', 1000000, 1500, 5.2, 0, 'sqlite'],
  ['metrics_scrape', 1000000, 200, 30, 0, 'sqlite'],
  ['nginx_fastcgi_hello_after', 1000000, 11000, 2.0, 0, '-'],
  ['nginx_fastcgi_keepalive_after', 1000000, 17000, 2.0, 0, '-'],
  ['pgbench_select', 1000000, 18000, 1.0, 0, '-'],
  ['pg_heartbeat', 1000000, 6000, 3.0, 0, 'pg'],
  ['pg_ingest_v2', 1000000, 2800, 9.0, 0, 'pg'],
  ['pg_metrics_scrape', 1000000, 100, 80, 0, 'pg'],
  ['pgbench_select_after', 1000000, 18000, 1.0, 0, '-'],
  ['nginx_fastcgi_hello_after_pg', 1000000, 10000, 2.0, 0, '-'],
  ['nginx_fastcgi_keepalive_after_pg', 1000000, 13000, 2.0, 0, '-'],
];
// devices, readings, worker peak RSS KiB, DB bytes of devices and of readings, seed times, backend
const SCALES = [
  [1000, 1000, 7500, 200000, 300000, 1, 2, 3, 'sqlite'],
  [1000, 1000, 9000, 400000, 500000, 1, 3, 5, 'pg'],
  [1000000, 1000000, 7900, 2e8, 1e8, 1, 11, 20, 'sqlite'],
  [1000000, 1000000, 9500, 4e8, 2e8, 1, 31, 61, 'pg'],
];

// The report of RUNS and SCALES, as bench/run.sh runs it; the keep() filters make a smaller run.
function report(keepRun = () => true, keepScale = () => true) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-report-'));
  const tsv = (rows) => rows.map((r) => r.join('\t')).join('\n') + '\n';
  fs.writeFileSync(
    path.join(dir, 'runs.tsv'),
    tsv(
      RUNS.filter(keepRun).map(([name, n, rps, p99, errors, backend]) => {
        const pgbench = name.startsWith('pgbench_');
        return [n, name, rps, p99 / 2, p99, errors, 0, rps * 5, pgbench ? '-' : 40, backend];
      }),
    ),
  );
  fs.writeFileSync(path.join(dir, 'scales.tsv'), tsv(SCALES.filter(keepScale)));
  fs.writeFileSync(path.join(dir, 'fleet.tsv'), '');
  const json = path.join(dir, 'results.json');
  const vars = { workers: 4, threads: 2, connections: 16, duration: 5, cores: 2, cpu: 'test', date: 'now', json };
  const more = { backends: 'sqlite pg', keepalive_processes: 32, pgbench_scale: 1, pg_huge_pages: 542 };
  const args = Object.entries({ ...vars, ...more, scales_file: 'scales.tsv', fleet_file: 'fleet.tsv' }).flatMap(
    ([k, v]) => ['-v', `${k}=${v}`],
  );
  const table = execFileSync(path.join(top, 'bench/report.awk'), [...args, 'runs.tsv'], { cwd: dir }).toString();
  const results = JSON.parse(fs.readFileSync(json, 'utf8'));
  fs.rmSync(dir, { recursive: true });
  return { table, results };
}

describe('bench report', () => {
  const { table, results } = report();
  const run = (name, devices) => results.runs.find((r) => r.run === name && r.devices === devices);
  const target = (what, devices) => results.targets.find((t) => t.target === what && t.devices === devices);

  it('divides each row by the mean of the two ceilings measured around its fleet size', () => {
    assert.equal(run('heartbeat', 1000).ratio_to_fastcgi, 0.8); // 12000 / 15000
    assert.equal(run('heartbeat', 1000000).ratio_to_fastcgi, 0.7); // 7000 / 10000
    // a ceiling over the mean of all three of its size (before, after SQLite, after PostgreSQL)
    assert.equal(run('nginx_fastcgi_hello_after', 1000).ratio_to_fastcgi, 1.067); // the drift shows
    assert.equal(run('hello_closing_at_once', 1000).ratio_to_fastcgi, 1.2);
    assert.deepEqual(results.scales.map((s) => s.fastcgi_ceiling_per_s), [15000, 10000]);
    assert.deepEqual(results.scales.map((s) => s.fastcgi_ceiling_spread), [0.133, 0.2]);
    assert.match(table, /^heartbeat\s+1M\s+7000\s.*\s0\.70\s+0\.44\s+-\s+40$/m);
  });

  it('gives every row a second ratio, to the keep-alive FastCGI ceiling around it', () => {
    assert.equal(run('heartbeat', 1000).ratio_to_fastcgi_keepalive, 0.48); // 12000 / 25000
    assert.equal(run('heartbeat', 1000000).ratio_to_fastcgi_keepalive, 0.438); // 7000 / 16000
    assert.equal(run('nginx_fastcgi_keepalive', 1000).ratio_to_fastcgi, 1.6); // 24000 / 15000
    assert.deepEqual(results.scales.map((s) => s.fastcgi_keepalive_ceiling_per_s), [25000, 16000]);
    assert.equal(results.settings.keepalive_processes, 32);
  });

  it('says how many huge pages PostgreSQL ran on', () => {
    assert.equal(results.settings.pg_huge_pages, 542);
    assert.match(table, /^provd bench .*; PostgreSQL on 542 huge pages$/m);
  });

  it("divides PostgreSQL's rows by the ceilings around them, pgbench -S among them", () => {
    const hb = run('pg_heartbeat', 1000);
    assert.equal(hb.backend, 'postgresql');
    assert.equal(hb.ratio_to_fastcgi, 0.581); // 9000 / mean(16000 after SQLite, 15000 after PostgreSQL)
    assert.equal(hb.ratio_to_fastcgi_keepalive, 0.367); // 9000 / mean(26000, 23000)
    assert.equal(hb.ratio_to_pgbench_select, 0.429); // 9000 / mean(20000, 22000)
    assert.equal(run('pgbench_devices_pk', 1000).ratio_to_pgbench_select, 0.857); // provd's table, 18000 / 21000
    assert.equal(run('heartbeat', 1000).backend, 'sqlite');
    assert.equal(run('heartbeat', 1000).ratio_to_pgbench_select, null);
    assert.equal(run('nginx_fastcgi_hello', 1000).backend, null);
    assert.match(table, /^pg_heartbeat\s+1k\s+9000\s.*\s0\.58\s+0\.37\s+0\.43\s+40$/m);
    assert.match(table, /^pgbench_select\s+1k\s+20000\s.*\s0\.95\s+-$/m);
    assert.deepEqual(results.pg_scales.map((s) => [s.devices, s.pgbench_select_per_s, s.fastcgi_ceiling_per_s]), [
      [1000, 21000, 15500],
      [1000000, 18000, 10500],
    ]);
    assert.deepEqual(results.pg_scales.map((s) => [s.seed_devices_s, s.seed_readings_s, s.db_bytes_per_device]), [
      [2, 2, 400],
      [30, 30, 400],
    ]);
    assert.match(table, /^1M\s+pg\s+1M\s+9\.3 MiB\s+400\s+200\s+30\.0 s\s+30\.0 s$/m);
  });

  it('judges the ratio targets at every size, and a row with errors misses its target', () => {
    assert.deepEqual(target('heartbeat x FastCGI, no errors', 1000), {
      target: 'heartbeat x FastCGI, no errors', devices: 1000, value: 0.8, limit: 0.8, at_most: false, met: true,
    });
    assert.equal(target('poll_304 x FastCGI, no errors', 1000).met, false); // 0.73
    assert.equal(target('heartbeat x FastCGI, no errors', 1000000).met, false); // 0.70
    const v2 = target('ingest_v2 x FastCGI, no errors', 1000);
    assert.equal(v2.value > 0.5 && !v2.met, true);
    assert.match(table, /^ingest_v2 x FastCGI, no errors\s+1k\s+0\.533 >=  0\.50  NO \(3 errors\)$/m);
  });

  it('judges a signed heartbeat against the plain 304 poll of its own run and backend', () => {
    const sqlite = target('signed_heartbeat / poll_304, no errors', 1000);
    assert.equal(sqlite.value, 0.909); // 10000 / 11000
    assert.equal(sqlite.met, true);
    const pg = target('pg_signed_heartbeat / pg_poll_304, no errors', 1000);
    assert.equal(pg.value, 0.947); // 9000 / 9500, but with errors
    assert.equal(pg.met, false);
    assert.equal(target('signed_heartbeat / poll_304, no errors', 1000000), undefined, 'no row, no target');
  });

  it("judges PostgreSQL's targets: heartbeat against both ceilings, ingest v2 at 1M", () => {
    assert.equal(target('pg_heartbeat x FastCGI, no errors', 1000).met, true); // 0.581 >= 0.5
    assert.equal(target('pg_heartbeat x pgbench -S, no errors', 1000).met, false); // 0.429
    assert.equal(target('pg_heartbeat x FastCGI, no errors', 1000000).value, 0.571); // 6000 / 10500
    assert.equal(target('pg_heartbeat x pgbench -S, no errors', 1000000).value, 0.333);
    assert.deepEqual(target('pg_ingest_v2 x FastCGI, no errors', 1000000), {
      target: 'pg_ingest_v2 x FastCGI, no errors', devices: 1000000, value: 0.267, limit: 0.3, at_most: false,
      met: false,
    });
    assert.equal(target('pg_ingest_v2 x FastCGI, no errors', 1000), undefined); // a 1M target only
    assert.match(table, /^pg_heartbeat x pgbench -S, no errors\s+1M\s+0\.333 >=  0\.50  NO$/m);
  });

  it('judges what metrics cost a heartbeat, and a scrape at 1M by its p99', () => {
    assert.equal(target('heartbeat / heartbeat_metrics_off, no errors', 1000).value, 0.96);
    assert.equal(target('heartbeat / heartbeat_metrics_off, no errors', 1000).met, true);
    assert.equal(target('metrics_scrape p99 ms', 1000000).met, true); // 30 ms
    assert.deepEqual(target('pg_metrics_scrape p99 ms', 1000000), {
      target: 'pg_metrics_scrape p99 ms', devices: 1000000, value: 80, limit: 50, at_most: true, met: false,
    });
    assert.equal(target('metrics_scrape p99 ms', 1000), undefined); // a 1M target only
  });

  it('says when the ceilings of a kind at a size are more than 15% apart', () => {
    assert.match(table, /^the FastCGI ceilings around 1M differ by 20% \(9000 and 11000 req\/s\).*run again$/m);
    assert.match(table, /^the keep-alive FastCGI ceilings around 1M differ by 27% \(13000 and 17000 req\/s\)/m);
    assert.doesNotMatch(table, /ceilings around 1k/);
    assert.doesNotMatch(table, /pgbench -S ceilings/);
  });

  it('compares 1M with 1k by their ratios, so the slower machine at 1M is not counted against it', () => {
    const growth = target('heartbeat 1k / 1M (x FastCGI)', 1000000);
    assert.equal(growth.value, 1.143); // 0.8 / 0.7: by raw req/s it would be 1.71
    assert.equal(growth.met, true);
    assert.equal(target('list_first_page 1k / 1M (x FastCGI)', 1000000).value, 1.333);
    assert.equal(target('list_first_page 1k / 1M (x FastCGI)', 1000000).met, false);
    assert.equal(target('list_first_page p99 ms', 1000000).met, false); // 5.2 ms
    // SQLite's workers (7900 KiB), not PostgreSQL's (9500 KiB, shown but not judged)
    assert.equal(target('worker peak RSS MB (10^6 bytes)', 1000000).value, 8.09);
    assert.match(table, /^met: 8 of 19$/m); // the two signed heartbeat targets among them
  });

  it('without PostgreSQL (BENCH_BACKENDS=sqlite), has no pgbench ratios and no PostgreSQL targets', () => {
    const sqliteOnly = report(
      ([name, , , , , backend]) => backend !== 'pg' && !/^pgbench_|_after_pg$/.test(name),
      (s) => s[8] === 'sqlite',
    );
    assert.equal(sqliteOnly.results.runs.every((r) => r.ratio_to_pgbench_select === null), true);
    assert.deepEqual(sqliteOnly.results.pg_scales, []);
    assert.equal(sqliteOnly.results.targets.some((t) => t.target.startsWith('pg_')), false);
    assert.equal(sqliteOnly.results.runs.find((r) => r.run === 'heartbeat').ratio_to_fastcgi, 0.8);
    assert.match(sqliteOnly.table, /^met: 6 of 12$/m);
  });
});
