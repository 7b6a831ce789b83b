// The device list: server pages (keyset cursors from the Link header), search, tag and status
// filters and the column sort sent to the server (so a sort orders the whole fleet), devices
// selected across pages (bulk.js acts on them), and refreshes that update rows in place so the
// page, the sort, focus and scroll position all survive.
import { $, h, say } from './dom.js';
import { api, nextCursor } from './api.js';
import { loadVersions } from './firmware.js';
import { configSync, deviceStatus, firmwareSummary, statusBadge, timeAgo } from './format.js';

// Status filter -> the server's filters. The server tells online from not online; overdue
// and offline are then told apart here from each device's liveness.
const FILTERS = {
  online: { state: 'accepted', online: 'true' },
  overdue: { state: 'accepted', online: 'false' },
  offline: { state: 'accepted', online: 'false' },
  pending: { state: 'pending' },
  rejected: { state: 'rejected' },
};

// sort: the server's ?sort= for the column when it is not the column's own name. Status sorts
// by the approval state; liveness follows from the last seen time, so "Last seen" orders it.
const COLUMNS = {
  select: { cell: selectBox, className: 'select' },
  deviceid: { cell: (d) => h('a', { href: `#/devices/${d.deviceid}` }, d.deviceid) },
  name: { cell: (d) => d.name, wrap: true },
  location: { cell: (d) => d.location, wrap: true },
  tags: { cell: (d) => h('span', {}, ...d.tags.map(tagChip)), wrap: true },
  status: { cell: statusBadge, sort: 'state' },
  lastseen: { cell: (d) => timeAgo(d.lastseen) },
  ipaddr: { cell: (d) => d.ipaddr },
  ssid: { cell: (d) => d.ssid, wrap: true },
  cfgsn: { cell: configSync },
  datec: { cell: (d) => timeAgo(d.datec) },
  firmware: { cell: firmwareSummary, wrap: true },   // no server sort: its header has no button
};

const state = {
  cursors: [null],   // the `after` of each page seen so far; page n starts after cursors[n]
  page: 0,
  next: null,        // the next page's cursor, null on the last page
  devices: [],
  sort: null,        // { key, descending } (a COLUMNS key) or null for the server's order (by id)
};
const rows = new Map();  // deviceid -> its <tr>, kept across refreshes
const selected = new Set();  // ids of the selected devices, on any page
let onSelection = () => {};
let generation = 0;      // a late answer never overwrites a newer one
let searchTimer = 0;

// A row's checkbox, labelled with its device for screen readers.
function selectBox(d) {
  const box = h('input', { type: 'checkbox', className: 'select-device', checked: selected.has(d.deviceid) });
  box.addEventListener('change', () => {
    if (box.checked) selected.add(d.deviceid);
    else selected.delete(d.deviceid);
    onSelection(selected.size);
  });
  return h('label', {}, box, h('span', { className: 'visually-hidden' }, `Select ${d.deviceid}`));
}

// A tag as a chip: a click lists the devices with it.
function tagChip(tag) {
  const chip = h('button', { type: 'button', className: 'tag', title: `List the devices tagged ${tag}` }, tag);
  chip.addEventListener('click', () => {
    $('tag-filter').value = tag;
    restart();
  });
  return chip;
}

// The search and filters as the server's filter: the list's query and POST /api/bulk's filter.
// Overdue and offline are both "not online" there (the page tells them apart by liveness).
export function serverFilter() {
  const filter = {};
  const q = $('search').value.trim();
  if (q) filter.q = q;
  const tag = $('tag-filter').value.trim();
  if (tag) filter.tag = tag;
  for (const [name, value] of Object.entries(FILTERS[$('status-filter').value] ?? {}))
    filter[name] = name === 'online' ? value === 'true' : value;
  return filter;
}

export const selectedIds = () => [...selected];

// fn(count) is called whenever the selection changes.
export function watchSelection(fn) {
  onSelection = fn;
}

export function clearSelection() {
  selected.clear();
  for (const box of document.querySelectorAll('#device-table .select-device, #select-page')) box.checked = false;
  onSelection(0);
}

function query() {
  const params = new URLSearchParams({ limit: $('page-size').value });
  const after = state.cursors[state.page];
  if (after) params.set('after', after);
  for (const [name, value] of Object.entries(serverFilter())) params.set(name, String(value));
  if (state.sort) {
    params.set('sort', COLUMNS[state.sort.key].sort ?? state.sort.key);
    params.set('order', state.sort.descending ? 'desc' : 'asc');
  }
  return params;
}

