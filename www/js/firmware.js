// Firmware on the page: the versions uploaded and the upload form (under the device list), and a
// device's assignment (on its page). The server checks every version and signature; the page
// only reports what it says.
import { $, h, say } from './dom.js';
import { api, devicePath } from './api.js';
import { timeAgo } from './format.js';

let versions = [];   // the last GET /api/firmware

function renderTable() {
  const rows = versions.map((fw) => h('tr', { dataset: { version: fw.version } },
    h('td', {}, fw.version),
    h('td', {}, `${fw.size.toLocaleString()} bytes`),
    h('td', { className: 'wrap' }, h('code', { title: `MD5 ${fw.md5}` }, fw.sha256)),
    h('td', {}, timeAgo(fw.created))));
  $('firmware-table').tBodies[0].replaceChildren(...rows);
  $('firmware-empty').hidden = versions.length > 0;
}

// A version chosen on the device page and not yet assigned: no refresh replaces it.
let choiceMade = false;
$('firmware-select').addEventListener('change', () => { choiceMade = true; });

// The device page's choice: no update, or one of the versions; assigned selects its version.
function renderChoice(assigned) {
  const select = $('firmware-select');
  if (document.activeElement === select || choiceMade) return;   // never change a choice made
  const names = versions.map((fw) => fw.version);
  if (assigned && !names.includes(assigned)) names.push(assigned);
  select.replaceChildren(h('option', { value: '' }, 'No firmware update'),
    ...names.map((v) => h('option', { value: v }, v)));
  select.value = assigned ?? '';
}

export async function loadVersions() {
  try {
    versions = (await api('GET', '/api/firmware')).json;
    renderTable();
  } catch (err) {
    say($('firmware-message'), `The firmware list could not be loaded: ${err.message}`, 'error');
  }
}

// The device page's form, for the device d (the last answer for it): the versions and its
// assignment; a choice made and not assigned stays, unless replace (a device opened, an
// assignment made).
export async function showAssignment(d, { replace = false } = {}) {
  if (replace) choiceMade = false;
  await loadVersions();
  renderChoice(d.firmware);
}

$('firmware-upload').addEventListener('submit', async (event) => {
  event.preventDefault();
  const version = $('firmware-version').value.trim();
  const file = $('firmware-file').files[0];
  if (!file) return;
  say($('firmware-message'), `Uploading ${file.name}…`);
  try {
    const { json } = await api('POST', `/api/firmware?version=${encodeURIComponent(version)}`, { bytes: file });
    say($('firmware-message'), `Uploaded ${json.version}: ${json.size.toLocaleString()} bytes, SHA-256 ${json.sha256}.`, 'ok');
    $('firmware-upload').reset();
    await loadVersions();
  } catch (err) {
    say($('firmware-message'), `Not uploaded: ${err.message}`, 'error');
  }
});

// Assigns the chosen version to the device id (null: none); resolves to the device as stored.
export async function assign(id) {
  const version = $('firmware-select').value || null;
  const { json } = await api('PUT', devicePath(id), { body: { firmware: version } });
  say($('firmware-assign-message'), version ? `Firmware ${version} assigned: the device gets it at its next poll.`
    : 'No firmware update assigned.', 'ok');
  return json;
}
