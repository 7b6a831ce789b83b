// A keyed device's side of device trust, written from ARCHITECTURE.md "Device trust" with Node's
// crypto alone (independent of lib/device_auth.c): the X-Provd-Auth proof on a call and the
// opening of a sealed configuration.
import crypto from 'node:crypto';

const hmac = (key, text) => crypto.createHmac('sha256', key).update(text).digest();
// What keys are derived from: the AES key's bytes when the secret is 32, 48 or 64 hex digits,
// else the secret's text (a passphrase).
const keyOf = (secret) => (/^([0-9a-fA-F]{32}|[0-9a-fA-F]{48}|[0-9a-fA-F]{64})$/.test(secret) ? Buffer.from(secret, 'hex') : secret);

// The proof header for method on target (path and query, as sent) with body at time t.
export function proof(secret, method, target, body, t) {
  const key = hmac(keyOf(secret), 'provd device auth 1');
  const digest = crypto.createHash('sha256').update(body ?? '').digest('hex');
  return `1:${t}:${hmac(key, `provd-auth-1\n${method}\n${target}\n${digest}\n${t}`).toString('hex')}`;
}

export const now = () => Math.floor(Date.now() / 1000);

// One signed device call through stack.api; opts.t overrides the time, opts.header the proof.
export function signedCall(stack, secret, method, target, { body, t = now(), headers = {} } = {}) {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const h = { ...headers, 'X-Provd-Auth': proof(secret, method, target, text, t) };
  if (text !== undefined) h['Content-Type'] = 'application/json';
  return stack.api(method, target, { body: text, headers: h });
}

// The configuration inside a heartbeat's "sealed" (AES-128-GCM under HMAC(key, "provd config
// seal 1")[0..16), associated data "<id>/config/<cfgsn>"); throws when it is not authentic.
export function openSealed(secret, id, cfgsn, sealed) {
  const key = hmac(keyOf(secret), 'provd config seal 1').subarray(0, 16);
  const data = Buffer.from(sealed.data, 'base64');
  const decipher = crypto.createDecipheriv('aes-128-gcm', key, Buffer.from(sealed.nonce, 'base64'));
  decipher.setAAD(Buffer.from(`${id}/config/${cfgsn}`));
  decipher.setAuthTag(data.subarray(data.length - 16));
  return JSON.parse(Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]));
}
