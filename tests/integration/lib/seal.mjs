// The v2 telemetry envelope sealed with Node's crypto (AES-GCM; associated data the device id,
// and "#<epoch>" after it once an admin's seqn_reset began epoch 1, 2, ...), for the tests that
// post readings.
import crypto from 'node:crypto';

export function v2(json, keyHex, id, epoch = 0) {
  const key = Buffer.from(keyHex, 'hex');
  const nonce = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv(key.length === 16 ? 'aes-128-gcm' : 'aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(epoch ? `${id}#${epoch}` : id));
  const ct = Buffer.concat([cipher.update(json, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { v: 2, nonce: nonce.toString('base64'), data: ct.toString('base64') };
}
