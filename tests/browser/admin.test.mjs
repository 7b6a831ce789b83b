// The admin page in Debian's chromium (playwright-core) against the real stack: sign-in, the
// device list, a device's configuration and approval, its key, its plotted and exported data,
// hostile names shown as text, phone width, and no console errors along the way.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import CryptoJS from 'crypto-js';
import { startStack, top } from '../integration/lib/stack.mjs';
import { launch, screenshot, until } from './lib/browser.mjs';

const PENDING = 'AA:BB:CC:00:00:01';   // registers and waits for approval
const SENSOR = 'bb-sensor-2';          // accepted and polling: online
const OLD = 'cc-old-3';                // rejected, named "Kitchen"
const EVIL = 'dd-evil-4';
const EVIL_NAME = '<img src=x onerror=alert(1)>';

let stack;
let browser;
let page;
const dialogs = [];
const expectedHttpErrors = [];   // statuses a step provokes on purpose (a wrong token, a conflict)

before(async () => {
  assert.ok(fs.existsSync(path.join(top, 'www/vendor/uPlot.esm.js')),
    'www/vendor/uPlot.esm.js is missing: the Makefile copies it from node_modules/uplot');
  stack = await startStack({ env: { PROVD_REGISTRATION: 'approve' } });
  browser = await launch();
  page = browser.page;
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    dialog.dismiss();
  });
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.base });
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

// ---- helpers ----

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const register = (id, body = { ipaddr: '192.168.1.20', ssid: 'home' }) =>
  stack.api('POST', `/api/devices/${id}`, { body });
const admin = (method, urlPath, body) => stack.api(method, urlPath, { admin: true, body });
const deviceOverApi = async (id) => (await admin('GET', `/api/devices/${id}`)).json;

// A reading sealed as the original devices did: crypto-js AES-CBC with the key and a random IV.
function sealed(reading, keyHex) {
  const iv = CryptoJS.lib.WordArray.random(16);
  const enc = CryptoJS.AES.encrypt(JSON.stringify(reading), CryptoJS.enc.Hex.parse(keyHex), { iv });
  return JSON.stringify({ iv: CryptoJS.enc.Base64.stringify(iv), data: enc.ciphertext.toString(CryptoJS.enc.Base64) });
}
const postReading = (id, reading, keyHex) => stack.api('POST', `/api/devices/${id}/telemetry`,
  { body: sealed(reading, keyHex), headers: { 'Content-Type': 'application/json' } });

