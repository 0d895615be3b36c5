// Consent telemetry (web/src/telemetry.js): nothing leaves the device without
// consent === true and an endpoint (checked with a stubbed fetch and with a real
// loopback server that counts requests), text is never stored, erase works.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, beforeEach, test } from 'node:test';
import { Telemetry } from '../../web/src/telemetry.js';

const realFetch = globalThis.fetch;
let server, endpoint;
const received = []; // request bodies the server saw

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, body });
      res.writeHead(req.url === '/fail' ? 500 : 204).end();
    });
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  endpoint = `http://127.0.0.1:${server.address().port}/collect`;
});
after(() => new Promise((done) => { server.closeAllConnections(); server.close(done); }));
beforeEach(() => { received.length = 0; });

// Replaces globalThis.fetch for the duration of fn, counting every call.
async function withCountingFetch(fn) {
  const calls = [];
  globalThis.fetch = async (...args) => { calls.push(args); return realFetch(...args); };
  try {
    await fn();
  } finally {
    globalThis.fetch = realFetch;
  }
  return calls;
}

function localStorageLike() {
  const items = {};
  return {
    items,
    getItem: (key) => (key in items ? items[key] : null),
    setItem: (key, value) => { items[key] = String(value); },
    removeItem: (key) => { delete items[key]; },
  };
}

const sample = { name: 'generate', latencyMs: 812, tokensPerSecond: 41.5, route: 'local', memoryBytes: 52428800 };

test('no consent: flush makes no request, even with an endpoint (stubbed fetch and a real server)', async () => {
  const calls = await withCountingFetch(async () => {
    for (const options of [{ endpoint }, { consent: false, endpoint }, { consent: 'yes', endpoint }, { consent: 1, endpoint }, {}]) {
      const telemetry = new Telemetry(options);
      telemetry.record(sample);
      assert.equal((await telemetry.flush()).sent, 0);
      assert.equal(telemetry.view().length, 1, 'events stay on the device');
    }
  });
  assert.equal(calls.length, 0, 'fetch was called without consent');
  assert.equal(received.length, 0, 'the server got a request without consent');
});

test('consent without an endpoint sends nothing either', async () => {
  const calls = await withCountingFetch(async () => {
    const telemetry = new Telemetry({ consent: true });
    telemetry.record(sample);
    assert.deepEqual(await telemetry.flush(), { sent: 0, reason: 'no-endpoint' });
  });
  assert.equal(calls.length, 0);
  assert.equal(received.length, 0);
});

test('consent and an endpoint: one batched POST to the real server, then the store is empty', async () => {
  const telemetry = new Telemetry({ consent: true, endpoint });
  telemetry.record(sample);
  telemetry.record({ name: 'escalate', route: 'cloud', reason: 'low_confidence', latencyMs: 1500 });
  telemetry.record({ name: 'error', errorCode: 'E_MEMORY' });
  assert.deepEqual(await telemetry.flush(), { sent: 3 });
  assert.equal(received.length, 1);
  assert.equal(received[0].method, 'POST');
  assert.equal(received[0].url, '/collect');
  const { events } = JSON.parse(received[0].body);
  assert.deepEqual(events.map((e) => e.name), ['generate', 'escalate', 'error']);
  assert.equal(events[2].errorCode, 'E_MEMORY');
  assert.deepEqual(telemetry.view(), []);
  assert.deepEqual(await telemetry.flush(), { sent: 0, reason: 'empty' });
  assert.equal(received.length, 1, 'an empty store sends nothing');
});

test('withdrawn consent stops sending; a failing endpoint keeps the events', async () => {
  const telemetry = new Telemetry({ consent: true, endpoint });
  telemetry.setConsent(false);
  telemetry.record(sample);
  assert.equal((await telemetry.flush()).reason, 'no-consent');
  assert.equal(received.length, 0);

  const failing = new Telemetry({ consent: true, endpoint: endpoint.replace('/collect', '/fail') });
  failing.record(sample);
  assert.deepEqual(await failing.flush(), { sent: 0, reason: 'http', status: 500 });
  assert.equal(failing.view().length, 1);

  const dead = new Telemetry({ consent: true, endpoint: 'http://127.0.0.1:1/x', fetch: async () => { throw new Error('refused'); } });
  dead.record(sample);
  assert.equal((await dead.flush()).reason, 'network');
  assert.equal(dead.view().length, 1);
});

