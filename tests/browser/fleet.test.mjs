// The admin page's fleet tools in Debian's chromium (playwright-core) against the real stack:
// the time axis of a plot whose readings fall within one second, locations and tag chips in the
// list, the tag filter, and bulk changes on the selected or the filtered devices.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import CryptoJS from 'crypto-js';
import { startStack } from '../integration/lib/stack.mjs';
import { launch, screenshot, until } from './lib/browser.mjs';

let stack;
let browser;
let page;

before(async () => {
  stack = await startStack({ env: { PROVD_REGISTRATION: 'approve', PROVD_REGISTRATIONS_PER_MIN: '0' } });
  browser = await launch();
  page = browser.page;
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const admin = (method, urlPath, body) => stack.api(method, urlPath, { admin: true, body });
const register = (id, body = {}) => stack.api('POST', `/api/devices/${id}`, { body });
const deviceOverApi = async (id) => (await admin('GET', `/api/devices/${id}`)).json;
const listedIds = () => page.locator('#device-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.deviceid));
const row = (id) => page.locator(`#device-table tbody tr[data-deviceid="${id}"]`);

// A reading sealed as the original devices did: crypto-js AES-CBC with the key and a random IV.
function sealed(reading, keyHex) {
  const iv = CryptoJS.lib.WordArray.random(16);
  const enc = CryptoJS.AES.encrypt(JSON.stringify(reading), CryptoJS.enc.Hex.parse(keyHex), { iv });
  return JSON.stringify({ iv: CryptoJS.enc.Base64.stringify(iv), data: enc.ciphertext.toString(CryptoJS.enc.Base64) });
}

// An accepted device with a key and these readings, posted at once (within a second or so).
async function deviceWithReadings(id, count) {
  assert.equal((await register(id)).status, 201);
  await admin('PUT', `/api/devices/${id}`, { state: 'accepted' });
  const { key } = (await admin('POST', `/api/devices/${id}/key`)).json;
  for (let seqn = 1; seqn <= count; seqn++) {
    const r = await stack.api('POST', `/api/devices/${id}/telemetry`,
      { body: sealed({ SEQN: seqn, data: { temp: 20 + seqn } }, key), headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 201, r.text);
  }
}

async function signIn() {
  await page.goto(`${stack.base}/`);
  await page.getByLabel('Admin token').fill(stack.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#list-view').waitFor({ state: 'visible' });
}

// The plot's time axis as the page says it spans it: [min, max] in seconds.
async function timeAxis() {
  const { xMin, xMax } = await page.locator('#plot').evaluate((el) => ({ ...el.dataset }));
  return [Number(xMin), Number(xMax)];
}

describe('plot time axis', () => {
  before(signIn);

  for (const [id, count] of [['close-2', 2], ['single-1', 1]]) {
    it(`spans the chosen range with ${count} reading(s) within one second`, async () => {
      await deviceWithReadings(id, count);
      await page.goto(`${stack.base}/#/devices/${id}`);
      const summary = new RegExp(`^${count} readings? in the last hour`);
      await until(async () => summary.test(await page.locator('#plot-summary').textContent()), 'the plot');
      const now = Date.now() / 1000;
      const [min, max] = await timeAxis();
      // The last hour, to the server's clock (the same machine's): not a minute around the
      // readings, nor the years uPlot pads a zero-width span with.
      assert.ok(Math.abs(max - min - 3600) < 2, `the axis spans ${max - min} s`);
      assert.ok(Math.abs(max - now) < 120, `the axis ends now (${new Date(max * 1000).toISOString()})`);

      // A drag across the plot zooms in; a double-click shows the chosen range again.
      await page.locator('#plot').scrollIntoViewIfNeeded();
      const over = await page.locator('#plot .u-over').boundingBox();
      await page.mouse.move(over.x + over.width * 0.25, over.y + over.height / 2);
      await page.mouse.down();
      await page.mouse.move(over.x + over.width * 0.5, over.y + over.height / 2, { steps: 5 });
      await page.mouse.up();
      await until(async () => { const [a, b] = await timeAxis(); return b - a < 1200; }, 'the zoom');
      await page.mouse.dblclick(over.x + over.width / 2, over.y + over.height / 2);
      await until(async () => { const [a, b] = await timeAxis(); return Math.abs(b - a - 3600) < 2; }, 'zoomed out');

      // A custom range: the axis shows exactly it.
      await page.getByLabel('Range', { exact: true }).selectOption('custom');
      const local = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 16);
      const from = Math.floor(Date.now() / 60000) * 60000 - 600000;
      await page.getByLabel('From (local time)').fill(local(from));
      await page.getByLabel('To (local time)').fill(local(from + 1200000));
      await page.getByRole('button', { name: 'Show range' }).click();
      await until(async () => (await timeAxis())[0] === from / 1000, 'the custom range on the axis');
      assert.deepEqual(await timeAxis(), [from / 1000, (from + 1200000) / 1000]);
      await page.getByLabel('Range', { exact: true }).selectOption('3600');
    });
  }
});

async function confirmDialog() {
  await page.locator('#confirm').waitFor({ state: 'visible' });
  await page.click('#confirm-ok');
  await page.locator('#confirm').waitFor({ state: 'hidden' });
}

describe('device list: locations, tags and bulk changes', () => {
  const FIELD = ['field-01', 'field-02', 'field-03'];
  const SHED = 'shed-01';

  before(async () => {
    for (const id of FIELD) assert.equal((await register(id, { location: 'North field' })).status, 201);
    assert.equal((await register(SHED, { location: 'Tool shed' })).status, 201);
    await admin('PUT', `/api/devices/${SHED}`, { tags: ['greenhouse', 'v2-board'] });
    await page.goto(`${stack.base}/#/`);
    await page.locator('#list-view').waitFor({ state: 'visible' });
  });

  it('shows locations and tag chips, searches locations, and filters by tag (a chip too)', async () => {
    await row(SHED).waitFor();
    assert.equal(await row(SHED).locator('td[data-column="location"]').textContent(), 'Tool shed');
    assert.deepEqual(await row(SHED).locator('td[data-column="tags"] .tag').allTextContents(), ['greenhouse', 'v2-board']);
    await page.getByLabel('Search id, name or location').fill('north FIELD');
    await until(async () => JSON.stringify(await listedIds()) === JSON.stringify(FIELD), 'the location search');
    await page.getByLabel('Search id, name or location').fill('');
    await page.getByLabel('Tag', { exact: true }).first().fill('V2-Board');
    await until(async () => JSON.stringify(await listedIds()) === JSON.stringify([SHED]), 'the tag filter');
    await page.getByLabel('Tag', { exact: true }).first().fill('');
    await until(async () => (await listedIds()).length > 1, 'the whole list');
    await row(SHED).getByRole('button', { name: 'greenhouse' }).click();
    await until(async () => JSON.stringify(await listedIds()) === JSON.stringify([SHED]), 'the chip\'s filter');
    assert.equal(await page.locator('#tag-filter').inputValue(), 'greenhouse');
    await page.locator('#tag-filter').fill('');
    await until(async () => (await listedIds()).length > 1, 'the whole list again');
  });

  it('tags the selected devices', async () => {
    await row(FIELD[0]).getByLabel(`Select ${FIELD[0]}`).check();
    await row(FIELD[2]).getByLabel(`Select ${FIELD[2]}`).check();
    assert.match(await page.locator('#bulk-target option').first().textContent(), /The 2 selected devices/);
    await page.getByLabel('Action').selectOption('tag');
    await page.locator('#bulk-tag').fill('Sensors');
    await page.getByRole('button', { name: 'Apply' }).click();
    await confirmDialog();
    await until(async () => /^2 devices tagged\.$/.test(await page.locator('#bulk-message').textContent()), 'the count');
    assert.deepEqual((await deviceOverApi(FIELD[0])).tags, ['sensors']);
    assert.deepEqual((await deviceOverApi(FIELD[1])).tags, []);
    await until(async () => (await row(FIELD[2]).locator('.tag').allTextContents()).includes('sensors'), 'the chip');
    assert.equal(await row(FIELD[0]).getByLabel(`Select ${FIELD[0]}`).isChecked(), false, 'the selection is cleared');
  });

  it('approves and configures every device matching the filters', async () => {
    await page.getByLabel('Search id, name or location').fill('north field');
    await until(async () => (await listedIds()).length === 3, 'the filtered list');
    await page.getByLabel('Apply to').selectOption('filtered');
    await page.getByLabel('Action').selectOption('approve');
    await page.getByRole('button', { name: 'Apply' }).click();
    await confirmDialog();
    await until(async () => /^3 devices approved\.$/.test(await page.locator('#bulk-message').textContent()), 'approved');
    assert.equal((await deviceOverApi(SHED)).state, 'pending', 'outside the filter');

    const before = await Promise.all(FIELD.map(deviceOverApi));
    await page.getByLabel('Action').selectOption('set');
    await page.getByLabel('Property').fill('period');
    await page.getByLabel('Value (JSON, or text)').fill('30');
    await page.getByRole('button', { name: 'Apply' }).click();
    await confirmDialog();
    await until(async () => /^3 devices changed\.$/.test(await page.locator('#bulk-message').textContent()), 'set');
    for (const [i, id] of FIELD.entries()) {
      const d = await deviceOverApi(id);
      assert.deepEqual(d.data, { period: 30 });
      assert.equal(d.cfgsn, before[i].cfgsn + 1);
    }
    await screenshot(page, 'bulk');
  });

  it('sets a device\'s location and tags on its page', async () => {
    await page.goto(`${stack.base}/#/devices/${SHED}`);
    await page.locator('#device-body').waitFor({ state: 'visible' });
    assert.equal(await page.getByLabel('Location', { exact: true }).inputValue(), 'Tool shed');
    assert.equal(await page.getByLabel('Tags (separated by spaces or commas)').inputValue(), 'greenhouse v2-board');
    await page.getByLabel('Location', { exact: true }).fill('Greenhouse 2, row 4');
    await page.getByLabel('Tags (separated by spaces or commas)').fill('greenhouse, Row-4');
    await page.getByRole('button', { name: 'Save location and tags' }).click();
    await until(async () => /^Saved/.test(await page.locator('#place-message').textContent()), 'saved');
    let d = await deviceOverApi(SHED);
    assert.equal(d.location, 'Greenhouse 2, row 4');
    assert.deepEqual(d.tags, ['greenhouse', 'row-4']);
    await register(SHED, { location: 'moved by itself' });
    assert.equal((await deviceOverApi(SHED)).location, 'Greenhouse 2, row 4', 'pinned by the admin');

    await page.getByLabel('Tags (separated by spaces or commas)').fill('not/a/tag');
    await page.getByRole('button', { name: 'Save location and tags' }).click();
    await until(async () => /^Not saved: tags\[0\] must be a tag/.test(await page.locator('#place-message').textContent()),
      'the refusal');
    const refused = browser.problems.findIndex((p) => /status of 400/.test(p)); // the console's note of the 400
    if (refused >= 0) browser.problems.splice(refused, 1);
    await page.getByLabel('Location', { exact: true }).fill('');
    await page.getByLabel('Tags (separated by spaces or commas)').fill('greenhouse');
    await page.getByRole('button', { name: 'Save location and tags' }).click();
    await until(async () => /^Saved: no location/.test(await page.locator('#place-message').textContent()), 'cleared');
    await register(SHED, { location: 'moved by itself' });
    d = await deviceOverApi(SHED);
    assert.equal(d.location, 'moved by itself', 'the device\'s own once the admin cleared it');
    assert.deepEqual(browser.problems, []);
  });
});