const listedIds = () => page.locator('#device-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.deviceid));
const text = (selector) => page.locator(selector).textContent();
const row = (id) => page.locator(`#device-table tbody tr[data-deviceid="${id}"]`);

async function listedExactly(ids, what) {
  let last;
  try {
    await until(async () => JSON.stringify(last = await listedIds()) === JSON.stringify(ids), what);
  } catch (err) {
    assert.deepEqual(last, ids, err.message);
  }
}

async function openDevice(id) {
  await page.goto(`${stack.base}/#/devices/${id}`);
  await page.locator('#device-body').waitFor({ state: 'visible' });
}

// The last configuration row (after "Add property"): its name, type and value controls.
async function fillLastRow(name, type, value) {
  await page.click('#config-add');
  const tr = page.locator('#config-rows tr').last();
  await tr.locator('.config-name').fill(name);
  await tr.locator('.config-type').selectOption(type);
  const control = tr.locator('.config-value');
  if (type === 'boolean') await control.selectOption(value);
  else await control.fill(value);
}

async function confirmDialog(answer) {
  await page.locator('#confirm').waitFor({ state: 'visible' });
  await page.click(answer === 'ok' ? '#confirm-ok' : '#confirm-cancel');
  await page.locator('#confirm').waitFor({ state: 'hidden' });
}

// ---- the tests, in the order a person would go ----

describe('admin page', () => {
  it('refuses a wrong token with a clear message, and signs in with a good one', async () => {
    await page.goto(`${stack.base}/`);
    await page.getByLabel('Admin token').waitFor();
    expectedHttpErrors.push(401);
    await page.getByLabel('Admin token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await until(async () => /not accepted/.test(await text('#signin-error')), 'the wrong-token message');
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.ok(await page.locator('#list-view').isHidden());
    await screenshot(page, 'signin-wrong-token');

    await page.getByLabel('Admin token').fill(stack.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#list-view').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => Object.values(sessionStorage)[0]), stack.token);
    await until(async () => (await text('#count-devices')) === '0', 'the device count');
    // A reload keeps the session (sessionStorage), and faster refreshes help the next tests.
    await page.reload();
    await page.locator('#list-view').waitFor({ state: 'visible' });
    await page.selectOption('#refresh-every', '2000');
  });

  it('lists a device that just registered, with its status, address and config serial', async () => {
    assert.equal((await register(PENDING)).status, 201);
    await row(PENDING).waitFor({ timeout: 8000 });   // by auto-refresh: no reload
    const cells = await row(PENDING).locator('td').allTextContents();
    assert.equal(cells[1], PENDING);
    assert.match(cells[5], /^pending$/);
    assert.ok(await row(PENDING).locator('.status-pending').count(), 'status has its colour class');
    assert.match(cells[6], /^\d+ s ago$/);
    assert.match(await row(PENDING).locator('time').first().getAttribute('title'), /\d{4}-\d\d-\d\dT/);
    assert.deepEqual(cells.slice(7, 10), ['192.168.1.20', 'home', '#0 waiting']);
    await until(async () => (await text('#count-pending')) === '1', 'the pending count');

    // A refresh rewrites the times, not the focused link.
    await row(PENDING).locator('a').focus();
    const seen = await row(PENDING).locator('td').nth(6).textContent();
    await until(async () => (await row(PENDING).locator('td').nth(6).textContent()) !== seen, 'a refresh');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), PENDING);
  });

  it('searches by id or name and filters by status, keeping the search box as typed', async () => {
    await register(SENSOR);
    await admin('PUT', `/api/devices/${SENSOR}`, { state: 'accepted' });
    await stack.api('GET', `/api/devices/${SENSOR}`);                 // a poll: online
    await register(OLD);
    await admin('PUT', `/api/devices/${OLD}`, { state: 'rejected', name: 'Kitchen' });
    await listedExactly([PENDING, SENSOR, OLD], 'all three devices');

    await page.getByLabel('Search id, name or location').fill('SENSOR');
    await listedExactly([SENSOR], 'the search by id');
    await page.getByLabel('Search id, name or location').fill('kitch');
    await listedExactly([OLD], 'the search by name');
    await sleep(2500);                                               // an auto-refresh passes
    assert.equal(await page.getByLabel('Search id, name or location').inputValue(), 'kitch');
    await listedExactly([OLD], 'the search after a refresh');
    await page.getByLabel('Search id, name or location').fill('');

    for (const [status, ids] of [['pending', [PENDING]], ['online', [SENSOR]], ['rejected', [OLD]], ['offline', []]]) {
      await page.getByLabel('Status').selectOption(status);
      await listedExactly(ids, `the ${status} filter`);
    }
    await page.getByLabel('Status').selectOption('');
    await listedExactly([PENDING, SENSOR, OLD], 'no filter');
    assert.ok(await row(SENSOR).locator('.status-online').count());
    assert.equal(await row(OLD).locator('.status').textContent(), 'rejected');

    // Sorting by name: the unnamed ones (by id) before Kitchen; descending, all of it reversed.
    await page.locator('th[data-sort="name"] button').click();
    // The name order is the id order here: the header's state tells when the sorted page is in.
    await until(async () => (await page.locator('th[data-sort="name"]').getAttribute('aria-sort')) === 'ascending', 'the name sort');
    await listedExactly([PENDING, SENSOR, OLD], 'the name order');
    await page.locator('th[data-sort="name"] button').click();
    await listedExactly([OLD, SENSOR, PENDING], 'the name order, descending');
    assert.equal(await page.locator('th[data-sort="name"]').getAttribute('aria-sort'), 'descending');
    assert.match(await text('#device-caption'), /All pages are sorted by Name, descending\./);
    await page.locator('th[data-sort="deviceid"] button').click();
    await listedExactly([PENDING, SENSOR, OLD], 'the id order');
    await screenshot(page, 'list');
  });

  it('pages through the list with the server\'s pages', async () => {
    await page.getByLabel('Per page').selectOption('25');
    const ids = Array.from({ length: 26 }, (_, i) => `zz-page-${String(i).padStart(2, '0')}`);
    await Promise.all(ids.map((id) => admin('PUT', `/api/devices/${id}`, { state: 'accepted' })));
    await page.getByLabel('Search id, name or location').fill('zz-page');
    await listedExactly(ids.slice(0, 25), 'the first page');
    await page.getByRole('button', { name: 'Next page' }).click();
    await listedExactly(ids.slice(25), 'the second page');
    await sleep(2500);
    await listedExactly(ids.slice(25), 'the second page after a refresh');
    assert.ok(await page.getByRole('button', { name: 'Next page' }).isDisabled());
    await page.getByRole('button', { name: 'Previous page' }).click();
    await listedExactly(ids.slice(0, 25), 'the first page again');

    // Names in the reverse of the id order: sorted by name, the server orders the whole fleet,
    // so the first id is alone on the second page. A sort starts again from the first page.
    await Promise.all(ids.map((id, i) => admin('PUT', `/api/devices/${id}`, { name: `pump ${String(25 - i).padStart(2, '0')}` })));
    await page.getByRole('button', { name: 'Next page' }).click();
    await listedExactly(ids.slice(25), 'the second page by id');
    await page.locator('th[data-sort="name"] button').click();
    const byName = [...ids].reverse();
    await listedExactly(byName.slice(0, 25), 'the first page by name');
    assert.equal(await text('#page-number'), 'Page 1');
    await page.getByRole('button', { name: 'Next page' }).click();
    await listedExactly(byName.slice(25), 'the second page by name');
    await sleep(2500);                                               // an auto-refresh keeps page and sort
    await listedExactly(byName.slice(25), 'the second page by name after a refresh');
    assert.equal(await page.locator('th[data-sort="name"]').getAttribute('aria-sort'), 'ascending');
    await page.locator('th[data-sort="name"] button').click();
    await listedExactly(ids.slice(0, 25), 'the first page by name, descending');
    await page.locator('th[data-sort="deviceid"] button').click();
    await listedExactly(ids.slice(0, 25), 'the first page by id');
    await page.getByLabel('Search id, name or location').fill('');
    await page.getByLabel('Per page').selectOption('50');
  });

  it('approves a pending device', async () => {
    await page.click(`a[href="#/devices/${PENDING}"]`);
    await page.locator('#device-body').waitFor({ state: 'visible' });
    assert.equal(await text('#device-title'), PENDING);
    await page.getByRole('button', { name: 'Approve' }).click();
    await until(async () => /Approved/.test(await text('#approval-message')), 'the approval message');
    assert.equal((await deviceOverApi(PENDING)).state, 'accepted');
    assert.equal(await page.locator('#device-overview .status').textContent(), 'online');
    assert.ok(await page.getByRole('button', { name: 'Approve' }).isHidden());
  });

  it('renames the device and edits its configuration; the next poll sees the new cfgsn', async () => {
    await page.getByLabel('Name', { exact: true }).fill('porch light');
    await page.getByRole('button', { name: 'Save name' }).click();
    await until(async () => /Name saved/.test(await text('#rename-message')), 'the rename message');
    assert.equal((await deviceOverApi(PENDING)).name, 'porch light');
    assert.equal(await text('#device-title'), 'porch light');

    await fillLastRow('led', 'text', 'on');
    await fillLastRow('interval', 'number', 'thirty');
    await fillLastRow('enabled', 'boolean', 'false');
    await fillLastRow('thresholds', 'json', '{"hi": 30, "lo": [1, 2]}');
    await page.getByRole('button', { name: 'Save configuration' }).click();
    await until(async () => /is not a number/.test(await text('#config-message')), 'the number check');
    assert.equal((await deviceOverApi(PENDING)).cfgsn, 0, 'nothing was sent');
    await page.locator('#config-rows tr').nth(1).locator('.config-value').fill('30');
    await page.getByRole('button', { name: 'Save configuration' }).click();
    await until(async () => /Saved as configuration #1/.test(await text('#config-message')), 'the save message');

    const expected = { led: 'on', interval: 30, enabled: false, thresholds: { hi: 30, lo: [1, 2] } };
    const saved = await deviceOverApi(PENDING);
    assert.deepEqual(saved.data, expected);
    assert.equal(saved.cfgsn, 1);
    const poll = await stack.api('GET', `/api/devices/${PENDING}`);
    assert.equal(poll.json.cfgsn, 1);
    assert.deepEqual(poll.json.data, expected);
    assert.match(await text('#device-overview .sync'), /#1 waiting/);
    await stack.api('GET', `/api/devices/${PENDING}?cfgsn=1`);          // the device applied it
    await until(async () => /#1 in sync/.test(await text('#device-overview .sync')), 'in sync after the poll');
  });

  it('keeps edits through refreshes, and refuses to save over a change made elsewhere', async () => {
    const led = page.locator('#config-rows tr').first().locator('.config-value');
    await led.fill('off');
    await sleep(2500);                                                       // a refresh passes
    assert.equal(await led.inputValue(), 'off');
    await admin('PUT', `/api/devices/${PENDING}`, { data: { led: 'blink' } });   // someone else
    await until(async () => /changed elsewhere \(now #2\)/.test(await text('#config-message')),
      'the notice of a change elsewhere');
    assert.equal(await led.inputValue(), 'off', 'the refresh kept the edit');
    expectedHttpErrors.push(412);
    await page.getByRole('button', { name: 'Save configuration' }).click();
    await until(async () => /someone else changed/.test(await text('#config-message')), 'the conflict message');
    assert.deepEqual((await deviceOverApi(PENDING)).data, { led: 'blink' }, 'not overwritten');
    assert.equal(await page.locator('#config-rows tr').first().locator('.config-value').inputValue(), 'off',
      'the edit is kept');
    await page.getByRole('button', { name: 'Load the current configuration' }).click();
    await until(async () => (await page.locator('#config-rows .config-value').first().inputValue()) === 'blink',
      'the current configuration');
    assert.equal(await page.locator('#config-rows tr').count(), 1);
  });

  let key;
  it('generates a device key, shown once with a copy button, that the device can use', async () => {
    await page.getByRole('button', { name: 'Generate device key' }).click();
    await page.locator('#key-panel').waitFor({ state: 'visible' });
    key = await page.getByLabel('New device key').inputValue();
    assert.match(key, /^[0-9a-f]{32}$/);
    assert.match(await text('#key-warning'), /shown only once/);
    await page.getByRole('button', { name: 'Copy key' }).click();
    await until(async () => /copied/.test(await text('#actions-message')), 'the copy message');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
    assert.equal((await postReading(PENDING, { data: { temp: 20, humidity: 40 }, SEQN: 1 }, key)).status, 201);
    await until(async () => /set/.test(await page.locator('#device-overview dd').nth(8).textContent()), 'key set');
    assert.match(await page.locator('#device-overview dd').nth(10).textContent(), /^no: a device with a key must/);
    await until(async () => /^v1 \(not authenticated/.test(await page.locator('#device-overview dd').nth(11).textContent()),
      'the v1 envelope shown once the reading is in');

    await page.click('text=← All devices');
    await page.locator('#list-view').waitFor({ state: 'visible' });
    await page.goBack();
    await page.locator('#device-body').waitFor({ state: 'visible' });
    assert.ok(await page.locator('#key-panel').isHidden());
    assert.equal(await page.getByLabel('New device key', { exact: true }).inputValue(), '');
  });

  it('plots readings posted with crypto-js and lists the latest', async () => {
    for (let seqn = 2; seqn <= 30; seqn++) {
      const r = await postReading(PENDING, { data: { temp: 20 + Math.sin(seqn / 3) * 5, humidity: 40 + seqn }, SEQN: seqn }, key);
      assert.equal(r.status, 201, r.text);
    }
    await until(async () => /^30 readings in the last hour/.test(await text('#plot-summary')), 'the plot of 30 readings', 10000);
    const legend = await page.locator('#plot .u-legend th').allTextContents();
    assert.ok(legend.includes('data.temp') && legend.includes('data.humidity'), legend.join(','));
    const inked = await page.locator('#plot canvas').evaluate((canvas) => {
      const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) n++;
      return n;
    });
    assert.ok(inked > 1000, `the plot has ink (${inked} pixels)`);

    await until(async () => (await page.locator('#readings-table tbody td').first().textContent()) === '30', 'latest readings');
    const head = await page.locator('#readings-table thead th').allTextContents();
    assert.deepEqual(head.slice(0, 3), ['SEQN', 'Received', 'Device time']);
    const tempColumn = head.indexOf('data.humidity');
    assert.equal(await page.locator('#readings-table tbody tr').first().locator('td').nth(tempColumn).textContent(), '70');
    assert.equal(await page.locator('#readings-table tbody tr').count(), 20);
    await screenshot(page, 'device');
  });

  it('reads a long range as the server\'s bucket averages', async () => {
    const bucketed = page.waitForRequest((req) => /\/telemetry\?.*bucket=\d+/.test(req.url()));
    await page.getByLabel('Range', { exact: true }).selectOption('604800');
    await bucketed;
    await until(async () => (await page.locator('#plot .u-legend th').allTextContents()).includes('data.temp (average)'),
      'the averaged series');
    assert.match(await text('#plot-summary'), /averages of 840 s each in the last 7 days/);

    // A custom range back to raw readings: the last ten minutes.
    await page.getByLabel('Range', { exact: true }).selectOption('custom');
    // Whole minutes: Chromium gives back "hh:mm" for "hh:mm:00", and fill() then refuses the value
    // it typed as malformed (once a minute, when the seconds were 00).
    const local = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    await page.getByLabel('From (local time)').fill(local(Date.now() - 600000));
    await page.getByLabel('To (local time)').fill(local(Date.now() + 60000));
    await page.getByRole('button', { name: 'Show range' }).click();
    await until(async () => /^30 readings from /.test(await text('#plot-summary')), 'the custom range');
  });

  it('downloads the chosen range as CSV', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByText('Download CSV').click()]);
    // The server names it after the id; the browser makes the colons safe for a file system.
    assert.match(download.suggestedFilename(), /^AA.BB.CC.00.00.01-telemetry\.csv$/);
    const csv = fs.readFileSync(await download.path(), 'utf8');
    const lines = csv.trimEnd().split('\r\n');
    assert.equal(lines[0], 'seqn,received_at,ts,data.temp,data.humidity');
    assert.equal(lines.length, 31);
    const row7 = lines.find((line) => line.startsWith('7,')).split(',');
    assert.equal(Number(row7[3]), 20 + Math.sin(7 / 3) * 5);
    assert.equal(row7[4], '47');
    await page.getByLabel('Range', { exact: true }).selectOption('3600');
  });

  it('uploads firmware, assigns it on a device\'s page, and shows the update\'s progress in the list', async () => {
    await page.goto(`${stack.base}/#/`);
    const image = Buffer.concat([Buffer.from([0xe9]), Buffer.alloc(5000, 7)]);
    await page.getByLabel('Version').fill('fw-2.0');
    await page.getByLabel('Image file').setInputFiles({ name: 'sketch.bin', mimeType: 'application/octet-stream', buffer: image });
    await page.getByRole('button', { name: 'Upload firmware' }).click();
    await until(async () => /^Uploaded fw-2\.0: 5,001 bytes/.test(await text('#firmware-message')), 'the upload reported');
    await page.locator('#firmware-table tr[data-version="fw-2.0"]').waitFor();
    // The same version with other bytes: the server's refusal, shown as it said it.
    expectedHttpErrors.push(409);
    await page.getByLabel('Version').fill('fw-2.0');
    await page.getByLabel('Image file').setInputFiles({ name: 'other.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(10, 1) });
    await page.getByRole('button', { name: 'Upload firmware' }).click();
    await until(async () => /^Not uploaded: version fw-2\.0 exists with other bytes/.test(await text('#firmware-message')), 'the conflict shown');

    await openDevice(SENSOR);
    await page.locator('#firmware-select').selectOption('fw-2.0');
    // A refresh of the page (every 2 s here) keeps a choice not yet assigned.
    await page.waitForResponse((r) => r.request().method() === 'GET' && new URL(r.url()).pathname === `/api/devices/${SENSOR}`);
    await page.waitForResponse((r) => r.request().method() === 'GET' && new URL(r.url()).pathname === '/api/firmware');
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 0)));
    assert.equal(await page.locator('#firmware-select').inputValue(), 'fw-2.0', 'a refresh kept the choice');
    await page.getByRole('button', { name: 'Assign firmware' }).click();
    await until(async () => (await deviceOverApi(SENSOR)).firmware === 'fw-2.0', 'the assignment stored');
    await until(async () => /pending/.test(await text('#device-overview')), 'the overview shows the update pending');

    // The device polls running 1.0, is offered fw-2.0, downloads it, and comes back running it.
    const offer = (await stack.api('GET', `/api/devices/${SENSOR}?fw=1.0`)).json.firmware;
    assert.equal(offer.version, 'fw-2.0');
    const got = Buffer.from(await (await fetch(offer.url)).arrayBuffer());
    assert.ok(got.equals(image));
    await page.goto(`${stack.base}/#/`);
    await until(async () => /1\.0 → fw-2\.0 downloading/.test(await row(SENSOR).locator('td').last().textContent()),
      'the list shows the download');
    assert.equal((await stack.api('GET', `/api/devices/${SENSOR}?fw=fw-2.0`, { headers: { 'If-None-Match': '*' } })).status, 304);
    await until(async () => (await row(SENSOR).locator('td').last().textContent()) === 'fw-2.0installed', 'the list shows it installed');
    assert.ok(await row(SENSOR).locator('.fw-installed').count(), 'installed has its colour class');
  });

  it('shows a hostile device name and configuration as text, and runs nothing', async () => {
    const loadsOfX = [];
    page.on('request', (req) => { if (/\/x$/.test(new URL(req.url()).pathname)) loadsOfX.push(req.url()); });
    await register(EVIL);
    await admin('PUT', `/api/devices/${EVIL}`, { name: EVIL_NAME, data: { note: '<script>alert(2)</script>' } });
    await page.goto(`${stack.base}/#/`);
    await row(EVIL).waitFor();
    assert.equal(await row(EVIL).locator('td').nth(2).textContent(), EVIL_NAME);
    assert.equal(await row(EVIL).locator('img').count(), 0);
    await openDevice(EVIL);
    assert.equal(await text('#device-title'), EVIL_NAME);
    assert.equal(await page.locator('#config-rows .config-value').inputValue(), '<script>alert(2)</script>');
    assert.equal(await page.locator('main img, main script').count(), 0);
    await sleep(500);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(loadsOfX, []);
  });

  it('resets the SEQN and deletes a device only after confirmation', async () => {
    await openDevice(PENDING);
    await page.getByRole('button', { name: 'Reset SEQN' }).click();
    await confirmDialog('cancel');
    assert.equal((await deviceOverApi(PENDING)).last_seqn, 30);
    await page.getByRole('button', { name: 'Reset SEQN' }).click();
    await confirmDialog('ok');
    await until(async () => /SEQN reset/.test(await text('#actions-message')), 'the reset message');
    assert.equal((await deviceOverApi(PENDING)).last_seqn, null);

    await page.getByRole('button', { name: 'Delete device' }).click();
    await confirmDialog('cancel');
    assert.equal((await admin('GET', `/api/devices/${PENDING}`)).status, 200);
    await page.getByRole('button', { name: 'Delete device' }).click();
    await confirmDialog('ok');
    await page.locator('#list-view').waitFor({ state: 'visible' });
    assert.match(await text('#flash'), /Deleted AA:BB:CC:00:00:01/);
    assert.equal((await admin('GET', `/api/devices/${PENDING}`)).status, 404);
    await until(async () => !(await listedIds()).includes(PENDING), 'the device gone from the list');
  });

  it('has labels, button text and visible focus, and works at phone width', async () => {
    for (const hash of ['#/', `#/devices/${SENSOR}`]) {
      await page.goto(`${stack.base}/${hash}`);
      await page.locator(hash === '#/' ? '#device-table tbody tr' : '#device-body').first().waitFor();
      const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
        .filter((el) => el.labels.length === 0).map((el) => el.id || el.outerHTML));
      assert.deepEqual(unlabelled, []);
      const textless = await page.evaluate(() => [...document.querySelectorAll('button, a')]
        .filter((el) => !el.textContent.trim()).map((el) => el.outerHTML));
      assert.deepEqual(textless, []);
    }
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', 'the focused element shows an outline');

    await page.setViewportSize({ width: 390, height: 844 });
    for (const [hash, shot] of [['#/', 'phone-list'], [`#/devices/${SENSOR}`, 'phone-device']]) {
      await page.goto(`${stack.base}/${hash}`);
      await page.locator(hash === '#/' ? '#device-table tbody tr' : '#device-body').first().waitFor();
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390, `${hash}: the page is ${width}px wide at 390px`);
      await screenshot(page, shot);
    }
    await page.getByLabel('Name', { exact: true }).fill('sensor two');
    await page.getByRole('button', { name: 'Save name' }).click();
    await until(async () => (await deviceOverApi(SENSOR)).name === 'sensor two', 'a rename at phone width');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('signs out and forgets the token', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.ok(await page.locator('#list-view').isHidden());
  });

  it('logged no console errors beyond the failures it provoked', () => {
    const unexpected = browser.problems.filter((problem) => {
      const status = problem.match(/status of (\d+)/)?.[1];
      const i = expectedHttpErrors.indexOf(Number(status));
      if (i < 0) return true;
      expectedHttpErrors.splice(i, 1);
      return false;
    });
    assert.deepEqual(unexpected, []);
  });
});
