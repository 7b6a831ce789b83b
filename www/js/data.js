// A device's data: every numeric field of its readings over a chosen range, plotted with
// uPlot (raw readings for short ranges, the server's ?bucket= averages for long ones), the
// latest readings as a table, and the range as a CSV download.
import { $, h, say } from './dom.js';
import { api, apiBlob, devicePath, nextCursor, serverNow } from './api.js';
import { exactTime } from './format.js';

const RAW_RANGE_MAX = 2 * 3600;   // seconds; a longer range is read as bucket averages
const BUCKETS = 720;              // about this many points per series for a bucketed range
const PAGE = 10000;               // readings per request (the server's maximum)
const RAW_PAGES_MAX = 10;         // so one plot reads at most 100,000 readings
const LATEST = 20;                // rows in the latest readings table
const TABLE_FIELDS_MAX = 12;      // reading fields shown as columns there
const PLOT_HEIGHT = 320;
const PALETTE = ['#1a5fb4', '#c01c28', '#26a269', '#e66100', '#613583', '#865e3c', '#1c71d8', '#a51d2d'];

let deviceId = null;
let plot = null;        // the uPlot instance, while its fields stay the same
let plotFields = '';
let shown = null;       // { min, max }: the chosen range in seconds, what the time axis spans
let generation = 0;
let uPlotModule = null;

// Every leaf of a reading by its dotted path ("data.value", "list.0"), as the server's CSV
// export and bucket statistics name them; SEQN and ts are not fields.
function leaves(value, path = '', out = new Map()) {
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (!path && (key === 'SEQN' || key === 'ts')) continue;
      leaves(child, path ? `${path}.${key}` : key, out);
    }
  } else if (path) {
    out.set(path, value);
  }
  return out;
}

const isoSeconds = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// The chosen range as ISO times, or { error }. A last-N range has no end, so a reading that
// arrives as it is asked for is not cut off by a clock a second behind.
function chosenRange() {
  const choice = $('range').value;
  if (choice !== 'custom') {
    const seconds = Number(choice);
    return { since: isoSeconds(serverNow() - seconds * 1000), seconds };
  }
  const from = Date.parse($('range-from').value);
  const to = Date.parse($('range-to').value);
  if (Number.isNaN(from) || Number.isNaN(to)) return { error: 'Choose both ends of the custom range.' };
  if (from >= to) return { error: 'The start of the range must be before its end.' };
  return { since: isoSeconds(from), until: isoSeconds(to), seconds: (to - from) / 1000 };
}

// The time axis' span for a range: its ends in seconds (a last-N range ends now).
function axisSpan(range) {
  return { min: Date.parse(range.since) / 1000, max: (range.until ? Date.parse(range.until) : serverNow()) / 1000 };
}

// The x scale's range: the chosen range, unless the operator zoomed in. uPlot asks with the
// readings' first and last time when it ranges the axis by itself (on new data, on a double-click
// that zooms out), and would span just those; when they are one time it makes that "a day" later,
// counted in milliseconds on an axis in seconds: 1000 days. A zoom asks with the dragged span.
function timeRange(u, min, max) {
  const xs = u.data[0];
  const first = xs[0];
  const last = xs[xs.length - 1];
  const byItself = min == null || (min === first && (max === last || first === last));
  return byItself && shown ? [shown.min, shown.max] : [min, max];
}

// The range as query parameters, with more of them.
function rangeParams(range, more) {
  const params = new URLSearchParams({ since: range.since, ...more });
  if (range.until) params.set('until', range.until);
  return params;
}

function describeRange(range) {
  if (!range.until) return `in the ${$('range').selectedOptions[0].textContent.toLowerCase()}`;
  return `from ${exactTime(range.since)} to ${exactTime(range.until)}`;
}

const bucketSeconds = (range) => Math.max(1, Math.ceil(range.seconds / BUCKETS));

