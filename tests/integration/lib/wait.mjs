// Waiting for a condition, never for a time: check() (sync or async) is tried every `every` ms
// until it gives a truthy value, which is returned; past `ms` the test fails naming what it waited for.
import { setTimeout as sleep } from 'node:timers/promises';

export async function until(what, check, ms = 10_000, every = 200) {
  for (const end = Date.now() + ms; ; await sleep(every)) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}
