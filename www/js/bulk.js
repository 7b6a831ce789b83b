// Bulk changes from the device list: tag, untag, approve or set a configuration property on the
// selected devices or on every device the search and filters match (POST /api/bulk), call after
// call while the server says more are left, with the count so far on the page.
import { $, confirmAction, say } from './dom.js';
import { api } from './api.js';
import * as list from './list.js';

const IDS_PER_CALL = 200;    // the server's cap on an explicit list of ids
const DONE = { tag: 'tagged', untag: 'untagged', approve: 'approved', set: 'changed' };

// Which fields the chosen action takes.
function showFields() {
  const action = $('bulk-action').value;
  for (const field of document.querySelectorAll('[data-bulk]'))
    field.hidden = !field.dataset.bulk.split(' ').includes(action);
}

function describeTarget() {
  const count = list.selectedIds().length;
  $('bulk-target').options[0].textContent = `The ${count} selected device${count === 1 ? '' : 's'}`;
}

// A value typed as JSON is taken as JSON; anything else as text ("on" is the string "on").
function parseValue(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// The call's body without its target, or { error }.
function change() {
  const action = $('bulk-action').value;
  const body = { action };
  if (action === 'tag' || action === 'untag') {
    body.tag = $('bulk-tag').value.trim();
    if (!body.tag) return { error: 'Name the tag.' };
  } else if (action === 'set') {
    body.key = $('bulk-key').value.trim();
    if (!body.key) return { error: 'Name the property.' };
    body.value = parseValue($('bulk-value').value);
  }
  return { body };
}

// Calls until the server has no more to change; returns how many changed.
async function run(body, progress) {
  let affected = 0;
  for (;;) {
    const { json } = await api('POST', '/api/bulk', { body });
    affected += json.affected;
    progress(affected);
    if (!json.more) return affected;
  }
}

async function apply() {
  const { body, error } = change();
  if (error) {
    say($('bulk-message'), error, 'error');
    return;
  }
  const filtered = $('bulk-target').value === 'filtered';
  const ids = list.selectedIds();
  if (!filtered && ids.length === 0) {
    say($('bulk-message'), 'Select devices first, or apply to every device matching the filters.', 'error');
    return;
  }
  const filter = list.serverFilter();
  // The server tells online from not online only: overdue and offline go together.
  const notOnline = ['overdue', 'offline'].includes($('status-filter').value) ? ' (overdue and offline alike)' : '';
  const what = filtered ? (Object.keys(filter).length ? `every device matching the search and filters${notOnline}`
    : 'every device') : `the ${ids.length} selected device${ids.length === 1 ? '' : 's'}`;
  if (!await confirmAction({ title: 'Change many devices', text: `${$('bulk-action').selectedOptions[0].textContent}: ${what}?`, ok: 'Apply' }))
    return;
  const verb = DONE[body.action];
  const progress = (n) => say($('bulk-message'), `${n} device${n === 1 ? '' : 's'} ${verb} so far…`);
  try {
    let affected = 0;
    if (filtered) {
      affected = await run({ ...body, filter }, progress);
    } else {
      for (let i = 0; i < ids.length; i += IDS_PER_CALL)
        affected += await run({ ...body, ids: ids.slice(i, i + IDS_PER_CALL) }, (n) => progress(affected + n));
      list.clearSelection();
    }
    say($('bulk-message'), `${affected} device${affected === 1 ? '' : 's'} ${verb}.`, 'ok');
  } catch (err) {
    say($('bulk-message'), `The change stopped: ${err.message}`, 'error');
  }
  await list.refresh();
}

$('bulk-action').addEventListener('change', showFields);
$('bulk-form').addEventListener('submit', (event) => {
  event.preventDefault();
  apply();
});
list.watchSelection(describeTarget);
describeTarget();
showFields();