// Points { t, numbers } in time order (SEQN order is not time order after a SEQN reset),
// and whether readings were left out past RAW_PAGES_MAX pages.
async function rawSeries(range) {
  const readings = [];
  let after = null;
  for (let page = 0; page < RAW_PAGES_MAX && (page === 0 || after); page++) {
    const params = rangeParams(range, { order: 'asc', limit: PAGE });
    if (after) params.set('after', after);
    const { json, headers } = await api('GET', devicePath(deviceId, `/telemetry?${params}`));
    readings.push(...json);
    after = nextCursor(headers);
  }
  const points = readings.map((r) => {
    const numbers = new Map([...leaves(r.reading)].filter(([, v]) => typeof v === 'number'));
    return { t: Date.parse(r.received_at) / 1000, numbers };
  });
  return { points: points.sort((a, b) => a.t - b.t), truncated: Boolean(after) };
}

async function bucketSeries(range) {
  const params = rangeParams(range, { bucket: bucketSeconds(range) });
  const { json } = await api('GET', devicePath(deviceId, `/telemetry?${params}`));
  const points = json.map((b) => ({
    t: Date.parse(b.start) / 1000,
    numbers: new Map(Object.entries(b.fields).map(([field, stat]) => [field, stat.avg])),
  }));
  return { points, truncated: false };
}

// uPlot's columns: times, then one array per field (null where a point lacks it).
function columns(points) {
  const fields = [...new Set(points.flatMap((p) => [...p.numbers.keys()]))].sort();
  const data = [points.map((p) => p.t), ...fields.map((f) => points.map((p) => p.numbers.get(f) ?? null))];
  return { fields, data };
}

async function loadUPlot() {
  uPlotModule ??= (await import('../vendor/uPlot.esm.js')).default;
  return uPlotModule;
}

function destroyPlot() {
  plot?.destroy();
  plot = null;
  plotFields = '';
}

// span: the chosen range, which the time axis shows (axisSpan()).
function drawPlot(uPlot, fields, data, bucketed, span) {
  const key = `${bucketed}|${fields.join('\n')}`;
  if (plot && key === plotFields) {
    // A person who zoomed in keeps the zoom while new points arrive.
    const zoomed = plot.scales.x.min !== shown.min || plot.scales.x.max !== shown.max;
    shown = span;
    plot.setData(data, !zoomed);
    return;
  }
  destroyPlot();
  shown = span;
  plotFields = key;
  plot = new uPlot({
    width: Math.max(200, $('plot').clientWidth),
    height: PLOT_HEIGHT,
    scales: { x: { time: true, range: timeRange } },
    // The axis' span in the page, for whoever reads it without looking at the canvas (the tests).
    hooks: {
      setScale: [(u, key) => {
        if (key !== 'x') return;
        $('plot').dataset.xMin = String(u.scales.x.min);
        $('plot').dataset.xMax = String(u.scales.x.max);
      }],
    },
    series: [
      { label: 'Time' },
      ...fields.map((field, i) => ({
        label: bucketed ? `${field} (average)` : field,
        stroke: PALETTE[i % PALETTE.length],
        width: 2,
        spanGaps: true,
      })),
    ],
  }, data, $('plot'));
}

async function loadPlot() {
  const mine = generation;
  const range = chosenRange();
  if (range.error) {
    say($('data-message'), range.error, 'error');
    return;
  }
  updateCsvLink(range);
  const bucketed = range.seconds > RAW_RANGE_MAX;
  try {
    const [uPlot, { points, truncated }] = await Promise.all([loadUPlot(),
      bucketed ? bucketSeries(range) : rawSeries(range)]);
    if (mine !== generation) return;
    const { fields, data } = columns(points);
    say($('data-message'), '');
    if (fields.length === 0) {
      destroyPlot();
      $('plot-summary').textContent = `No numeric readings ${describeRange(range)}.`;
      $('plot').setAttribute('aria-label', 'No readings to plot');
      return;
    }
    drawPlot(uPlot, fields, data, bucketed, axisSpan(range));
    const what = bucketed ? `${points.length} averages of ${bucketSeconds(range)} s each`
      : `${points.length} readings${truncated ? ' (the first ones: choose a shorter range for the rest)' : ''}`;
    $('plot-summary').textContent = `${what} ${describeRange(range)}. Drag across the plot to zoom, double-click to zoom out.`;
    $('plot').setAttribute('aria-label', `Plot of ${fields.join(', ')} ${describeRange(range)}`);
  } catch (err) {
    if (mine === generation) say($('data-message'), `The readings could not be loaded: ${err.message}`, 'error');
  }
}

