// Staged rollouts on the admin page in Debian's chromium against the real stack (its workers
// sweeping every second): starting one from the form, a bar per stage that fills as devices
// report the version, the next stage appearing on its own, pause, resume and cancel (after
// confirmation), and the server's refusal of bad stages shown as it said it.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startStack } from '../integration/lib/stack.mjs';
import { launch, screenshot, until } from './lib/browser.mjs';

let stack;
let browser;
let page;

before(async () => {
  stack = await startStack({ env: { PROVD_ROLLOUT_SWEEP: '1' } });
  browser = await launch();
  page = browser.page;
  const res = await fetch(`${stack.base}/api/firmware?version=4.2`, { method: 'POST', body: crypto.randomBytes(4000),
    headers: { Authorization: `Bearer ${stack.token}`, 'Content-Type': 'application/octet-stream' } });
  assert.equal(res.status, 201);
  for (const id of ['shelf-1', 'shelf-2', 'shelf-3', 'shelf-4']) {
    const r = await stack.api('PUT', `/api/devices/${id}`, { admin: true, body: { state: 'accepted', tags: ['shelf'] } });
    assert.equal(r.status, 201, r.text);
  }
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const text = (selector) => page.locator(selector).textContent();
const card = () => page.locator('#rollout-list > li').first();
const bars = () => card().locator('progress').evaluateAll((ps) => ps.map((p) => [p.value, p.max]));
const installs = (id) => stack.api('GET', `/api/devices/${id}?fw=4.2`); // the device back on 4.2

describe('rollouts on the admin page', () => {
  it('starts a rollout from the form; its bars fill and the next stage starts on its own', async () => {
    await page.goto(`${stack.base}/`);
    await page.getByLabel('Admin token').fill(stack.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#list-view').waitFor({ state: 'visible' });
    await until(async () => (await page.locator('#rollout-firmware option').count()) === 1, 'the versions listed');
    assert.ok(await page.locator('#rollout-empty').isVisible());

    await page.getByLabel('Stages (%)').fill('50, 50');
    await page.getByLabel('Rollout tag').fill('shelf');
    await page.getByRole('button', { name: 'Start rollout' }).click();
    await until(async () => /^Not started: stages must be 1-10 whole percentages/.test(await text('#rollout-message')),
      'the refusal shown');

    await page.getByLabel('Stages (%)').fill('50, 100');
    await page.getByLabel('Success threshold (%)').fill('100');
    await page.getByRole('button', { name: 'Start rollout' }).click();
    await until(async () => /^Rollout \d+ started: 2 device\(s\) in its first stage\.$/.test(await text('#rollout-message')),
      'the start reported');
    await until(async () => JSON.stringify(await bars()) === '[[0,2]]', 'stage 1: 0 of 2');
    assert.match(await card().locator('h4').textContent(), /4\.2 to tag shelf — running$/);
    assert.match(await card().locator('p.hint').textContent(), /^Stages 50, 100 %; .*; started \d+ s ago\.$/);

    await installs('shelf-1');
    await installs('shelf-2');
    await until(async () => JSON.stringify(await bars()) === '[[2,2],[0,2]]', 'stage 2 started by the sweep', 20000);
    assert.match(await card().locator('[data-stage="2"] progress').getAttribute('aria-label'),
      /^Stage 2 \(100%\): 0 of 2 installed/);
    await screenshot(page, 'rollouts');
  });

  it('pauses, resumes, and cancels after confirmation', async () => {
    const id = await card().getAttribute('data-rollout');
    await page.getByRole('button', { name: `Pause rollout ${id}` }).click();
    await until(async () => (await card().getAttribute('data-state')) === 'paused', 'paused');
    await page.getByRole('button', { name: `Resume rollout ${id}` }).click();
    await until(async () => (await card().getAttribute('data-state')) === 'running', 'running again');
    await page.getByRole('button', { name: `Cancel rollout ${id}` }).click();
    await page.locator('#confirm-cancel').click(); // "Cancel" in the dialog keeps it
    assert.equal(await card().getAttribute('data-state'), 'running');
    await page.getByRole('button', { name: `Cancel rollout ${id}` }).click();
    await page.locator('#confirm-ok').click();
    await until(async () => (await card().getAttribute('data-state')) === 'cancelled', 'cancelled');
    assert.equal(await card().locator('button').count(), 0, 'no buttons on a finished rollout');
    const d = (await stack.api('GET', '/api/devices/shelf-3', { admin: true })).json;
    assert.equal(d.firmware_status, 'none', 'not offered yet: its assignment cleared');
  });

  it('logged no console errors beyond the refusal it provoked', () => {
    assert.deepEqual(browser.problems.filter((p) => !/status of 400/.test(p)), []);
  });
});
