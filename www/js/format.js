// How device facts read on the page: status (one word and a colour class), relative times
// with the exact time for hover, and whether a device has applied its configuration.
import { h } from './dom.js';
import { serverNow } from './api.js';

// An admin's decision outranks liveness: a pending or rejected device says so first.
export function deviceStatus(d) {
  return d.state === 'accepted' ? d.liveness : d.state;
}

// The status as a word with its colour (the class), the state and liveness on hover.
export function statusBadge(d) {
  const status = deviceStatus(d);
  return h('span', { className: `status status-${status}`, title: `${d.state}, ${d.liveness}` }, status);
}

// Units and how many of each make the next one.
const UNITS = [['s', 60], ['min', 60], ['h', 24], ['d', Infinity]];

function relative(iso) {
  const seconds = Math.round((serverNow() - Date.parse(iso)) / 1000);
  let n = Math.abs(seconds);
  let i = 0;
  while (n >= UNITS[i][1]) n = Math.floor(n / UNITS[i++][1]);
  const text = `${n} ${UNITS[i][0]}`;
  return seconds < 0 ? `in ${text}` : `${text} ago`;
}

export function exactTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return `${d.toLocaleString()} (${iso})`;
}

// A <time> reading "12 s ago", the exact time on hover.
export function timeAgo(iso) {
  if (!iso) return h('span', { className: 'muted' }, 'never');
  return h('time', { dateTime: iso, title: exactTime(iso) }, relative(iso));
}

export function configSync(d) {
  const inSync = d.cfgsn_applied === d.cfgsn;
  return h('span', { className: inSync ? 'sync in-sync' : 'sync waiting',
    title: inSync ? `the device runs configuration ${d.cfgsn}`
      : `the device has not yet reported applying configuration ${d.cfgsn}` },
  `#${d.cfgsn} `, inSync ? 'in sync' : 'waiting');
}

// What a device runs and, while one is assigned, the update: "1.0 → 2.0 downloading".
export function firmwareSummary(d) {
  const running = d.firmware_running ?? 'unknown';
  if (!d.firmware) return h('span', { className: d.firmware_running ? '' : 'muted' }, running);
  return h('span', { title: `runs ${running}; assigned ${d.firmware}, ${d.firmware_status}` },
    d.firmware_status === 'installed' ? running : `${running} → ${d.firmware} `,
    h('span', { className: `fw fw-${d.firmware_status}` }, d.firmware_status));
}
