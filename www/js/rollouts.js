// Staged rollouts on the page (under the firmware list): the start form, and each rollout with a
// bar per started stage and its pause, resume and cancel buttons. The server checks every value
// and decides every move; the page shows what it answers.
import { $, confirmAction, h, say } from './dom.js';
import { api } from './api.js';
import { timeAgo } from './format.js';

// A stage's line: its bar (installed of its devices) and what the bar cannot show.
function stageLine(p) {
  const label = `Stage ${p.stage} (${p.percent}%)`;
  const counts = `${p.installed} of ${p.devices} installed, ${p.in_progress} updating, ${p.failed} failed, `
    + `${p.pending} not offered yet`;
  return h('div', { className: 'stage', dataset: { stage: String(p.stage) } },
    h('span', {}, label),
    h('progress', { max: Math.max(p.devices, 1), value: p.installed, ariaLabel: `${label}: ${counts}` }),
    h('span', { className: 'hint' }, counts));
}

function actionButton(r, action, text) {
  const button = h('button', { type: 'button', ariaLabel: `${text} rollout ${r.id}` }, text);
  button.addEventListener('click', () => act(r, action, text));
  return button;
}

function card(r) {
  const stages = JSON.stringify(r.stages).replace(/[[\]]/g, '').replaceAll(',', ', ');
  const active = r.state === 'running' || r.state === 'paused';
  return h('li', { dataset: { rollout: String(r.id), state: r.state } },
    h('h4', {}, `Rollout ${r.id}: ${r.firmware} to tag ${r.tag} — ${r.state}`),
    h('p', { className: 'hint' }, `Stages ${stages} %; next stage at ${r.success_threshold}% installed, `
      + `stops past ${r.failure_threshold}% failed; timeout ${r.timeout} s; started `, timeAgo(r.created), '.'),
    r.reason ? h('p', { className: 'message error' }, r.reason) : null,
    ...r.progress.map(stageLine),
    active ? h('div', { className: 'actions' },
      r.state === 'running' ? actionButton(r, 'pause', 'Pause') : actionButton(r, 'resume', 'Resume'),
      actionButton(r, 'cancel', 'Cancel')) : null);
}

export async function load() {
  try {
    const { json } = await api('GET', '/api/rollouts');
    const list = $('rollout-list');
    const focused = document.activeElement?.ariaLabel;   // a button being used keeps the focus
    list.replaceChildren(...json.map(card));
    if (focused) list.querySelector(`button[aria-label="${CSS.escape(focused)}"]`)?.focus();
    $('rollout-empty').hidden = json.length > 0;
  } catch (err) {
    say($('rollout-message'), `The rollouts could not be loaded: ${err.message}`, 'error');
  }
}

async function loadVersions() {
  const select = $('rollout-firmware');
  if (document.activeElement === select) return;
  try {
    const { json } = await api('GET', '/api/firmware');
    const chosen = select.value;
    select.replaceChildren(...json.map((fw) => h('option', { value: fw.version }, fw.version)));
    if (json.some((fw) => fw.version === chosen)) select.value = chosen;
  } catch { /* the firmware panel reports it */ }
}

async function act(r, action, text) {
  if (action === 'cancel' && !await confirmAction({ title: `Cancel rollout ${r.id}?`,
    text: 'Devices not yet offered the image lose the assignment; those already updating finish.',
    ok: 'Cancel rollout' })) return;
  try {
    await api('POST', `/api/rollouts/${r.id}/${action}`);
    say($('rollout-message'), `${text}: rollout ${r.id} done.`, 'ok');
  } catch (err) {
    say($('rollout-message'), `Rollout ${r.id} not changed: ${err.message}`, 'error');
  }
  await load();
}

$('rollout-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const stages = $('rollout-stages').value.split(/[\s,]+/).filter(Boolean).map(Number);
  const body = { firmware: $('rollout-firmware').value, tag: $('rollout-tag').value.trim(), stages,
    success_threshold: Number($('rollout-success').value), failure_threshold: Number($('rollout-failure').value),
    timeout: Number($('rollout-timeout').value) };
  try {
    const { json } = await api('POST', '/api/rollouts', { body });
    say($('rollout-message'), `Rollout ${json.id} started: ${json.progress[0]?.devices ?? 0} device(s) in its first stage.`, 'ok');
  } catch (err) {
    say($('rollout-message'), `Not started: ${err.message}`, 'error');
  }
  await load();
});

export const enter = () => Promise.all([load(), loadVersions()]);
export const refresh = () => Promise.all([load(), loadVersions()]);