function cellText(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

async function loadLatest() {
  const mine = generation;
  try {
    const { json } = await api('GET', devicePath(deviceId, `/telemetry?limit=${LATEST}`));
    if (mine !== generation) return;
    const rows = json.map((r) => ({ r, fields: leaves(r.reading) }));
    const fields = [...new Set(rows.flatMap((row) => [...row.fields.keys()]))].slice(0, TABLE_FIELDS_MAX);
    const table = $('readings-table');
    table.tHead.replaceChildren(h('tr', {},
      ...['SEQN', 'Received', 'Device time', ...fields].map((f) => h('th', { scope: 'col' }, f))));
    table.tBodies[0].replaceChildren(...rows.map(({ r, fields: values }) => h('tr', {},
      h('td', {}, String(r.seqn)),
      h('td', { title: r.received_at }, new Date(r.received_at).toLocaleString()),
      h('td', { title: r.ts ?? '' }, r.ts ? new Date(r.ts).toLocaleString() : '–'),
      ...fields.map((f) => h('td', {}, values.has(f) ? cellText(values.get(f)) : '')))));
    $('readings-wrap').hidden = rows.length === 0;
    $('readings-empty').hidden = rows.length > 0;
  } catch (err) {
    if (mine === generation) say($('readings-empty'), `The latest readings could not be loaded: ${err.message}`, 'error');
  }
}

function updateCsvLink(range) {
  const params = rangeParams(range, { format: 'csv' });
  $('csv-link').href = devicePath(deviceId, `/telemetry?${params}`);
}

// The export needs the Authorization header, which a plain link cannot send: fetch it and
// hand the browser the file.
$('csv-link').addEventListener('click', async (event) => {
  event.preventDefault();
  const range = chosenRange();
  if (range.error) {
    say($('data-message'), range.error, 'error');
    return;
  }
  updateCsvLink(range);
  try {
    const { blob, name } = await apiBlob($('csv-link').getAttribute('href'));
    const url = URL.createObjectURL(blob);
    h('a', { href: url, download: name ?? `${deviceId}-telemetry.csv` }).click();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    say($('data-message'), `The CSV could not be downloaded: ${err.message}`, 'error');
  }
});

$('range').addEventListener('change', () => {
  const custom = $('range').value === 'custom';
  for (const el of document.querySelectorAll('[data-custom]')) el.hidden = !custom;
  if (custom && !$('range-from').value) {
    const pad = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 19);
    $('range-to').value = pad(Date.now());
    $('range-from').value = pad(Date.now() - 86400000);
  }
  if (!custom) loadPlot();
});
$('range-form').addEventListener('submit', (event) => {
  event.preventDefault();
  loadPlot();
});

// The plot follows its box's width (a phone turned, a window resized), on the next frame so
// that resizing the plot never re-enters the observer.
new ResizeObserver(() => requestAnimationFrame(() => {
  const width = $('plot').clientWidth;
  if (plot && width > 0 && width !== plot.width) plot.setSize({ width, height: PLOT_HEIGHT });
})).observe($('plot'));

export function enter(id) {
  leave();
  deviceId = id;
  say($('data-message'), '');
  $('plot-summary').textContent = '';
  say($('readings-empty'), 'No readings yet.');
  $('readings-table').tHead.replaceChildren();
  $('readings-table').tBodies[0].replaceChildren();
  return Promise.all([loadPlot(), loadLatest()]);
}

// A custom range is fixed: only the latest readings move. A last-N range moves with time.
export function refresh() {
  return Promise.all([$('range').value === 'custom' ? null : loadPlot(), loadLatest()]);
}

export function leave() {
  generation++;
  destroyPlot();
}
