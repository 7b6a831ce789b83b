// The JSON API client: sends the admin token kept in sessionStorage, turns error bodies into
// ApiError, and tracks the server's clock so relative times do not depend on this computer's.

const TOKEN_KEY = 'provd.admin-token';
const DEVICE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

let clockOffset = 0;
// Now on the server's clock, in milliseconds.
export const serverNow = () => Date.now() + clockOffset;

function noteServerClock(headers) {
  const date = Date.parse(headers.get('Date') ?? '');
  if (!Number.isNaN(date)) clockOffset = date - Date.now();
}

// Ids are checked before they reach a URL: their characters need no escaping in a path, and
// "." or ".." would be resolved away by the URL parser.
export const isDeviceId = (id) => DEVICE_ID.test(id) && !/^\.\.?$/.test(id);

export function devicePath(id, rest = '') {
  if (!isDeviceId(id)) throw new ApiError(400, `not a device id: ${id}`);
  return `/api/devices/${id}${rest}`;
}

// body: sent as JSON; bytes (a File or Blob): sent as they are, application/octet-stream.
async function request(method, path, { body, bytes, ifMatch, token = session.token() } = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (bytes !== undefined) headers['Content-Type'] = 'application/octet-stream';
  if (ifMatch !== undefined) headers['If-Match'] = `"${ifMatch}"`;
  let res;
  try {
    res = await fetch(path, { method, headers, body: bytes ?? (body === undefined ? undefined : JSON.stringify(body)) });
  } catch {
    throw new ApiError(0, 'the server cannot be reached: check the network or that provd is running');
  }
  noteServerClock(res.headers);
  if (res.ok) return res;
  let message = `${res.status} ${res.statusText}`;
  try {
    const json = await res.json();
    if (typeof json.message === 'string') message = json.message;
  } catch { /* an error without a JSON body: keep the status line */ }
  if (res.status === 401) window.dispatchEvent(new CustomEvent('provd:unauthorized'));
  throw new ApiError(res.status, message);
}

// One call answering JSON: { json, headers }. 204 gives json === undefined.
export async function api(method, path, options) {
  const res = await request(method, path, options);
  return { json: res.status === 204 ? undefined : await res.json(), headers: res.headers };
}

// A call whose answer is a file (the CSV export), with its suggested name.
export async function apiBlob(path) {
  const res = await request('GET', path);
  const disposition = res.headers.get('Content-Disposition') ?? '';
  const name = disposition.match(/filename="([^"]+)"/)?.[1];
  return { blob: await res.blob(), name };
}

// The `after` cursor of a Link: <...>; rel="next" header, or null on the last page.
export function nextCursor(headers) {
  const link = headers.get('Link') ?? '';
  const target = link.match(/<([^>]+)>\s*;\s*rel="next"/)?.[1];
  return target ? new URL(target, location.origin).searchParams.get('after') : null;
}
