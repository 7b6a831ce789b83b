// The configuration editor: a device's `data` object as property / type / value rows, read
// back into JSON with every value checked first, so nothing malformed is ever sent.
import { $, h } from './dom.js';

const TYPES = { number: 'number', text: 'text', boolean: 'true/false', json: 'JSON' };
let serial = 0;   // makes every row's control ids unique, for their labels

function typeOf(value) {
  if (typeof value === 'number') return 'number';
  if (typeof value === 'string') return 'text';
  if (typeof value === 'boolean') return 'boolean';
  return 'json';
}

// The text a value shows in its control, for its type.
function valueText(value, type) {
  if (type === 'text') return value;
  return JSON.stringify(value);
}

function labelled(text, control) {
  return [h('label', { className: 'visually-hidden', htmlFor: control.id }, text), control];
}

function valueControl(type, text, id) {
  if (type === 'boolean') {
    const select = h('select', { id, className: 'config-value' },
      h('option', { value: 'true' }, 'true'), h('option', { value: 'false' }, 'false'));
    select.value = text === 'false' ? 'false' : 'true';
    return select;
  }
  if (type === 'json') return h('textarea', { id, className: 'config-value', rows: 1, value: text, spellcheck: false });
  return h('input', { id, className: 'config-value', value: text, spellcheck: false,
    inputMode: type === 'number' ? 'decimal' : 'text', autocomplete: 'off' });
}

function showEmpty() {
  const empty = $('config-rows').rows.length === 0;
  $('config-empty').hidden = !empty;
  $('config-wrap').hidden = empty;
}

function addRow(name = '', value = '') {
  const n = ++serial;
  const type = typeOf(value);
  const nameInput = h('input', { id: `cfg-name-${n}`, className: 'config-name', value: name, maxLength: 256,
    spellcheck: false, autocomplete: 'off' });
  const typeSelect = h('select', { id: `cfg-type-${n}`, className: 'config-type' },
    ...Object.entries(TYPES).map(([v, text]) => h('option', { value: v }, text)));
  typeSelect.value = type;
  const valueCell = h('td', {}, ...labelled('Value', valueControl(type, valueText(value, type), `cfg-value-${n}`)));
  const remove = h('button', { type: 'button', className: 'config-remove' }, 'Remove',
    h('span', { className: 'visually-hidden' }, ' this property'));
  const tr = h('tr', {},
    h('td', {}, ...labelled('Property name', nameInput)),
    h('td', {}, ...labelled('Type', typeSelect)),
    valueCell,
    h('td', {}, remove));

  // A new type keeps what was typed where it can ("30" stays "30" from text to number).
  typeSelect.addEventListener('change', () => {
    const old = valueCell.querySelector('.config-value');
    const control = valueControl(typeSelect.value, old.value, old.id);
    old.replaceWith(control);
  });
  remove.addEventListener('click', () => {
    const next = tr.nextElementSibling ?? tr.previousElementSibling;
    tr.remove();
    showEmpty();
    (next?.querySelector('.config-name') ?? $('config-add')).focus();
    markDirty();
  });
  $('config-rows').append(tr);
  showEmpty();
  return tr;
}

export const editor = { dirty: false };
function markDirty() {
  editor.dirty = true;
}

// Shows a configuration; false when it is not a JSON object (it is then shown as no rows).
export function showConfig(data) {
  $('config-rows').replaceChildren();
  const isObject = data !== null && typeof data === 'object' && !Array.isArray(data);
  for (const [name, value] of Object.entries(isObject ? data : {})) addRow(name, value);
  showEmpty();
  editor.dirty = false;
  return isObject;
}

function readValue(type, text) {
  if (type === 'text') return { value: text };
  if (type === 'boolean') return { value: text === 'true' };
  if (type === 'number') {
    const value = Number(text.trim());
    return text.trim() !== '' && Number.isFinite(value) ? { value } : { error: 'is not a number' };
  }
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { error: 'is not valid JSON' };
  }
}

// The rows as an object, or { error, control } naming the first thing wrong.
export function readConfig() {
  const data = {};
  for (const control of $('config-rows').querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
  for (const tr of $('config-rows').rows) {
    const nameInput = tr.querySelector('.config-name');
    const name = nameInput.value.trim();
    if (!name) return { error: 'Every property needs a name.', control: nameInput };
    if (Object.hasOwn(data, name)) return { error: `Property "${name}" appears twice.`, control: nameInput };
    const control = tr.querySelector('.config-value');
    const { value, error } = readValue(tr.querySelector('.config-type').value, control.value);
    if (error) return { error: `The value of "${name}" ${error}.`, control };
    data[name] = value;
  }
  return { data };
}

$('config-add').addEventListener('click', () => {
  addRow().querySelector('.config-name').focus();
  markDirty();
});
$('config-rows').addEventListener('input', markDirty);
$('config-rows').addEventListener('change', markDirty);
