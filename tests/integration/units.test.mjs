// @no-database: it starts no provd, so tests/run.sh runs it once, not again on PostgreSQL.
// The installed systemd units (issue 18): least privilege as systemd-analyze rates it offline,
// every setting valid, and provd's socket in a group of its own that only provd-nginx joins.
// units_boot.test.mjs starts them under systemd.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { top } from './lib/stack.mjs';

let dest;
before(() => {
  dest = fs.mkdtempSync(path.join(os.tmpdir(), 'provd-units-'));
  execFileSync('scripts/install.sh', [dest, '/usr'], { cwd: top, stdio: 'pipe' });
});
after(() => fs.rmSync(dest, { recursive: true, force: true }));

const unitPath = (name) => path.join(dest, 'lib/systemd/system', name);
const unit = (name) => fs.readFileSync(unitPath(name), 'utf8');

// systemd-analyze's overall exposure (0 safest, 10 most exposed) of an installed unit file.
function exposure(name) {
  const out = execFileSync('systemd-analyze', ['security', '--offline=true', unitPath(name)], { encoding: 'utf8' });
  const m = out.match(/Overall exposure level for \S+: (\d+\.\d)/);
  assert.ok(m, out);
  return Number(m[1]);
}

describe('installed units', () => {
  for (const [name, most] of [['provd.service', 1.5], ['provd-alerts.service', 1.5], ['provd-nginx.service', 2.5], ['ble-agent.service', 2.5]]) {
    it(`${name}: systemd-analyze security rates it ${most} or less`, () => {
      const level = exposure(name);
      assert.ok(level <= most, `${name}: ${level}`);
    });
  }

  it('systemd-analyze verify accepts provd.service, provd-alerts.service and provd-nginx.service as installed', () => {
    // Their programs moved into the temporary tree, where they are; the three side by side.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'provd-verify-'));
    try {
      const names = ['provd.service', 'provd-alerts.service', 'provd-nginx.service'];
      for (const name of names) {
        fs.writeFileSync(path.join(dir, name), unit(name).replaceAll(' /usr/lib/provd/', ` ${dest}/usr/lib/provd/`)
          .replaceAll('=/usr/lib/provd/', `=${dest}/usr/lib/provd/`));
      }
      const verify = spawnSync('systemd-analyze', ['verify', ...names.map((name) => path.join(dir, name))],
        { encoding: 'utf8' });
      assert.equal(verify.status, 0, verify.stderr);
      assert.equal(verify.stderr, '');
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });

  it("provd's socket is in provd-web, a group of its own that provd-nginx alone joins", () => {
    assert.match(unit('provd.service'), /^Group=provd-web$/m);
    assert.match(unit('provd.service'), /-s \/run\/provd\/provd\.sock -M 0660 /);
    assert.doesNotMatch(unit('provd.service'), /www-data/);
    assert.match(unit('provd-nginx.service'), /^SupplementaryGroups=provd-web$/m);
    assert.match(unit('provd-nginx.service'), /^RuntimeDirectory=provd-nginx provd-nginx\/tmp$/m);
    assert.match(fs.readFileSync(path.join(dest, 'etc/provd/nginx.conf'), 'utf8'), /server unix:\/run\/provd\/provd\.sock;/);
    assert.match(fs.readFileSync(path.join(dest, 'etc/default/provd'), 'utf8'), /^PROVD_KEY_FILE=\/var\/lib\/provd\/provd\.key$/m);
  });
});
