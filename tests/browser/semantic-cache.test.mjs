// web/src/semantic-cache.js in headless Chromium (the page embeds texts by
// counting letters, so most tests need no model): an entry survives a reload
// in IndexedDB, and a failing IndexedDB (open refused, open never answering,
// quota exceeded) turns the cache into an empty one with a warning instead
// of rejecting. Then the real thing: lm.embed on stories260K in the page's
// worker (1 and 2 threads) matches `localm embed` and backs the cache.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { REPO, SHARED, chromiumMissing, launchBrowser, startServer } from './demo-harness.mjs';

const STORIES = path.join(SHARED, 'models/stories260K.gguf');
const NATIVE = path.join(REPO, 'build/native/localm');
const needModel = !fs.existsSync(STORIES) ? `../shared is absent (${STORIES}); this test needs stories260K`
  : !fs.existsSync(path.join(REPO, 'web/dist/localm.js')) ? 'web/dist is not built (run ./build.sh wasm)'
    : !fs.existsSync(NATIVE) ? `${NATIVE} is not built (./build.sh native)` : false;
const TEXT = 'Once upon a time, there was a little girl named Lily.';

describe('semantic cache in the browser', { skip: chromiumMissing() ?? false, timeout: 120_000 }, () => {
  let server, browser, context, page;

  before(async () => {
    server = await startServer({ mounts: { '/test/': path.join(REPO, 'tests/browser/pages') },
      localModels: path.dirname(STORIES) });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });
  beforeEach(async () => {
    context = await browser.newContext();
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  async function openPage(options = {}) {
    await page.goto(`${server.base}/test/semantic-cache.html`);
    await page.waitForFunction(() => window.semanticTest);
    await page.evaluate((o) => window.semanticTest.open(o), options);
  }
  // Runs a cache method in the page; a rejection comes back as { error }.
  const call = (method, ...args) => page.evaluate(([m, a]) => window.cache[m](...a)
    .catch((error) => ({ error: `${error.name}: ${error.message}` })), [method, args]);
  const warnings = () => page.evaluate(() => window.semanticTest.warnings);

  test('an entry stored in IndexedDB is found again after a reload', async () => {
    await openPage();
    await call('store', 'What is the capital of France?', 'Paris', { route: 'cloud' });
    await page.reload();
    await openPage();
    assert.equal(await call('size'), 1);
    const hit = await call('lookup', 'what is the capital of france');
    assert.equal(hit.answer, 'Paris');
    assert.equal(hit.query, 'What is the capital of France?');
    assert.ok(hit.similarity > 0.999, `similarity ${hit.similarity}`);
    assert.deepEqual(hit.meta, { route: 'cloud' });
    assert.equal(await call('lookup', 'Who wrote Hamlet?'), null);
    const stored = await page.evaluate(() => new Promise((resolve) => {
      const request = indexedDB.open('localm-semantic-cache');
      request.onsuccess = () => {
        const get = request.result.transaction('entries').objectStore('entries').getAll();
        get.onsuccess = () => resolve(get.result.map((e) => e.vector.constructor.name));
      };
    }));
    assert.deepEqual(stored, ['Float32Array'], 'vectors are stored as Float32Array');
    await openPage({ namespace: 'another-model' });
    assert.equal(await call('lookup', 'What is the capital of France?'), null, 'another namespace');
    await openPage();
    await call('clear');
    assert.equal(await call('size'), 0);
    assert.deepEqual(await warnings(), []);
  });

  test('an IndexedDB that refuses to open (private mode) is a cache that never hits', async () => {
    await page.addInitScript(() => {
      indexedDB.open = () => {
        const request = {};
        setTimeout(() => {
          request.error = new DOMException('The user denied permission', 'InvalidStateError');
          request.onerror?.({ target: request });
        });
        return request;
      };
    });
    await openPage();
    assert.equal(await call('store', 'question', 'answer'), undefined, 'no rejection');
    assert.equal(await call('lookup', 'question'), null);
    assert.equal(await call('size'), 0);
    assert.match((await warnings()).join('\n'), /IndexedDB failed to write \(InvalidStateError.*continuing without a cache/);
  });

  test('an IndexedDB open that never answers times out into no cache', async () => {
    await page.addInitScript(() => {
      indexedDB.open = () => ({});
    });
    await openPage();
    assert.equal(await call('lookup', 'question'), null);
    assert.match((await warnings()).join('\n'), /took over \d+ ms/);
  });

  test('a quota error on store degrades to no cache', async () => {
    await openPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.base, quotaSize: 1 });
    const answer = 'x'.repeat(64 * 1024);
    assert.equal(await call('store', 'question', answer), undefined, 'no rejection');
    assert.equal(await call('lookup', 'question'), null);
    assert.match((await warnings()).join('\n'), /IndexedDB failed to write \(QuotaExceededError/);
  });

  for (const threads of [1, 2]) {
    test(`lm.embed in the page on ${threads} thread(s) matches the native CLI and feeds the cache`,
      { skip: needModel }, async () => {
        const native = JSON.parse(execFileSync(NATIVE, ['embed', '-m', STORIES, TEXT], { encoding: 'utf8' }));
        const inPage = () => page.evaluate(async ([text, n]) => {
          const { LocalLM, SemanticCache } = await import('/dist/localm.js');
          const lm = await LocalLM.load('/models/local/stories260K.gguf', { threads: n });
          try {
            const cache = new SemanticCache({ embed: (t) => lm.embed(t), namespace: 'stories260K' });
            const hit = await cache.lookup(text);
            if (!hit) await cache.store(text, 'the stored answer');
            return { vector: Array.from(await lm.embed(text)), threads: lm.threads, hit };
          } finally {
            await lm.unload();
          }
        }, [TEXT, threads]);
        await page.goto(`${server.base}/test/semantic-cache.html`);
        const first = await inPage();
        assert.equal(first.threads, threads);
        assert.equal(first.hit, null);
        const worst = first.vector.reduce((w, v, i) => Math.max(w, Math.abs(v - native[i])), 0);
        assert.ok(worst < 1e-3, `max |browser - native| ${worst}`);
        await page.reload();
        const second = await inPage();
        assert.equal(second.hit?.answer, 'the stored answer');
        assert.ok(second.hit.similarity > 0.9999, `similarity ${second.hit.similarity}`);
      });
  }
});
