// Runs build/devsim, the firmware core's fleet simulator, for the tests that drive devices with it.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { top } from './stack.mjs';

const devsimPath = path.join(top, 'build/devsim');

// Starts devsim; `result` resolves to { code, stdout, stderr, summary } when it exits, the
// summary being its "name value" lines as an object of numbers (strings where not numeric).
export function devsim(args) {
  const child = spawn(devsimPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const result = once(child, 'exit').then(([code]) => {
    const summary = {};
    for (const line of stdout.split('\n')) {
      const m = line.match(/^(\w+)\s+(.*)$/);
      if (m) summary[m[1]] = /^[\d.]+$/.test(m[2]) ? Number(m[2]) : m[2];
    }
    return { code, stdout, stderr, summary };
  });
  return { child, result };
}

// devsim's --fail-update choice for a device: FNV-1a of its id, modulo 100, below the percentage.
export function failsUpdates(id, pct) {
  let h = 2166136261;
  for (const c of Buffer.from(id)) h = Math.imul(h ^ c, 16777619) >>> 0;
  return h % 100 < pct;
}
