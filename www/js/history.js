// A device's history on its page: the audit entries for the device (GET /api/audit?device=),
// newest first, a page at a time with the Link cursor. Each change reads as what it changed:
// "name: porch → door", "data.led: 1 → 2"; a key's change never shows the key (it is not kept).
import { $, h, say } from './dom.js';
import { api, nextCursor } from './api.js';
import { exactTime, timeAgo } from './format.js';

const PAGE = 20;
const ACTIONS = {
  'device.create': 'created', 'device.update': 'changed', 'device.delete': 'deleted', 'device.key': 'new key',
};

let deviceId = null;
let cursors = [null];   // the `after` of each page seen; page n starts after cursors[n]
let page = 0;
let generation = 0;

const show = (v) => (v === undefined ? '–' : JSON.stringify(v));

// The differences of two JSON values as "path: old → new" lines, objects walked key by key.
function differences(before, after, path = '') {
  const objects = [before, after].every((v) => v && typeof v === 'object' && !Array.isArray(v));
  if (!objects) return JSON.stringify(before) === JSON.stringify(after) ? [] : [`${path}: ${show(before)} → ${show(after)}`];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  return keys.flatMap((k) => differences(before[k], after[k], path ? `${path}.${k}` : k));
}

function changeText(e) {
  if (e.before && e.after) {
    const lines = differences(e.before, e.after);
    return lines.length ? lines : ['no change'];
  }
  const only = e.after ?? e.before;
  if (!only) return [];
  return Object.entries(only).map(([k, v]) => `${k}: ${show(v)}`);
}

function entryRow(e) {
  const who = e.via === 'api' ? `${e.actor} (token)` : `${e.actor} (provctl)`;
  return h('tr', { dataset: { id: String(e.id), action: e.action } },
    h('td', {}, timeAgo(e.at), h('span', { className: 'visually-hidden' }, ` ${exactTime(e.at)}`)),
    h('td', {}, who),
    h('td', {}, ACTIONS[e.action] ?? e.action),
    h('td', { className: 'change' }, ...changeText(e).flatMap((line, i) => (i ? [h('br'), line] : [line]))));
}

async function load() {
  const mine = ++generation;
  const params = new URLSearchParams({ device: deviceId, limit: String(PAGE) });
  if (cursors[page]) params.set('after', cursors[page]);
  try {
    const { json, headers } = await api('GET', `/api/audit?${params}`);
    if (mine !== generation) return;
    cursors[page + 1] = nextCursor(headers);
    $('history-table').tBodies[0].replaceChildren(...json.map(entryRow));
    $('history-empty').hidden = json.length > 0 || page > 0;
    $('history-older').hidden = !cursors[page + 1];
    $('history-newer').hidden = page === 0;
    say($('history-message'), '');
  } catch (err) {
    if (mine === generation) say($('history-message'), `The history could not be loaded: ${err.message}`, 'error');
  }
}

$('history-older').addEventListener('click', () => {
  page++;
  load();
});
$('history-newer').addEventListener('click', () => {
  page = 0;
  load();
});

export function enter(id) {
  deviceId = id;
  cursors = [null];
  page = 0;
  $('history-table').tBodies[0].replaceChildren();
  return load();
}

// A refresh shows new changes on the first page; an older page stays as it is.
export function refresh() {
  return page === 0 ? load() : null;
}

export function leave() {
  generation++;
}
