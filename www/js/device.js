// One device: its overview, rename, location and tags, approval, telemetry key, SEQN reset and
// deletion, its configuration (config-editor.js, saved with If-Match), its history (history.js)
// and its data (data.js). Refreshes
// update the overview in place and never overwrite what a person is editing.
import { $, confirmAction, flash, h, say } from './dom.js';
import { api, devicePath, isDeviceId } from './api.js';
import { configSync, exactTime, firmwareSummary, statusBadge, timeAgo } from './format.js';
import { assign, showAssignment } from './firmware.js';
import { editor, readConfig, showConfig } from './config-editor.js';
import * as dataView from './data.js';
import * as historyView from './history.js';

let deviceId = null;
let device = null;        // the last answer for this device
let editedCfgsn = null;   // the cfgsn the configuration editor was loaded from: the If-Match
let nameDirty = false;
let placeDirty = false;   // the location or tags being edited
let generation = 0;

const title = () => device?.name || deviceId;

function renderOverview() {
  const d = device;
  $('device-title').textContent = title();
  $('device-subtitle').textContent = d.name ? d.deviceid : 'no name yet';
  const items = [
    ['Status', statusBadge(d), d.state === 'accepted' ? ' (accepted)' : ` (${d.liveness})`],
    ['Last seen', timeAgo(d.lastseen), d.lastseen ? ` · ${exactTime(d.lastseen)}` : ''],
    ['Next poll expected', d.next_expected ? timeAgo(d.next_expected) : 'after its first poll'],
    ['IP address', d.ipaddr || '–'],
    ['SSID', d.ssid || '–'],
    ['First seen', timeAgo(d.datec)],
    ['Configuration', configSync(d), d.cfgsn_applied === null ? ' (none reported applied)'
      : ` (device reports #${d.cfgsn_applied})`],
    ['Poll interval', `${d.poll_interval} s`],
    ['Telemetry key', d.has_key ? 'set' : 'none (the device cannot log data until it has one)'],
    ['Last SEQN', d.last_seqn === null ? 'none yet' : String(d.last_seqn)],
    ['Signs its calls', d.signs ? 'yes' : d.has_key ? 'no: a device with a key must (its unsigned calls are refused)' : 'no'],
    ['Envelope', d.envelope ?? 'none yet', d.envelope === 'v1' ? ' (not authenticated: move the device to v2)' : ''],
    ['Location', d.location || '–'],
    ['Tags', d.tags.length ? d.tags.join(', ') : 'none'],
    ['Firmware', firmwareSummary(d), d.firmware ? ` (assigned ${d.firmware})` : ' (no update assigned)'],
  ];
  $('device-overview').replaceChildren(...items.flatMap(([term, ...desc]) => [h('dt', {}, term), h('dd', {}, ...desc)]));
  $('approve').hidden = d.state === 'accepted';
  $('reject').hidden = d.state === 'rejected';
}

function showConfigFrom(d) {
  editedCfgsn = d.cfgsn;
  $('config-reload').hidden = true;
  if (!showConfig(d.data))
    say($('config-message'), 'The stored configuration is not a set of properties (it is plain JSON); saving replaces it with the rows above.');
}

// Takes a fresh answer for the device: the overview always; a form when asked for (`name`,
// `config`) or when it is untouched, so a refresh never overwrites an edit.
function take(d, { name = false, place = false, config = false, firmware = false } = {}) {
  device = d;
  renderOverview();
  showAssignment(d, { replace: firmware });
  if (name || !nameDirty) {
    $('device-name').value = d.name;
    nameDirty = false;
  }
  if (place || !placeDirty) {
    $('device-location').value = d.location;
    $('device-tags').value = d.tags.join(' ');
    placeDirty = false;
  }
  if (config || (!editor.dirty && d.cfgsn !== editedCfgsn)) {
    showConfigFrom(d);
  } else if (d.cfgsn !== editedCfgsn) {
    say($('config-message'), `The configuration was changed elsewhere (now #${d.cfgsn}) while you were editing: saving your edits would be refused. Load the current configuration, then make your change again.`, 'error');
    $('config-reload').hidden = false;
  }
}

async function load(forms = {}) {
  const mine = generation;
  try {
    const { json } = await api('GET', devicePath(deviceId));
    if (mine !== generation) return;
    $('device-body').hidden = false;
    take(json, forms);
  } catch (err) {
    if (mine !== generation) return;
    if (err.status === 404) {
      $('device-body').hidden = true;
      $('device-subtitle').textContent = 'There is no such device (it may have been deleted).';
    } else {
      say($('actions-message'), `The device could not be loaded: ${err.message}`, 'error');
    }
  }
}

// A change to the device (PUT): the answer is the whole device; the history shows the change.
async function update(body, options) {
  const { json } = await api('PUT', devicePath(deviceId), { body, ...options });
  historyView.refresh();
  return json;
}

// Runs a button's action with the button disabled, reporting failure in `message`.
function action(button, message, run) {
  $(button).addEventListener('click', async () => {
    $(button).disabled = true;
    try {
      await run();
    } catch (err) {
      say($(message), err.message, 'error');
    } finally {
      $(button).disabled = false;
    }
  });
}

$('rename-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const d = await update({ name: $('device-name').value.trim() });
    take(d, { name: true });
    say($('rename-message'), d.name ? `Name saved: ${d.name}` : 'Name cleared.', 'ok');
  } catch (err) {
    say($('rename-message'), `Not saved: ${err.message}`, 'error');
  }
});
$('device-name').addEventListener('input', () => { nameDirty = true; });

