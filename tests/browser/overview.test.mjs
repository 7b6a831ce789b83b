// The fleet overview and a device's history in Debian's chromium against the real stack: the
// overview's counts, the devices gone offline and the readings per minute, updated by the
// page's refresh; the history of a device's changes, newest first, a page at a time.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { v2 } from '../integration/lib/seal.mjs';
import { backend, startStack } from '../integration/lib/stack.mjs';
import { launch, screenshot, until } from './lib/browser.mjs';

let stack;
let browser;
let page;

before(async () => {
  stack = await startStack({ env: { PROVD_REGISTRATION: 'open' } });
  browser = await launch();
  page = browser.page;
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const admin = (method, urlPath, body) => stack.api(method, urlPath, { admin: true, body });
const text = (selector) => page.locator(selector).textContent();

// Makes a device look last seen `seconds` ago, in the database itself (the page cannot wait
// minutes for a device to go offline).
function seenAgo(id, seconds) {
  const at = Math.floor(Date.now() / 1000) - seconds;
  if (backend === 'postgresql') {
    execFileSync('psql', ['-X', '-q', '-d', stack.db, '-c', `UPDATE devices SET lastseen = ${at} WHERE deviceid = '${id}'`]);
  } else {
    execFileSync('sqlite3', ['-cmd', '.timeout 5000', stack.db,
      `UPDATE heartbeat_times SET at = ${at} WHERE device = (SELECT id FROM devices WHERE deviceid = '${id}')`]);
  }
}

const tileCount = async (list, term) => Number(await page.locator(`#${list} dt:has-text("${term}") + dd`).getAttribute('data-count'));
const historyActions = () => page.locator('#history-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.action));

describe('fleet overview and device history', () => {
  it('shows the fleet by liveness and state, and the devices gone offline most recently', async () => {
    for (const id of ['fl-online', 'fl-gone-1', 'fl-gone-2'])
      assert.equal((await stack.api('POST', `/api/devices/${id}`, { body: { ipaddr: '10.0.0.9' } })).status, 201);
    assert.equal((await admin('PUT', '/api/devices/fl-gone-2', { name: 'Cellar' })).status, 200);
    seenAgo('fl-gone-1', 2000);
    seenAgo('fl-gone-2', 1000); // went offline later than fl-gone-1

    await page.goto(`${stack.base}/`);
    await page.getByLabel('Admin token').fill(stack.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#fleet').waitFor({ state: 'visible' });
    await page.selectOption('#refresh-every', '2000');
    await until(async () => await tileCount('fleet-liveness', 'online') === 1, 'one device online', 30000);
    assert.equal(await tileCount('fleet-liveness', 'offline'), 2);
    assert.equal(await tileCount('fleet-state', 'accepted'), 3);
    assert.equal(await tileCount('fleet-state', 'pending'), 0);
    const offline = await page.locator('#fleet-offline li').evaluateAll((lis) => lis.map((li) => li.dataset.deviceid));
    assert.deepEqual(offline, ['fl-gone-2', 'fl-gone-1']);
    assert.equal(await page.locator('#fleet-offline li').first().locator('a').textContent(), 'Cellar');
    assert.ok(await page.locator('#fleet-firmware-panel').isHidden(), 'no firmware yet: its slot stays hidden');
    // The overview comes first on the page, above the device list.
    const [fleetY, listY] = await Promise.all(['#fleet', '#list-title'].map(async (s) => (await page.locator(s).boundingBox()).y));
    assert.ok(fleetY < listY);

    // Live: a device registering shows in the counts without a reload, once the host counts again
    // (a count that took t is kept for 20 t: on a busy machine even a small fleet's count can take
    // long enough for that to pass several refreshes).
    assert.equal((await stack.api('POST', '/api/devices/fl-online-2', { body: {} })).status, 201);
    await until(async () => await tileCount('fleet-liveness', 'online') === 2, 'the new device counted online', 30000);
    await screenshot(page, 'fleet-overview');
  });

  it('counts readings per minute from the readings taken between refreshes', async () => {
    const key = (await admin('POST', '/api/devices/fl-online/key')).json.key;
    assert.match(await text('#fleet-rate'), /measuring|^\d/);
    let seqn = 0;
    await until(async () => {
      const r = await stack.api('POST', '/api/devices/fl-online/telemetry',
        { body: v2(JSON.stringify({ SEQN: ++seqn, t: 20 }), key, 'fl-online') });
      assert.equal(r.status, 201, r.text);
      return Number(await page.locator('#fleet-rate').getAttribute('data-count')) > 0;
    }, 'a rate above zero', 15000);
  });

  it('shows a device\'s changes newest first, each with who made it and what it changed', async () => {
    assert.equal((await admin('PUT', '/api/devices/fl-hist', { name: 'porch', data: { led: 1 } })).status, 201);
    await page.goto(`${stack.base}/#/devices/fl-hist`);
    await page.locator('#device-body').waitFor({ state: 'visible' });
    await until(async () => (await historyActions()).join() === 'device.create', 'the creation in the history');
    const row = page.locator('#history-table tbody tr').first();
    assert.match(await row.textContent(), /\(token\)/);
    assert.match(await row.locator('.change').textContent(), /name: "porch"/);

    await page.getByLabel('Name', { exact: true }).fill('front door');
    await page.getByRole('button', { name: 'Save name' }).click();
    await until(async () => (await historyActions()).join() === 'device.update,device.create', 'the rename in the history');
    assert.equal(await row.locator('.change').textContent(), 'name: "porch" → "front door"');

    await page.getByRole('button', { name: 'Generate device key' }).click();
    const key = await until(async () => page.locator('#new-key').inputValue(), 'the new key');
    await until(async () => (await historyActions())[0] === 'device.key', 'the key change in the history');
    assert.equal(await row.locator('.change').textContent(), 'key: "changed"');
    assert.equal((await text('#history-table')).includes(key), false, 'the key is not in the history');

    // A change made elsewhere shows at the next refresh.
    stack.provctl(['device', 'key', 'fl-hist', '--set'], 'a passphrase\n');
    await until(async () => (await historyActions()).length === 4, 'provctl\'s change in the history');
    assert.match(await row.textContent(), /\(provctl\)/);
    await screenshot(page, 'device-history');
  });

  it('pages through a long history', async () => {
    for (let i = 0; i < 21; i++)
      assert.equal((await admin('PUT', '/api/devices/fl-hist', { data: { led: i + 2 } })).status, 200);
    await until(async () => (await historyActions()).length === 20 && await page.locator('#history-older').isVisible(),
      'a full first page and the button to older changes');
    const newest = await page.locator('#history-table tbody tr').first().locator('.change').textContent();
    assert.equal(newest, 'cfgsn: 20 → 21data.led: 21 → 22', 'two lines: the cfgsn and the value');
    await page.getByRole('button', { name: 'Older changes' }).click();
    await until(async () => (await historyActions()).length === 5, 'the last page: 25 changes in all');
    assert.deepEqual((await historyActions()).slice(-3), ['device.key', 'device.update', 'device.create']);
    assert.ok(await page.locator('#history-older').isHidden());
    await page.getByRole('button', { name: 'Newest changes' }).click();
    await until(async () => (await historyActions()).length === 20, 'back to the first page');
  });

  it('logged no console errors', () => {
    assert.deepEqual(browser.problems, []);
  });
});
