// web/src/semantic-cache.js in headless Chromium (no wasm needed: the page
// embeds texts by counting letters): an entry survives a reload in
// IndexedDB, and a failing IndexedDB (open refused, open never answering,
// quota exceeded) turns the cache into an empty one with a warning instead
// of rejecting.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { REPO, chromiumMissing, launchBrowser, startServer } from './demo-harness.mjs';

describe('semantic cache in the browser', { skip: chromiumMissing() ?? false, timeout: 120_000 }, () => {
  let server, browser, context, page;

  before(async () => {
    server = await startServer({ mounts: { '/test/': path.join(REPO, 'tests/browser/pages') } });
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
});
