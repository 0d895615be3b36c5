// The rest of the API surface: load progress, chat(), the cache object.
import assert from 'node:assert/strict';
import test from 'node:test';

import { loadApi, needDist, needShared, serve, storiesModel } from './helpers.mjs';
import { readFileSync } from 'node:fs';

const skip = needShared || needDist;

test('onProgress reports download and load phases with growing byte counts', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const bytes = readFileSync(storiesModel);
  const server = await serve({
    '/m.gguf': (req, res) => res.writeHead(200, { 'content-length': bytes.length }).end(bytes),
  });
  try {
    const events = [];
    const lm = await LocalLM.load(server.url('/m.gguf'), { onProgress: (e) => events.push(e) });
    await lm.unload();
    const download = events.filter((e) => e.phase === 'download');
    assert.ok(download.length > 0, 'download events');
    assert.deepEqual(events.at(-1), { phase: 'load', loaded: bytes.length, total: bytes.length });
    for (let i = 1; i < download.length; i++) assert.ok(download[i].loaded >= download[i - 1].loaded);
    const fromPath = [];
    await (await LocalLM.load(storiesModel, { onProgress: (e) => fromPath.push(e.phase) })).unload();
    assert.ok(fromPath.length > 0 && fromPath.every((phase) => phase === 'load'));
  } finally {
    await server.close();
  }
});

test('chat() formats messages with the template and streams the reply', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel);
  try {
    const pieces = [];
    for await (const piece of lm.chat([{ role: 'user', content: 'Tell me a story' }], { maxTokens: 8 })) {
      pieces.push(piece);
    }
    assert.ok(pieces.length > 0);
    assert.ok(lm.stats().promptTokens > 4, 'the template adds tokens around the message');
  } finally {
    await lm.unload();
  }
});

test('LocalLM.cache is the model cache; in Node it holds nothing', { skip: needDist }, async () => {
  const { LocalLM, modelCache } = await loadApi();
  assert.equal(LocalLM.cache, modelCache);
  assert.deepEqual(await LocalLM.cache.list(), []);
});

test("threads: 'auto' in Node runs on one thread; other strings are E_OPTION", { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel, { threads: 'auto' });
  try {
    assert.equal(lm.threads, 1);
  } finally {
    await lm.unload();
  }
  await assert.rejects(LocalLM.load(storiesModel, { threads: 'many' }), { code: 'E_OPTION', message: /threads/ });
});

test('threads > 1 in Node runs on one thread (the threaded build needs a browser)', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel, { threads: 4 });
  try {
    assert.equal(lm.threads, 1);
    assert.equal((await lm.complete('Once', { maxTokens: 4 })).stats.genTokens, 4);
  } finally {
    await lm.unload();
  }
});