test('prompt and output text are never recorded, sent or stored', async () => {
  const secret = 'my card is 4111 1111 1111 1111 and I live at 12 Oak Lane';
  const storage = localStorageLike();
  const telemetry = new Telemetry({ consent: true, endpoint, storage });
  const stored = telemetry.record({
    ...sample,
    prompt: secret, output: secret, text: secret, messages: [{ role: 'user', content: secret }],
    reason: secret, model: secret, name: secret, errorCode: secret, route: secret, latencyMs: secret,
    tokensPerSecond: Infinity, nested: { prompt: secret },
  });
  assert.deepEqual(Object.keys(stored).sort(), ['at', 'memoryBytes']);
  assert.ok(!JSON.stringify(telemetry.view()).includes('4111'));
  assert.ok(!Object.values(storage.items).join().includes('4111'));
  await telemetry.flush();
  assert.ok(!received[0].body.includes('4111') && !received[0].body.includes('Oak'));
});

test('view shows what is stored; erase removes it from the storage object', () => {
  const storage = localStorageLike();
  const telemetry = new Telemetry({ storage });
  telemetry.record(sample);
  telemetry.record({ name: 'load', latencyMs: 2300, model: 'stories260K', at: 1_700_000_000_123 });
  const view = telemetry.view();
  assert.equal(view.length, 2);
  assert.deepEqual({ ...view[0], at: 0 }, { ...sample, at: 0 });
  assert.equal(view[1].at, 1_700_000_000_000, 'times are kept to the second');
  view[0].name = 'changed';
  assert.equal(telemetry.view()[0].name, 'generate', 'view returns copies');
  // A second instance over the same storage (a page reload) sees the same events.
  assert.equal(new Telemetry({ storage }).view().length, 2);
  telemetry.erase();
  assert.deepEqual(telemetry.view(), []);
  assert.deepEqual(storage.items, {});
});

test('the store is bounded and survives corrupt or hostile stored data', () => {
  const telemetry = new Telemetry({ maxEvents: 3 });
  for (let i = 0; i < 5; i++) telemetry.record({ latencyMs: i });
  assert.deepEqual(telemetry.view().map((e) => e.latencyMs), [2, 3, 4]);

  for (const junk of ['not json', '{"a":1}', '[1, null, [], {"prompt":"secret","latencyMs":5}]']) {
    const storage = localStorageLike();
    storage.setItem('localm.telemetry.v1', junk);
    const view = new Telemetry({ storage }).view();
    assert.ok(!JSON.stringify(view).includes('secret'), junk);
  }
});

test('concurrent flushes send once; a full storage does not throw', async () => {
  const telemetry = new Telemetry({ consent: true, endpoint });
  telemetry.record(sample);
  const results = await Promise.all([telemetry.flush(), telemetry.flush()]);
  assert.deepEqual(results, [{ sent: 1 }, { sent: 1 }]);
  assert.equal(received.length, 1);

  const full = { getItem: () => null, setItem: () => { throw new Error('QuotaExceededError'); }, removeItem: () => {} };
  assert.equal(new Telemetry({ storage: full }).record(sample).name, 'generate');
});

test('arguments are checked', () => {
  assert.throws(() => new Telemetry({ endpoint: 'ftp://x' }), /endpoint/);
  assert.throws(() => new Telemetry({ storage: {} }), /storage/);
  assert.throws(() => new Telemetry({ maxEvents: 0 }), /maxEvents/);
  assert.throws(() => new Telemetry({ fetch: 'no' }), /fetch/);
  assert.throws(() => new Telemetry().record('text'), /event must be an object/);
  assert.throws(() => new Telemetry().record(null), /event must be an object/);
});
