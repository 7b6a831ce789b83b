// The admin page's entry point: sign-in and sign-out, the routes (#/ the fleet overview and the
// device list, #/devices/ID one device), the fleet counts, and the auto-refresh timer.
import { $, ageFlash, say } from './dom.js';
import { api, session } from './api.js';
import * as listView from './list.js';
import * as overview from './overview.js';
import * as rollouts from './rollouts.js';
import * as deviceView from './device.js';
import './bulk.js';

const VIEWS = ['signin-view', 'list-view', 'device-view'];
let current = null;   // the module of the view on screen (list or device), null when signed out
let timer = 0;

function showOnly(viewId) {
  for (const id of VIEWS) $(id).hidden = id !== viewId;
  const signedIn = viewId !== 'signin-view';
  $('counts').hidden = !signedIn;
  $('session').hidden = !signedIn;
}

function showSignIn(message = '') {
  current?.leave();
  current = null;
  showOnly('signin-view');
  say($('signin-error'), message, message ? 'error' : '');
  $('token').focus();
}

async function refreshCounts() {
  try {
    const { json } = await api('GET', '/api/stats');
    for (const name of ['devices', 'online', 'pending', 'readings'])
      $(`count-${name}`).textContent = json[name].toLocaleString();
  } catch { /* the view on screen reports the failure; the counts just stay as they were */ }
}

async function route() {
  if (!session.token()) {
    showSignIn();
    return;
  }
  const match = location.hash.match(/^#\/devices\/([^/]+)$/);
  current?.leave();
  current = match ? deviceView : listView;
  showOnly(match ? 'device-view' : 'list-view');
  $('main').focus();
  await Promise.all([current.enter(match?.[1]), refreshCounts(), match ? null : overview.enter(),
    match ? null : rollouts.enter()]);
}

// One refresh of the view on screen and of the counts, then the next is scheduled; nothing
// runs while the tab is hidden.
async function tick() {
  try {
    if (current && !document.hidden)
      await Promise.all([current.refresh(), refreshCounts(), current === listView ? overview.refresh() : null,
        current === listView ? rollouts.refresh() : null]);
  } finally {
    schedule();
  }
}

function schedule() {
  clearTimeout(timer);
  const every = Number($('refresh-every').value);
  if (every > 0) timer = setTimeout(tick, every);
}

$('signin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = $('token').value.trim();
  say($('signin-error'), 'Checking the token…');
  try {
    await api('GET', '/api/stats', { token });
  } catch (err) {
    say($('signin-error'), err.status === 401
      ? 'That token was not accepted. Check that you copied all of it, or make a new one with provctl.'
      : `Cannot sign in: ${err.message}`, 'error');
    $('token').select();
    return;
  }
  session.signIn(token);
  $('token').value = '';
  say($('signin-error'), '');
  await route();
});

// Signing out reloads the page, so nothing a signed-in person saw stays in memory or the DOM.
$('sign-out').addEventListener('click', () => {
  session.signOut();
  location.hash = '#/';
  location.reload();
});

window.addEventListener('provd:unauthorized', () => {
  if (!session.token()) return;   // a token being tried on the sign-in form
  session.signOut();
  showSignIn('The server no longer accepts your token (revoked?). Sign in again.');
});

window.addEventListener('hashchange', () => {
  ageFlash();
  route();
});
$('refresh-every').addEventListener('change', schedule);

route();
schedule();
