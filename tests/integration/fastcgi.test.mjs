// provd's FastCGI side as nginx sees it: a client speaking the protocol on the workers' own
// Unix socket. Its records are written here by hand: the test needs four record types and a
// socket it can keep half open after the answer, which a ready-made client would hide.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startStack } from './lib/stack.mjs';

const BEGIN_REQUEST = 1, END_REQUEST = 3, PARAMS = 4, STDIN = 5, STDOUT = 6;
const REQUEST_ID = 1;

function record(type, content = Buffer.alloc(0)) {
  const head = Buffer.from([1, type, REQUEST_ID >> 8, REQUEST_ID & 0xff, content.length >> 8, content.length & 0xff, 0, 0]);
  return Buffer.concat([head, content]);
}

// Name-value pairs with short names and values (one length byte each).
function params(pairs) {
  return Buffer.concat(Object.entries(pairs).map(([name, value]) =>
    Buffer.concat([Buffer.from([name.length, value.length]), Buffer.from(name), Buffer.from(value)])));
}

function parseRecords(bytes) {
  const records = [];
  for (let at = 0; at + 8 <= bytes.length;) {
    const length = bytes.readUInt16BE(at + 4), padding = bytes[at + 6];
    records.push({ type: bytes[at + 1], content: bytes.subarray(at + 8, at + 8 + length) });
    at += 8 + length + padding;
  }
  return records;
}

let stack;
before(async () => { stack = await startStack({ workers: 1 }); });
after(async () => { await stack?.stop(); });

describe('FastCGI connection', () => {
  it('the worker answers, then closes the connection itself without waiting for the web server', async () => {
    const socket = net.createConnection({ path: path.join(stack.dataDir, 'run/provd.sock'), allowHalfOpen: true });
    const received = [];
    socket.on('data', (chunk) => received.push(chunk));
    const ended = new Promise((resolve, reject) => { socket.once('end', resolve); socket.once('error', reject); });
    socket.write(Buffer.concat([
      record(BEGIN_REQUEST, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0])), // responder, no keep-alive
      record(PARAMS, params({ REQUEST_METHOD: 'GET', DOCUMENT_URI: '/api/health', QUERY_STRING: '' })),
      record(PARAMS), record(STDIN),
    ]));
    await ended;

    const records = parseRecords(Buffer.concat(received));
    const stdout = Buffer.concat(records.filter((r) => r.type === STDOUT).map((r) => r.content)).toString();
    assert.match(stdout, /^Status: 200/m);
    assert.match(stdout, /"status":\s*"ok"/i);
    assert.equal(records.at(-1).type, END_REQUEST, 'the answer ends with END_REQUEST');

    // libfcgi's own way only shuts down its sending side here, then reads (and drops) whatever
    // comes until the web server hangs up, for up to 2 s: a write would still be taken.
    const refused = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), 1500);
      socket.once('error', (err) => { clearTimeout(timer); resolve(err.code); });
      socket.write(Buffer.from([0]));
    });
    socket.destroy();
    assert.ok(['EPIPE', 'ECONNRESET'].includes(refused), `the worker's end was still open (got ${refused})`);
  });
});
