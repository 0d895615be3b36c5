// Every failure rejects with an Error whose .code names the cause.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, ftruncateSync, closeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';

import { errorOf, loadApi, needDist, needShared, serve, storiesModel } from './helpers.mjs';

const skip = needShared || needDist;
const dir = mkdtempSync(join(tmpdir(), 'localm-errors-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

// A GGUF v3 file with the given string metadata and no tensors.
function ggufWithStrings(pairs) {
  const chunks = [];
  const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); chunks.push(b); };
  const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); chunks.push(b); };
  const str = (s) => { u64(Buffer.byteLength(s)); chunks.push(Buffer.from(s)); };
  chunks.push(Buffer.from('GGUF'));
  u32(3);
  u64(0);
  u64(Object.keys(pairs).length);
  for (const [key, value] of Object.entries(pairs)) {
    str(key);
    u32(8); // GGUF_STRING
    str(value);
  }
  return Buffer.concat(chunks);
}

async function codeOf(promise) {
  const error = await errorOf(promise);
  assert.ok(error instanceof Error, 'rejects with an Error');
  assert.ok(error.message.length > 0, 'with a message');
  return error.code;
}

test('truncated or garbage bytes are E_FORMAT', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const bytes = readFileSync(storiesModel);
  const truncated = join(dir, 'truncated.gguf');
  writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
  assert.equal(await codeOf(LocalLM.load(truncated)), 'E_FORMAT');
  assert.equal(await codeOf(LocalLM.load(new Uint8Array(1000).fill(7))), 'E_FORMAT');
  assert.equal(await codeOf(LocalLM.load(new Blob([bytes.subarray(0, 100)]))), 'E_FORMAT');
});

test('an architecture we do not run is E_UNSUPPORTED', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const file = ggufWithStrings({ 'general.architecture': 'mamba' });
  assert.equal(await codeOf(LocalLM.load(file)), 'E_UNSUPPORTED');
});

test('a URL answering 404 is E_NETWORK naming the URL', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const server = await serve({});
  try {
    const url = server.url('/missing.gguf');
    const error = await errorOf(LocalLM.load(url));
    assert.equal(error.code, 'E_NETWORK');
    assert.match(error.message, /missing\.gguf/);
  } finally {
    await server.close();
  }
});

test('a download whose sha256 differs from the one given is E_INTEGRITY', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const bytes = readFileSync(storiesModel);
  const server = await serve({
    '/m.gguf': (req, res) => res.writeHead(200, { 'content-length': bytes.length }).end(bytes),
  });
  try {
    const url = server.url('/m.gguf');
    const right = createHash('sha256').update(bytes).digest('hex');
    assert.equal(await codeOf(LocalLM.load(url, { sha256: '0'.repeat(64) })), 'E_INTEGRITY');
    assert.equal(await codeOf(LocalLM.load(storiesModel, { sha256: right })), 'E_OPTION', 'paths are not checked');
    await (await LocalLM.load(url, { sha256: right })).unload();
  } finally {
    await server.close();
  }
});

test('a model over the wasm32 limit is E_MEMORY before allocation, giving the sizes', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const huge = join(dir, 'huge.gguf');
  const fd = openSync(huge, 'w');
  ftruncateSync(fd, 5 * 2 ** 30); // sparse: takes no disk space
  closeSync(fd);
  const error = await errorOf(LocalLM.load(huge));
  assert.equal(error.code, 'E_MEMORY');
  assert.match(error.message, /5120\.0 MiB.* available .*4 GiB/);
});

test('a context whose KV cache cannot fit wasm32 memory is E_MEMORY, giving the sizes', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const error = await errorOf(LocalLM.load(storiesModel, { contextSize: 1 << 22 }));
  assert.equal(error.code, 'E_MEMORY');
  assert.match(error.message, /needs [\d.]+ MiB .* available/);
});

test('memoryBudget refuses a model over it with E_MEMORY, before or after reading it', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const files = await errorOf(LocalLM.load(storiesModel, { memoryBudget: 1 << 20 }));
  assert.equal(files.code, 'E_MEMORY');
  assert.match(files.message, /1\.0 MiB are available \(the memoryBudget option\)/);
  const context = await errorOf(LocalLM.load(storiesModel, { memoryBudget: 2 << 20, contextSize: 4096 }));
  assert.equal(context.code, 'E_MEMORY');
  assert.match(context.message, /context of 4096 tokens/);
  await (await LocalLM.load(storiesModel, { memoryBudget: 64 << 20 })).unload();
});

