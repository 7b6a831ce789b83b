// @no-database: it starts no provd, so tests/run.sh runs it once, not again on PostgreSQL.
// ble-agent on a real Linux kernel (BLE-TESTING.md layer 3): Debian's kernel boots in QEMU with a
// busybox initramfs; btvirt gives it two LE controllers, ble-agent takes hci0 through the HCI user
// channel and BlueZ's gatttool is the central on hci1. The guest's script is
// ble-agent/tests/qemu/init.sh; it prints each step's output and this test checks it.
// BLE_QEMU_CONSOLE=FILE keeps the guest's console (it is also in the message of a failure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { top } from './lib/stack.mjs';

const build = path.join(top, process.env.BLE_BUILD ?? 'build');
const cache = path.join(top, 'build/ble-qemu'); // the kernel .deb, kept between runs
const qemuDir = path.join(top, 'ble-agent/tests/qemu');
const which = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();
const MODULES = ['rfkill', 'ecc', 'ecdh_generic', 'crc16', 'bluetooth', 'hci_vhci', 'af_alg', 'algif_hash',
  'algif_skcipher', 'cmac', 'ecb'];

const qemu = which('qemu-system-x86_64');
const noQemu = !qemu && 'QEMU cannot run here: qemu-system-x86_64 is not installed (Debian package qemu-system-x86)';

// Debian's kernel from the package linux-image-amd64 depends on, fetched once with apt-get
// download; only vmlinuz and the modules the guest loads are kept (in build/ble-qemu/kernel).
function kernel() {
  const dir = path.join(cache, 'kernel');
  if (!fs.existsSync(path.join(dir, 'done'))) {
    const deps = execFileSync('apt-cache', ['depends', 'linux-image-amd64'], { encoding: 'utf8' });
    const pkg = deps.match(/Depends: (linux-image-[0-9]\S*)/)?.[1];
    assert.ok(pkg, `no kernel package behind linux-image-amd64:\n${deps}`);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ble-kernel-'));
    try {
      execFileSync('apt-get', ['download', pkg], { cwd: tmp, stdio: 'pipe' });
      const deb = fs.readdirSync(tmp).find((f) => f.endsWith('.deb'));
      execFileSync('dpkg-deb', ['-x', path.join(tmp, deb), path.join(tmp, 'x')]);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(path.join(dir, 'modules'), { recursive: true });
      const boot = path.join(tmp, 'x/boot');
      fs.copyFileSync(path.join(boot, fs.readdirSync(boot).find((f) => f.startsWith('vmlinuz-'))), path.join(dir, 'vmlinuz'));
      const found = execFileSync('find', [path.join(tmp, 'x/lib/modules'), '-name', '*.ko'], { encoding: 'utf8' }).split('\n');
      for (const m of MODULES) {
        const ko = found.find((f) => path.basename(f) === `${m}.ko`);
        assert.ok(ko, `${pkg} has no ${m}.ko`);
        fs.copyFileSync(ko, path.join(dir, 'modules', `${m}.ko`));
      }
      fs.writeFileSync(path.join(dir, 'done'), `${pkg}\n`);
    } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
  }
  return { vmlinuz: path.join(dir, 'vmlinuz'), modules: path.join(dir, 'modules') };
}

// Copies a program and the shared libraries ldd names into the tree, at the same paths.
function addProgram(root, program, as) {
  fs.copyFileSync(program, path.join(root, 'bin', as));
  const libs = execFileSync('ldd', [program], { encoding: 'utf8' }).match(/\/\S+/g) ?? [];
  for (const lib of libs) {
    fs.mkdirSync(path.join(root, path.dirname(lib)), { recursive: true });
    fs.copyFileSync(lib, path.join(root, lib));
  }
}

