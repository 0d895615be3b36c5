// web/src/cache.js in Node: no IndexedDB, so fetchModel just downloads into
// the caller's memory. Served by our own scripts/serve.mjs on a free port.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Sha256, fetchModel, modelCache } from '../../web/src/cache.js';
import { createServer } from '../../scripts/serve.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localm-cache-'));
const model = crypto.randomBytes(300_000);
const modelSha = crypto.createHash('sha256').update(model).digest('hex');
fs.writeFileSync(path.join(dir, 'model.gguf'), model);

let server, base;

before(async () => {
  server = await createServer({ port: 0, root: dir, localModels: null });
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => {
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function collector() {
  const state = { target: null, calls: 0, progress: [] };
  state.allocate = (n) => { state.calls++; state.target = new Uint8Array(n); return state.target; };
  state.onProgress = (p) => state.progress.push(p);
  return state;
}

async function rejectsWithCode(promise, code, pattern) {
  await assert.rejects(promise, (error) => {
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

test('downloads into the allocated memory, allocate called once with the size', async () => {
  const c = collector();
  const result = await fetchModel(`${base}/model.gguf`, { allocate: c.allocate, onProgress: c.onProgress });
  assert.deepEqual(result, { size: model.length, fromCache: false });
  assert.equal(c.calls, 1);
  assert.ok(Buffer.from(c.target).equals(model));
  const last = c.progress.at(-1);
  assert.deepEqual(last, { phase: 'download', loaded: model.length, total: model.length });
});

test('a correct sha256 passes, a wrong one is E_INTEGRITY', async () => {
  const c = collector();
  await fetchModel(`${base}/model.gguf`, { allocate: c.allocate, sha256: modelSha.toUpperCase() });
  const wrong = modelSha.replace(/^./, (ch) => (ch === '0' ? '1' : '0'));
  await rejectsWithCode(fetchModel(`${base}/model.gguf`, { allocate: collector().allocate, sha256: wrong }),
    'E_INTEGRITY', /expected/);
});

test('HTTP 404 and a refused connection are E_NETWORK naming the URL', async () => {
  await rejectsWithCode(fetchModel(`${base}/missing.gguf`, { allocate: collector().allocate }),
    'E_NETWORK', /404.*missing\.gguf/);
  const closed = http.createServer();
  await new Promise((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = closed.address().port;
  await new Promise((resolve) => closed.close(resolve));
  await rejectsWithCode(fetchModel(`http://127.0.0.1:${port}/m.gguf`, { allocate: collector().allocate }),
    'E_NETWORK', new RegExp(`127\\.0\\.0\\.1:${port}`));
});

test('an aborted signal is E_ABORTED, before and during the download', async () => {
  await rejectsWithCode(fetchModel(`${base}/model.gguf`, { allocate: collector().allocate, signal: AbortSignal.abort() }),
    'E_ABORTED');
  // A server that sends half the body and then stalls.
  const stall = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Length': String(model.length) });
    res.write(model.subarray(0, model.length / 2));
  });
  await new Promise((resolve) => stall.listen(0, '127.0.0.1', resolve));
  const controller = new AbortController();
  const c = collector();
  const loading = fetchModel(`http://127.0.0.1:${stall.address().port}/m.gguf`, {
    allocate: c.allocate,
    signal: controller.signal,
    onProgress: () => setTimeout(() => controller.abort(), 50),
  });
  await rejectsWithCode(loading, 'E_ABORTED');
  stall.closeAllConnections();
  stall.close();
});

test('without Content-Length the bytes are buffered and allocate is called at the end', async () => {
  const chunked = http.createServer((req, res) => {
    res.writeHead(200, { 'Transfer-Encoding': 'chunked' });
    res.write(model.subarray(0, 1000));
    res.end(model.subarray(1000));
  });
  await new Promise((resolve) => chunked.listen(0, '127.0.0.1', resolve));
  const c = collector();
  const result = await fetchModel(`http://127.0.0.1:${chunked.address().port}/m.gguf`, { allocate: c.allocate });
  chunked.close();
  assert.equal(result.size, model.length);
  assert.equal(c.calls, 1);
  assert.ok(Buffer.from(c.target).equals(model));
});

test('a body cut short is E_NETWORK', async () => {
  const cut = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Length': String(model.length) });
    res.write(model.subarray(0, 5000), () => res.destroy());
  });
  await new Promise((resolve) => cut.listen(0, '127.0.0.1', resolve));
  await rejectsWithCode(fetchModel(`http://127.0.0.1:${cut.address().port}/m.gguf`, { allocate: collector().allocate }),
    'E_NETWORK');
  cut.close();
});

test('bad arguments are E_OPTION; the cache API is empty without IndexedDB', async () => {
  await rejectsWithCode(fetchModel(`${base}/model.gguf`), 'E_OPTION', /allocate/);
  await rejectsWithCode(fetchModel(`${base}/model.gguf`, { allocate: () => new Uint8Array(3) }), 'E_OPTION', /exactly/);
  await rejectsWithCode(fetchModel(`${base}/model.gguf`, { allocate: collector().allocate, sha256: 'abc' }), 'E_OPTION');
  await rejectsWithCode(fetchModel('not a url', { allocate: collector().allocate }), 'E_NETWORK', /not a valid/);
  assert.deepEqual(await modelCache.list(), []);
  assert.equal((await modelCache.usage()).models, 0);
});

test("allocate's own errors pass through unchanged", async () => {
  const refusal = Object.assign(new Error('too big for wasm32'), { code: 'E_MEMORY' });
  await assert.rejects(fetchModel(`${base}/model.gguf`, { allocate: () => { throw refusal; } }), (e) => e === refusal);
});

test('the incremental SHA-256 matches node:crypto for any split of the input', () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 1000, 4097]) {
    const data = crypto.randomBytes(n);
    const hasher = new Sha256();
    for (let i = 0; i < n; i += 1 + (i % 70)) hasher.update(data.subarray(i, i + 1 + (i % 70)));
    assert.equal(hasher.hex(), crypto.createHash('sha256').update(data).digest('hex'), `length ${n}`);
  }
});
