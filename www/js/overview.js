// The fleet overview above the device list: devices by liveness and by state, the devices that
// went offline most recently, and readings per minute, from GET /api/overview at each refresh.
// Readings per minute: the overview's readings.last_id rises by one per reading on every host,
// so its rise between the polls of the last minute, over their times, is the rate.
import { $, h, say } from './dom.js';
import { api } from './api.js';
import { timeAgo } from './format.js';

const LIVENESS = ['online', 'overdue', 'offline'];
const STATES = { accepted: 'accepted', pending: 'pending approval', rejected: 'rejected' };
const RATE_WINDOW_MS = 60_000;

let samples = [];   // { at: ms on the server's clock, id: readings.last_id }, oldest first
let generation = 0;

// A tile list: each term with its count, the status colour class when there is one.
function tiles(el, entries) {
  el.replaceChildren(...entries.flatMap(([term, count, status]) => [
    h('dt', {}, h('span', { className: status ? `status status-${status}` : '' }, term)),
    h('dd', { dataset: { count: String(count) } }, count.toLocaleString()),
  ]));
}

function noteReadings(at, id) {
  samples.push({ at, id });
  while (samples.length > 2 && at - samples[1].at >= RATE_WINDOW_MS) samples.shift();
  const first = samples[0];
  const span = at - first.at;
  if (span <= 0) return null;
  return Math.round(((id - first.id) * 60_000) / span);
}

function render(o) {
  tiles($('fleet-liveness'), LIVENESS.map((l) => [l, o.by_liveness[l], l]));
  tiles($('fleet-state'), Object.entries(STATES).map(([state, label]) => [label, o.by_state[state], state]));
  $('fleet-firmware-panel').hidden = !o.by_firmware;
  if (o.by_firmware) tiles($('fleet-firmware'), Object.entries(o.by_firmware).map(([fw, n]) => [fw, n]));
  const rate = noteReadings(Date.parse(o.at), o.readings.last_id);
  $('fleet-rate').textContent = rate === null ? 'measuring…' : rate.toLocaleString();
  $('fleet-rate').dataset.count = rate === null ? '' : String(rate);
  $('fleet-offline').replaceChildren(...o.recently_offline.map((d) => h('li', { dataset: { deviceid: d.deviceid } },
    h('a', { href: `#/devices/${d.deviceid}` }, d.name || d.deviceid), ' offline since ', timeAgo(d.offline_since),
    h('span', { className: 'muted' }, ` (last seen ${new Date(d.lastseen).toLocaleString()})`))));
  $('fleet-offline-empty').hidden = o.recently_offline.length > 0;
}

export async function refresh() {
  const mine = generation;
  try {
    const { json } = await api('GET', '/api/overview');
    if (mine !== generation) return;
    say($('fleet-message'), '');
    render(json);
  } catch (err) {
    if (mine === generation) say($('fleet-message'), `The overview could not be loaded: ${err.message}`, 'error');
  }
}

export function enter() {
  generation++;
  samples = [];
  return refresh();
}
