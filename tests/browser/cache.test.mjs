// web/src/cache.js in headless Chromium (no wasm needed): chunked IndexedDB
// entries, resume with Range after a cut download, corrupted chunks, quota
// exhaustion and two tabs loading the same model.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { REPO, chromiumMissing, launchBrowser, startServer } from './demo-harness.mjs';

const CHUNK = 256 * 1024;
const files = fs.mkdtempSync(path.join(os.tmpdir(), 'localm-cache-files-'));
const sha = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

function writeModel(name, size) {
  const bytes = crypto.randomBytes(size);
  fs.writeFileSync(path.join(files, name), bytes);
  return { url: `/files/${name}`, size, sha256: sha(bytes) };
}

const A = writeModel('a.gguf', 3 * 1024 * 1024 + 12345);
const B = writeModel('b.gguf', 1024 * 1024 + 7);

describe('model cache in the browser', { skip: chromiumMissing() ?? false, timeout: 180_000 }, () => {
  let server, browser, context, page;

  before(async () => {
    server = await startServer({ mounts: { '/test/': path.join(REPO, 'tests/browser/pages'), '/files/': files } });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    fs.rmSync(files, { recursive: true, force: true });
  });
  beforeEach(async () => {
    context = await browser.newContext();
    page = await openPage();
    server.log.length = 0;
  });
  afterEach(async () => {
    await context?.close();
  });

  async function openPage() {
    const p = await context.newPage();
    await p.goto(`${server.base}/test/cache.html`);
    await p.waitForFunction(() => window.cacheTest);
    return p;
  }
  const load = (p, url, options = {}) =>
    p.evaluate(([u, o]) => window.cacheTest.load(u, o), [url, { chunkSize: CHUNK, ...options }]);
  const list = (p = page) => p.evaluate(() => window.cacheTest.list());
  const entry = async (url, p = page) => (await list(p)).find((e) => e.url === server.base + url);
  const fullGets = (url) => server.log.filter((l) => l.includes(` GET ${url} `) && !l.includes('range=')).length;

  test('stores chunks, marks the entry complete, and loads it again from IndexedDB', async () => {
    const first = await load(page, A.url);
    assert.equal(first.error, undefined, first.error?.message);
    assert.deepEqual([first.size, first.fromCache, first.sha256], [A.size, false, A.sha256]);
    const stored = await entry(A.url);
    assert.equal(stored.complete, true);
    assert.equal(stored.size, A.size);
    assert.equal(stored.storedBytes, A.size);

    await page.reload();
    await page.waitForFunction(() => window.cacheTest);
    const again = await load(page, A.url);
    assert.deepEqual([again.fromCache, again.sha256, again.phases], [true, A.sha256, ['cache']]);
    assert.equal(fullGets(A.url), 1, server.log.join('\n'));
    const usage = await page.evaluate(() => window.cacheTest.usage());
    assert.equal(usage.models, A.size);
    assert.ok(usage.quota > 0);
  });

  test('a download cut half-way resumes with a Range request', async () => {
    const cutUrl = `${A.url}?cut=1000000`;
    const cut = await load(page, cutUrl);
    assert.equal(cut.error?.code, 'E_NETWORK', JSON.stringify(cut));
    // Whole chunks received before the cut are kept (how many depends on
    // when the browser reports the broken connection).
    const partial = await entry(cutUrl);
    const kept = partial.storedBytes;
    assert.equal(partial.complete, false);
    assert.ok(kept > 0 && kept % CHUNK === 0 && kept < 1000000, `kept ${kept}`);

    const resumed = await load(page, cutUrl);
    assert.equal(resumed.error, undefined, resumed.error?.message);
    assert.deepEqual([resumed.fromCache, resumed.sha256], [false, A.sha256]);
    assert.ok(server.log.some((l) => l.includes(`GET ${cutUrl} 206 range=bytes=${kept}-`)), server.log.join('\n'));
    assert.equal((await entry(cutUrl)).complete, true);
  });

  test('an aborted download is E_ABORTED, keeps its whole chunks and resumes', async () => {
    const url = `${A.url}?stall=1200000`;  // the server stops sending there
    const aborted = await load(page, url, { abortAfterMs: 2000 });
    assert.equal(aborted.error?.code, 'E_ABORTED', JSON.stringify(aborted));
    const partial = await entry(url);
    assert.equal(partial.complete, false);
    assert.ok(partial.storedBytes >= CHUNK && partial.storedBytes % CHUNK === 0, `kept ${partial.storedBytes}`);
    const resumed = await load(page, url);
    assert.deepEqual([resumed.error, resumed.sha256], [undefined, A.sha256]);
    assert.ok(server.log.some((l) => l.includes(`GET ${url} 206 range=bytes=${partial.storedBytes}-`)), server.log.join('\n'));
  });

  test('a corrupted chunk of a partial download makes the resume start over', async () => {
    const cutUrl = `${B.url}?cut=700000`;
    assert.equal((await load(page, cutUrl)).error?.code, 'E_NETWORK');
    await page.evaluate((u) => window.cacheTest.corruptChunk(u, 0), cutUrl);
    const result = await load(page, cutUrl);
    assert.equal(result.error, undefined, result.error?.message);
    assert.equal(result.sha256, B.sha256);
    const answers = server.log.filter((l) => l.includes(` GET ${cutUrl} `)).map((l) => l.split(' ').slice(3).join(' '));
    assert.match(answers.at(-2), /^206 range=bytes=\d+-/, answers.join('\n'));
    assert.equal(answers.at(-1), '200');
    assert.equal((await entry(cutUrl)).complete, true);
  });

  test('a partial download of a file that changed on the server starts over', async () => {
    const name = 'changing.gguf';
    const old = writeModel(name, 900 * 1024);
    const cutUrl = `${old.url}?cut=600000`;
    assert.equal((await load(page, cutUrl)).error?.code, 'E_NETWORK');
    const changed = writeModel(name, 900 * 1024);  // same size: only the ETag tells
    fs.utimesSync(path.join(files, name), new Date(), new Date(Date.now() + 5000));
    const result = await load(page, cutUrl);
    assert.equal(result.error, undefined, result.error?.message);
    assert.deepEqual([result.size, result.sha256], [changed.size, changed.sha256]);
    // The 206 carries the new ETag: the partial entry is dropped, the file
    // downloaded again from the start.
    const answers = server.log.filter((l) => l.includes(` GET ${cutUrl} `)).map((l) => l.split(' ').slice(3).join(' '));
    assert.match(answers.at(-2), /^206 range=bytes=\d+-/, answers.join('\n'));
    assert.equal(answers.at(-1), '200');
  });

  test('a corrupted chunk is re-downloaded, or E_INTEGRITY offline; other models stay', async () => {
    for (const m of [A, B]) assert.equal((await load(page, m.url)).error, undefined);
    await page.evaluate((u) => window.cacheTest.corruptChunk(u, 2), A.url);
    const healed = await load(page, A.url);
    assert.equal(healed.error, undefined, healed.error?.message);
    assert.deepEqual([healed.fromCache, healed.sha256], [false, A.sha256]);

    await page.evaluate((u) => window.cacheTest.corruptChunk(u, 1), A.url);
    await context.setOffline(true);
    const offline = await load(page, A.url);
    assert.equal(offline.error?.code, 'E_INTEGRITY', JSON.stringify(offline));
    assert.match(offline.error.message, /chunk 1 .*corrupt/);
    assert.equal(await entry(A.url), undefined);
    const other = await load(page, B.url);
    assert.deepEqual([other.fromCache, other.sha256], [true, B.sha256]);
    await context.setOffline(false);
  });

  test('a quota error is E_QUOTA, removes only the partial download', async () => {
    // Room for B and a bit more, not for A. Chromium enforces this quota on
    // IndexedDB writes when it is set before the database is first used.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.base, quotaSize: B.size + 1024 * 1024 });
    assert.equal((await load(page, B.url)).error, undefined);
    const full = await load(page, A.url);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.base });
    assert.equal(full.error?.code, 'E_QUOTA', JSON.stringify(full));
    assert.match(full.error.message, /partial download was removed/);
    assert.equal(await entry(A.url), undefined);
    assert.equal((await entry(B.url)).complete, true);
    const other = await load(page, B.url);
    assert.deepEqual([other.fromCache, other.sha256], [true, B.sha256]);
  });

  test('two tabs loading the same model share one consistent entry', async () => {
    const second = await openPage();
    const results = await Promise.all([load(page, A.url), load(second, A.url)]);
    for (const r of results) assert.equal(r.sha256, A.sha256, r.error?.message);
    assert.deepEqual(results.map((r) => r.fromCache).sort(), [false, true]);
    assert.equal(fullGets(A.url), 1, server.log.join('\n'));
    const entries = (await list(second)).filter((e) => e.url === server.base + A.url);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].complete, true);
  });
});