function initramfs(dir, k) {
  const root = path.join(dir, 'root');
  for (const d of ['bin', 'modules', 'etc', 'proc', 'sys', 'dev', 'tmp']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.copyFileSync(which('busybox'), path.join(root, 'bin/busybox'));
  for (const applet of execFileSync('busybox', ['--list'], { encoding: 'utf8' }).trim().split('\n')) {
    if (applet !== 'busybox') fs.symlinkSync('busybox', path.join(root, 'bin', applet));
  }
  addProgram(root, path.join(build, 'ble-agent'), 'ble-agent');
  for (const tool of ['btvirt', 'hciconfig', 'gatttool']) addProgram(root, which(tool), tool);
  fs.copyFileSync(path.join(qemuDir, 'init.sh'), path.join(root, 'init'));
  fs.copyFileSync(path.join(qemuDir, 'http-reply.sh'), path.join(root, 'bin/http-reply.sh'));
  for (const m of MODULES) fs.copyFileSync(path.join(k.modules, `${m}.ko`), path.join(root, 'modules', `${m}.ko`));
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n');
  fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  const image = path.join(dir, 'initrd.cpio');
  execFileSync('sh', ['-c', 'cd "$0" && find . | busybox cpio -o -H newc -R 0:0 > "$1"', root, image], { stdio: 'pipe' });
  return image;
}

// "=== name" ... "=== end" sections of the guest's console (the first one behind the terminal
// reset codes SeaBIOS leaves on its line).
function sections(console) {
  const out = {};
  for (const m of console.matchAll(/=== (\w+)\r?\n([\s\S]*?)^=== end/gm)) out[m[1]] = m[2].replaceAll('\r', '');
  return out;
}

// gatttool prints values as hex bytes: "value: 71 65 ..." or "Characteristic value/descriptor: 7b 22 ...".
function hexValue(text) {
  const hex = text.match(/(?:value|descriptor): ((?:[0-9a-f]{2} ?)+)/)?.[1] ?? '';
  return Buffer.from(hex.replaceAll(' ', ''), 'hex');
}
const handleHex = (handle) => `0x${Number(handle).toString(16).padStart(4, '0')}`;

test('a real kernel: gatttool against ble-agent on the HCI user channel, in QEMU', { skip: noQemu, timeout: 150000 }, async (t) => {
  const k = kernel();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ble-qemu-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const image = initramfs(dir, k);
  const started = Date.now();
  const vm = spawn(qemu, ['-m', '512', '-smp', '1', '-nographic', '-no-reboot', '-nic', 'none', '-kernel', k.vmlinuz,
    '-initrd', image, '-append', 'console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let console = '';
  vm.stdout.on('data', (d) => { console += d; });
  vm.stderr.on('data', (d) => { console += d; });
  const timer = setTimeout(() => vm.kill('SIGKILL'), 120000);
  t.after(() => { clearTimeout(timer); vm.kill('SIGKILL'); });
  await once(vm, 'exit');
  if (process.env.BLE_QEMU_CONSOLE) fs.writeFileSync(process.env.BLE_QEMU_CONSOLE, console);
  const s = sections(console);
  try {
    assert.ok(s.stop !== undefined, `the guest ran every step (in ${Date.now() - started} ms)`);
    checkGuest(s);
  } catch (e) {
    e.message += `\n--- guest console:\n${console}`;
    throw e;
  }
  assert.ok(Date.now() - started < 120000);
});

function checkGuest(s) {
  assert.equal(s.modules, '', 'every module loaded');
  assert.match(s.btvirt, /^hci0\s+hci1\n$/);
  // The three refusals, each one line and its exit code.
  assert.equal(s.eperm, 'ble-agent: no permission to take hci0: ble-agent needs CAP_NET_ADMIN '
    + '(run it as root or through ble-agent.service)\nexit=8\n');
  assert.equal(s.erfkill, 'ble-agent: hci0 is blocked by rfkill: run `rfkill unblock bluetooth`\nexit=5\n');
  assert.equal(s.ebusy, 'ble-agent: hci0 is busy: another program holds it and it could not be brought down\nexit=7\n');
  // Soft-blocked and up before: ble-agent lifted the block and brought the adapter down itself.
  assert.match(s.start, /^soft=1\n/);
  assert.match(s.start, /hci0 was soft-blocked by rfkill: unblocked it\n/);
  assert.match(s.start, /adapter taken: hci0\n[\s\S]*advertising as "qemu-gw"\n/);
  assert.match(s.start, /soft=0\n$/);

  const services = [...s.primary.matchAll(/uuid: (\S+)/g)].map((m) => m[1].replace(/^0000(....)-0000-1000-8000-00805f9b34fb$/, '$1'));
  assert.deepEqual(services, ['1800', '1801', '180f', '180a', '2c8e0001-d233-4303-b2c5-87adc4ee163f']);
  for (const uuid of ['00002a00', '00002a19', '00002a29', '2c8e0002', '2c8e0003', '2c8e0004']) {
    assert.match(s.characteristics, new RegExp(`uuid = ${uuid}`));
  }
  assert.equal(hexValue(s.name).toString(), 'qemu-gw');
  assert.deepEqual([...hexValue(s.battery)], [80]);
  const battery = Number(s.notify.match(/battery_handle=(0x[0-9a-f]+)/)[1]);
  assert.match(s.notify, new RegExp(`Notification handle = ${handleHex(battery)} value: 37 \\n`),
    `the battery file changed to 55 (0x37):\n${s.notify}`);

  // Telemetry In, forwarded to the guest's HTTP endpoint; the result notified (cut to the
  // default MTU's 20 bytes) and read back whole, all on one connection.
  assert.equal(s.telemetry.match(/written successfully/g)?.length, 2, s.telemetry);
  const [, head, body] = s.telemetry.match(/--- request\n([\s\S]*)--- body\n([\s\S]*)\n$/);
  assert.match(head, /^POST \/api\/devices\/qemu-dev\/telemetry HTTP\/1\.1\n/);
  assert.match(head, /^Content-Type: application\/json$/m);
  assert.equal(body, '{"v":2,"nonce":"AAAAAAAAAAAAAAAA","data":"c2VhbGVkIG92ZXIgQkxF"}');
  const expected = '{"status":201,"body":"{\\"status\\":\\"OK\\",\\"seqn\\":7}"}';
  const result = s.telemetry.match(/result_handle=(0x[0-9a-f]+)/)[1];
  const notified = s.telemetry.match(new RegExp(`Notification handle = ${handleHex(result)} value: (.*)`));
  assert.ok(notified, s.telemetry);
  assert.equal(hexValue(`value: ${notified[1]}`).toString(), expected.slice(0, 20));
  assert.equal(hexValue(s.telemetry.match(/descriptor: .*/)[0]).toString(), expected);

  // Write, then gatttool disconnects at once: the frame still reaches the endpoint.
  assert.match(s.leave, /^Characteristic value was written successfully\n/, s.leave);
  const [, leaveHead, leaveBody] = s.leave.match(/--- request\n([\s\S]*)--- body\n([\s\S]*)\n$/);
  assert.match(leaveHead, /^POST \/api\/devices\/qemu-leave\/telemetry HTTP\/1\.1\n/);
  assert.equal(leaveBody, body);

  assert.match(s.stop, /^exit=0\n/);
  assert.match(s.stop, /forwarded: device qemu-dev, 64 bytes, HTTP 201\n/);
  assert.match(s.stop, /forwarded: device qemu-leave, 64 bytes, HTTP 201\n/);
  assert.match(s.stop, /adapter released\n$/);
}