test('a URL whose size is over the wasm32 limit is E_MEMORY', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const server = await serve({
    '/huge.gguf': (req, res) => {
      res.writeHead(200, { 'content-length': String(6 * 2 ** 30) });
      res.write('GGUF');
      req.socket.on('close', () => res.destroy());
    },
  });
  try {
    assert.equal(await codeOf(LocalLM.load(server.url('/huge.gguf'))), 'E_MEMORY');
  } finally {
    await server.close();
  }
});

test('malformed options are E_OPTION naming the option', { skip }, async () => {
  const { LocalLM } = await loadApi();
  assert.equal(await codeOf(LocalLM.load(storiesModel, { contextSize: -1 })), 'E_OPTION');
  assert.equal(await codeOf(LocalLM.load(storiesModel, { threads: 0 })), 'E_OPTION');
  assert.equal(await codeOf(LocalLM.load(storiesModel, { contxtSize: 64 })), 'E_OPTION');
  assert.equal(await codeOf(LocalLM.load(storiesModel, { contextSize: 2 ** 31 })), 'E_OPTION');
  assert.equal(await codeOf(LocalLM.load(storiesModel, { memoryBudget: -1 })), 'E_OPTION');
  const lm = await LocalLM.load(storiesModel);
  try {
    for (const options of [{ maxTokens: -1 }, { topP: 2 }, { temperature: 'hot' }, { maxTokenz: 3 },
      { stop: Array(20).fill('x') }]) {
      const error = await errorOf(lm.complete('Once', options));
      assert.equal(error.code, 'E_OPTION', JSON.stringify(options));
      assert.match(error.message, new RegExp(Object.keys(options)[0].replace(/[A-Z]/, '_?[$&]'), 'i'));
    }
    assert.equal((await lm.complete('Once', { maxTokens: 2 })).stats.genTokens, 2, 'still usable');
  } finally {
    await lm.unload();
  }
});

test('a prompt longer than the context is E_CONTEXT_FULL', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel, { contextSize: 16 });
  try {
    assert.equal(lm.contextSize, 16);
    assert.equal(await codeOf(lm.complete('Once upon a time '.repeat(10), { maxTokens: 2 })), 'E_CONTEXT_FULL');
    assert.equal((await lm.complete('Once', { maxTokens: 2 })).stats.genTokens, 2, 'still usable');
  } finally {
    await lm.unload();
  }
});

test('a malformed chat message list is E_TEMPLATE', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel);
  try {
    const chat = (messages) => (async () => { for await (const piece of lm.chat(messages, { maxTokens: 2 })); })();
    assert.equal(await codeOf(chat([{ role: 'user' }])), 'E_TEMPLATE');
    assert.equal(await codeOf(chat([{ content: 'hi' }])), 'E_TEMPLATE');
  } finally {
    await lm.unload();
  }
});

test('bad arguments are E_ARGUMENT; a missing file is E_IO', { skip }, async () => {
  const { LocalLM } = await loadApi();
  assert.equal(await codeOf(LocalLM.load(42)), 'E_ARGUMENT');
  assert.equal(await codeOf(LocalLM.load([])), 'E_ARGUMENT');
  assert.equal(await codeOf(LocalLM.load(join(dir, 'absent.gguf'))), 'E_IO');
  const lm = await LocalLM.load(storiesModel);
  try {
    assert.equal(await codeOf(lm.detokenize([1e9])), 'E_ARGUMENT');
    assert.equal(await codeOf(lm.detokenize(['x'])), 'E_ARGUMENT');
    assert.equal(await codeOf(lm.detokenize([2 ** 32 + 5])), 'E_ARGUMENT');
    assert.equal(await codeOf(lm.tokenize(5)), 'E_ARGUMENT');
  } finally {
    await lm.unload();
  }
});

test('using a model after unload is E_STATE', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel);
  await lm.unload();
  await lm.unload(); // twice is harmless
  assert.equal(await codeOf(lm.complete('Once')), 'E_STATE');
  assert.equal(await codeOf(lm.tokenize('Once')), 'E_STATE');
  assert.throws(() => lm.info(), { code: 'E_STATE' });
  assert.throws(() => lm.stats(), { code: 'E_STATE' });
});
