// scripts/serve.mjs: isolation headers, MIME types, byte ranges, the catalog
// with local models, and no way out of the served directories.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createServer } from '../../scripts/serve.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localm-serve-'));
const root = path.join(dir, 'web');
const local = path.join(dir, 'models');
const body = Buffer.from('0123456789abcdefghij');
fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
fs.mkdirSync(local);
fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html>');
fs.writeFileSync(path.join(root, 'dist', 'm.wasm'), body);
fs.writeFileSync(path.join(root, 'app.js'), 'export {}');
fs.writeFileSync(path.join(root, 'manifest.webmanifest'), '{}');
fs.writeFileSync(path.join(local, 'tiny.gguf'), body);
fs.writeFileSync(path.join(dir, 'secret.txt'), 'no');
fs.writeFileSync(path.join(dir, 'catalog.json'), JSON.stringify({ models: [{ id: 'remote', url: 'https://example.invalid/r.gguf' }] }));

const lines = [];
let server, base;

before(async () => {
  server = await createServer({ port: 0, root, localModels: local, catalogPath: path.join(dir, 'catalog.json'), log: (l) => lines.push(l) });
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => {
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('serves web/ at / with COOP/COEP/CORP and MIME types', async () => {
  const cases = { '/': 'text/html', '/dist/m.wasm': 'application/wasm', '/app.js': 'text/javascript',
    '/manifest.webmanifest': 'application/manifest+json', '/models/local/tiny.gguf': 'application/octet-stream' };
  for (const [url, type] of Object.entries(cases)) {
    const res = await fetch(base + url);
    assert.equal(res.status, 200, url);
    assert.ok(res.headers.get('content-type').startsWith(type), `${url}: ${res.headers.get('content-type')}`);
    assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(res.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin');
    await res.arrayBuffer();
  }
});

test('byte ranges: 206 with Content-Range, If-Range mismatch gives the whole file, 416 past the end', async () => {
  const url = `${base}/models/local/tiny.gguf`;
  const full = await fetch(url);
  const etag = full.headers.get('etag');
  assert.equal(full.headers.get('accept-ranges'), 'bytes');
  assert.ok(etag && !etag.startsWith('W/'));
  await full.arrayBuffer();

  const part = await fetch(url, { headers: { Range: 'bytes=5-', 'If-Range': etag } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 5-19/${body.length}`);
  assert.equal(Buffer.from(await part.arrayBuffer()).toString(), body.subarray(5).toString());

  const middle = await fetch(url, { headers: { Range: 'bytes=2-4' } });
  assert.equal(Buffer.from(await middle.arrayBuffer()).toString(), '234');

  const suffix = await fetch(url, { headers: { Range: 'bytes=-3' } });
  assert.equal(Buffer.from(await suffix.arrayBuffer()).toString(), 'hij');

  const head = await fetch(url, { method: 'HEAD' });
  assert.equal(head.headers.get('content-length'), String(body.length));

  const changed = await fetch(url, { headers: { Range: 'bytes=5-', 'If-Range': '"other"' } });
  assert.equal(changed.status, 200);
  assert.equal((await changed.arrayBuffer()).byteLength, body.length);

  const past = await fetch(url, { headers: { Range: 'bytes=99-' } });
  assert.equal(past.status, 416);
  assert.equal(past.headers.get('content-range'), `bytes */${body.length}`);
  await past.arrayBuffer();
  assert.ok(lines.some((l) => / 206 range=bytes=5-$/.test(l)), lines.join('\n'));
});

test('the catalog lists models/catalog.json first, then the local models', async () => {
  const catalog = await (await fetch(`${base}/catalog.json`)).json();
  assert.deepEqual(catalog.models.map((m) => m.id), ['remote', 'local/tiny.gguf']);
  assert.equal(catalog.models[1].url, '/models/local/tiny.gguf');
  assert.equal(catalog.models[1].size, body.length);
});

test('paths outside the served directories and other methods are refused', async () => {
  for (const url of ['/../secret.txt', '/%2e%2e/secret.txt', '/models/local/..%2fsecret.txt', '/%00', '/%E0%A4%A']) {
    const res = await fetch(base + url);
    assert.equal(res.status, 404, url);
    await res.arrayBuffer();
  }
  const post = await fetch(`${base}/`, { method: 'POST' });
  assert.equal(post.status, 405);
  await post.arrayBuffer();
});

test('models/catalog.json: every entry names a GGUF URL, size, quant, licence and template', () => {
  const catalog = JSON.parse(fs.readFileSync(new URL('../../models/catalog.json', import.meta.url), 'utf8'));
  assert.ok(catalog.models.length >= 5);
  const ids = new Set();
  for (const m of catalog.models) {
    assert.ok(!ids.has(m.id), `duplicate id ${m.id}`);
    ids.add(m.id);
    assert.match(m.url, /^https:\/\/huggingface\.co\/[^/]+\/[^/]+\/resolve\/main\/[^/]+\.gguf$/, m.id);
    assert.ok(Number.isInteger(m.size) && m.size > 0, m.id);
    assert.match(m.quant, /^(Q\d_[0K](_[SM])?|Q\d_1|F16|F32|BF16)$/, m.id);
    assert.ok(m.license && m.name, m.id);
    assert.ok(['chatml', 'llama3', 'llama2', 'zephyr', 'phi3', 'gemma'].includes(m.chatTemplate), m.id);
    assert.ok(m.sha256 === null || /^[0-9a-f]{64}$/.test(m.sha256), m.id);
  }
});