async function load() {
  const mine = ++generation;
  try {
    const { json, headers } = await api('GET', `/api/devices?${query()}`);
    if (mine !== generation) return;
    const status = $('status-filter').value;
    state.devices = json.filter((d) => !status || deviceStatus(d) === status);
    state.next = nextCursor(headers);
    render();
  } catch (err) {
    if (mine !== generation) return;
    // Sorted by a column, the page's cursor is a device: when it is deleted, start again.
    if (err.status === 400 && err.message.startsWith('after ') && state.page > 0) {
      restart();
      return;
    }
    $('list-empty').hidden = false;
    say($('list-empty'), `The device list could not be loaded: ${err.message}`, 'error');
  }
}

// A cell is replaced only when what it shows changed, so a focused link stays focused.
function fillRow(tr, device) {
  for (const [i, [key, column]] of Object.entries(COLUMNS).entries()) {
    const className = column.className ?? (column.wrap ? 'wrap' : '');
    const fresh = h('td', { className, dataset: { column: key } }, column.cell(device));
    const td = tr.cells[i];
    if (!td) tr.append(fresh);
    else if (!td.isEqualNode(fresh)) td.replaceWith(fresh);
  }
}

function render() {
  const tbody = $('device-table').tBodies[0];
  const devices = state.devices;
  const keep = new Set(devices.map((d) => d.deviceid));
  for (const [id, tr] of rows) {
    if (!keep.has(id)) {
      tr.remove();
      rows.delete(id);
    }
  }
  devices.forEach((device, i) => {
    let tr = rows.get(device.deviceid);
    if (!tr) {
      tr = h('tr', { dataset: { deviceid: device.deviceid } });
      rows.set(device.deviceid, tr);
    }
    fillRow(tr, device);
    if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] ?? null);
  });

  const filtered = $('search').value.trim() || $('tag-filter').value.trim() || $('status-filter').value;
  $('list-empty').hidden = devices.length > 0;
  say($('list-empty'), filtered ? 'No device matches the search, tag and status filter on this page.'
    : 'No devices yet: a device appears here when it first registers (POST /api/devices/ID).');
  $('select-page').checked = devices.length > 0 && devices.every((d) => selected.has(d.deviceid));
  for (const th of $('device-table').tHead.querySelectorAll('th[data-sort]')) {
    const active = state.sort?.key === th.dataset.sort;
    th.setAttribute('aria-sort', active ? (state.sort.descending ? 'descending' : 'ascending') : 'none');
  }
  const order = state.sort ? `sorted by ${sortLabel()}` : 'in device id order';
  $('device-caption').textContent = `Page ${state.page + 1}: ${devices.length} device${devices.length === 1 ? '' : 's'}. `
    + `All pages are ${order}.`;
  $('page-number').textContent = `Page ${state.page + 1}`;
  $('page-prev').disabled = state.page === 0;
  $('page-next').disabled = !state.next;
}

function sortLabel() {
  const { key, descending } = state.sort;
  const label = $('device-table').querySelector(`th[data-sort="${key}"]`).textContent;
  const states = key === 'status' ? ' (approval state: accepted, pending, rejected)' : '';
  return `${label}${states}, ${descending ? 'descending' : 'ascending'}`;
}

function restart() {
  state.cursors = [null];
  state.page = 0;
  return load();
}

$('list-filters').addEventListener('submit', (event) => {
  event.preventDefault();
  clearTimeout(searchTimer);
  restart();
});
for (const id of ['search', 'tag-filter']) {
  $(id).addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(restart, 250);
  });
}
$('select-page').addEventListener('change', () => {
  for (const d of state.devices) {
    if ($('select-page').checked) selected.add(d.deviceid);
    else selected.delete(d.deviceid);
  }
  for (const box of $('device-table').tBodies[0].querySelectorAll('.select-device')) box.checked = $('select-page').checked;
  onSelection(selected.size);
});
$('status-filter').addEventListener('change', restart);
$('page-size').addEventListener('change', restart);

$('page-next').addEventListener('click', () => {
  if (!state.next) return;
  state.cursors[state.page + 1] = state.next;
  state.page++;
  load();
});
$('page-prev').addEventListener('click', () => {
  if (state.page === 0) return;
  state.page--;
  load();
});

for (const th of $('device-table').tHead.querySelectorAll('th[data-sort]')) {
  th.querySelector('button').addEventListener('click', () => {
    const key = th.dataset.sort;
    state.sort = { key, descending: state.sort?.key === key && !state.sort.descending };
    restart();
  });
}

export const enter = () => Promise.all([load(), loadVersions()]);
export const refresh = load;
export function leave() {
  generation++;   // an answer still on its way is dropped
}
