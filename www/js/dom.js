// Small DOM helpers. Text always goes in through textContent (device names and configuration
// values are attacker-controlled), never through innerHTML.

export const $ = (id) => document.getElementById(id);

// h('td', {className: 'x', title: 't'}, 'text', childNode): properties are set on the element
// (never attributes that parse markup); strings become text nodes.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'dataset') Object.assign(el.dataset, value);
    else el[key] = value;
  }
  el.append(...children.filter((c) => c !== null && c !== undefined));
  return el;
}

// Shows a message in an element, with a class telling its kind ('ok', 'error' or '').
export function say(el, text, kind = '') {
  el.textContent = text;
  el.classList.toggle('ok', kind === 'ok');
  el.classList.toggle('error', kind === 'error');
}

// Asks a yes/no question in the page's <dialog>: resolves true when the person confirms.
export function confirmAction({ title, text, ok }) {
  const dialog = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = ok;
  dialog.returnValue = '';
  dialog.showModal();
  $('confirm-cancel').focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

// A page-level notice ("Device deleted") that stays through the one change of view that
// follows it, and is gone after the next.
export function flash(text) {
  const el = $('flash');
  el.textContent = text;
  el.hidden = !text;
  el.dataset.fresh = text ? 'yes' : '';
}

export function ageFlash() {
  const el = $('flash');
  if (el.dataset.fresh) el.dataset.fresh = '';
  else flash('');
}