$('firmware-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    take(await assign(deviceId), { firmware: true });
  } catch (err) {
    say($('firmware-assign-message'), `Not assigned: ${err.message}`, 'error');
  }
});

// The location pins it (the device's own is ignored from then on); an empty one hands it back.
$('place-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const location = $('device-location').value.trim();
  const tags = $('device-tags').value.split(/[\s,]+/).filter(Boolean);
  try {
    const d = await update({ location: location || null, tags });
    take(d, { place: true });
    say($('place-message'), `Saved: ${d.location || 'no location'}; tags ${d.tags.join(', ') || 'none'}.`, 'ok');
  } catch (err) {
    say($('place-message'), `Not saved: ${err.message}`, 'error');
  }
});
for (const id of ['device-location', 'device-tags']) $(id).addEventListener('input', () => { placeDirty = true; });

$('config-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const { data, error, control } = readConfig();
  if (error) {
    control.setAttribute('aria-invalid', 'true');
    control.focus();
    say($('config-message'), `Not saved: ${error}`, 'error');
    return;
  }
  try {
    const d = await update({ data }, { ifMatch: editedCfgsn });
    take(d, { config: true });
    say($('config-message'), `Saved as configuration #${d.cfgsn}: the device gets it at its next poll.`, 'ok');
  } catch (err) {
    if (err.status !== 412) {
      say($('config-message'), `Not saved: ${err.message}`, 'error');
      return;
    }
    say($('config-message'), 'Not saved: someone else changed this configuration since you opened it. Your edits are still here; load the current configuration, then make your change again.', 'error');
    $('config-reload').hidden = false;
    $('config-reload').focus();
  }
});

$('config-reload').addEventListener('click', async () => {
  await load({ config: true });
  say($('config-message'), `Loaded configuration #${editedCfgsn}.`, 'ok');
  $('config-add').focus();
});

action('approve', 'approval-message', async () => {
  take(await update({ state: 'accepted' }));
  say($('approval-message'), 'Approved: the device may log data.', 'ok');
});

action('reject', 'approval-message', async () => {
  if (!await confirmAction({ title: `Reject ${title()}?`, ok: 'Reject',
    text: 'A rejected device gets 403 on its polls and cannot log data, until you approve it again.' })) return;
  take(await update({ state: 'rejected' }));
  say($('approval-message'), 'Rejected.', 'ok');
});

action('generate-key', 'actions-message', async () => {
  if (device.has_key && !await confirmAction({ title: `Replace the key of ${title()}?`, ok: 'Replace key',
    text: 'The device cannot log data until it has the new key.' })) return;
  const { json } = await api('POST', devicePath(deviceId, '/key'));
  $('new-key').value = json.key;
  $('key-panel').hidden = false;
  $('new-key').focus();
  $('new-key').select();
  say($('actions-message'), '');
  await Promise.all([load(), historyView.refresh()]);
});

$('copy-key').addEventListener('click', async () => {
  $('new-key').select();
  try {
    await navigator.clipboard.writeText($('new-key').value);
    say($('actions-message'), 'Key copied to the clipboard.', 'ok');
  } catch {
    say($('actions-message'), 'The browser would not copy it: the key is selected, copy it with Ctrl+C.');
  }
});

action('reset-seqn', 'actions-message', async () => {
  if (!await confirmAction({ title: `Reset the SEQN of ${title()}?`, ok: 'Reset SEQN',
    text: 'Do this when the device restarted its message counter. Its next message is accepted whatever its SEQN, so until then a replayed old message would be accepted too.' })) return;
  take(await update({ seqn_reset: true }));
  say($('actions-message'), 'SEQN reset: the next message from the device starts the count again.', 'ok');
});

action('delete-device', 'actions-message', async () => {
  if (!await confirmAction({ title: `Delete ${title()}?`, ok: 'Delete device',
    text: 'The device and all its readings are removed. This cannot be undone; if the device polls again it registers as a new device.' })) return;
  // No refresh of this view starts from here on: it would ask for the deleted device (404s).
  const deleting = device;
  device = null;
  try {
    await api('DELETE', devicePath(deviceId));
  } catch (err) {
    device = deleting;
    throw err;
  }
  flash(`Deleted ${deviceId} and its readings.`);
  location.hash = '#/';
});

export async function enter(id) {
  leave();
  deviceId = id;
  device = null;
  for (const message of ['rename-message', 'place-message', 'approval-message', 'actions-message', 'config-message'])
    say($(message), '');
  $('device-title').textContent = id;
  $('device-subtitle').textContent = '';
  $('device-overview').replaceChildren();
  $('device-body').hidden = true;
  if (!isDeviceId(id)) {
    $('device-subtitle').textContent = 'This is not a device id: ids are 1-64 characters of A-Z a-z 0-9 . _ : -';
    return;
  }
  await load({ name: true, place: true, config: true, firmware: true });
  if (device) await Promise.all([historyView.enter(id), dataView.enter(id)]);
}

export function refresh() {
  return device ? Promise.all([load(), historyView.refresh(), dataView.refresh()]) : null;
}

// The key shown once must not survive leaving the page.
export function leave() {
  generation++;
  $('key-panel').hidden = true;
  $('new-key').value = '';
  historyView.leave();
  dataView.leave();
}
