// The demo page in headless Chromium: loads stories260K from a URL with a
// progress bar, reproduces the greedy golden continuations, then reloads with
// the network off and works from the service worker and IndexedDB alone.
// UPDATE_SCREENSHOT=1 also saves docs/screenshot.png (mid-generation).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, SHARED, chromiumMissing, launchBrowser, startServer } from './demo-harness.mjs';

const MODEL = path.join(SHARED, 'models', 'stories260K.gguf');
const GOLDEN = path.join(SHARED, 'golden', 'stories260K-greedy.json');
const MODEL_URL = '/models/local/stories260K.gguf';

function whySkip() {
  if (!fs.existsSync(path.join(REPO, 'web/dist/localm.js'))) return 'web/dist/localm.js is not built: run ./build.sh wasm';
  if (!fs.existsSync(MODEL) || !fs.existsSync(GOLDEN)) return `${MODEL} or its golden file is missing`;
  return chromiumMissing() ?? false;
}

describe('demo page', { skip: whySkip(), timeout: 300_000 }, () => {
  let server, browser, context, page;
  const errors = [];

  before(async () => {
    server = await startServer({ localModels: path.dirname(MODEL) });
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
    page = await context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function openDemo() {
    await page.waitForSelector('body[data-ready]');
    await page.waitForFunction(() => navigator.serviceWorker.controller);
  }

  async function loadModel(url) {
    await page.fill('#model-url', url);
    await page.click('#load');
    await page.waitForFunction(() => !document.querySelector('#send').disabled || !document.querySelector('#banner').hidden);
    assert.equal(await page.isVisible('#banner'), false, await page.textContent('#banner'));
  }

  async function generate(prompt, { temperature = 0, maxTokens = 64 } = {}) {
    if (!(await page.isVisible('#temperature'))) await page.click('#settings summary');
    await page.selectOption('#mode', 'complete');
    await page.fill('#temperature', String(temperature));
    await page.fill('#max-tokens', String(maxTokens));
    await page.fill('#prompt', prompt);
    await page.click('#send');
    const reply = page.locator('.message.assistant').last();
    await page.waitForFunction((el) => el.dataset.state !== 'generating', await reply.elementHandle());
    assert.equal(await reply.getAttribute('data-state'), 'done', await page.textContent('#messages'));
    return reply.textContent();
  }

  test('loads stories260K from a URL with a progress bar; greedy output matches the golden file', async () => {
    await page.goto(`${server.base}/`);
    await openDemo();
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    await loadModel(MODEL_URL);
    assert.equal(await page.isVisible('#progress'), true);
    const size = fs.statSync(MODEL).size;
    assert.deepEqual(await page.$eval('#progress', (p) => [p.value, p.max]), [size, size]);
    assert.match(await page.textContent('#progress-text'), /^Downloaded: 1\.2 MB/);
    assert.match(await page.textContent('#model-status'), /ready/);

    const golden = JSON.parse(fs.readFileSync(GOLDEN, 'utf8'));
    for (const { prompt, n_predict: n, expected_continuation: expected } of golden.cases) {
      assert.equal(await generate(prompt, { maxTokens: n }), expected, `prompt ${JSON.stringify(prompt)}`);
    }
    assert.match(await page.textContent('#stats'), /tok\/s/);
    assert.match(await page.textContent('#cache-list'), /stories260K\.gguf/);
  });

  test('offline: the reload comes from the service worker, the model from IndexedDB, with no request', async () => {
    const requestsBefore = server.log.length;
    await context.setOffline(true);
    await page.reload();
    await openDemo();
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    const row = page.locator('#cache-list li', { hasText: 'stories260K.gguf' });
    await row.getByRole('button', { name: 'Load' }).click();
    await page.waitForFunction(() => !document.querySelector('#send').disabled || !document.querySelector('#banner').hidden);
    assert.equal(await page.isVisible('#banner'), false, await page.textContent('#banner'));
    assert.match(await page.textContent('#progress-text'), /^Read from this browser/);
    const golden = JSON.parse(fs.readFileSync(GOLDEN, 'utf8')).cases[0];
    assert.equal(await generate(golden.prompt, { maxTokens: golden.n_predict }), golden.expected_continuation);
    // The browser's own update check of the service worker script is not
    // subject to the offline emulation; nothing of the app or the model may
    // come from the network.
    const reached = server.log.slice(requestsBefore).filter((line) => !/ GET \/sw\.js /.test(line));
    assert.deepEqual(reached, [], 'requests reached the server while offline');
    await context.setOffline(false);
  });

  test('a local .gguf file loads from the file picker; the page fits a phone screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.setInputFiles('#file', MODEL);
    await page.waitForFunction(() => /^stories260K\.gguf is ready/.test(document.querySelector('#model-status').textContent) ||
      !document.querySelector('#banner').hidden);
    assert.match(await page.textContent('#model-status'), /^stories260K\.gguf is ready/);
    assert.match(await page.textContent('#progress-text'), /from the file/);
    const golden = JSON.parse(fs.readFileSync(GOLDEN, 'utf8')).cases[1];
    assert.equal(await generate(golden.prompt, { maxTokens: golden.n_predict }), golden.expected_continuation);
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true,
      'the page scrolls sideways at 390 px');
    await page.setViewportSize({ width: 1000, height: 720 });
  });

  test('chat mode keeps the conversation; a cached model can be deleted from the list', async () => {
    await page.selectOption('#mode', 'chat');
    await page.fill('#max-tokens', '12');  // two turns within stories260K's 128-token context
    for (const text of ['Hello!', 'Tell me a story.']) {
      await page.fill('#prompt', text);
      await page.press('#prompt', 'Enter');
      const reply = page.locator('.message.assistant').last();
      await page.waitForFunction((el) => el.dataset.state !== 'generating', await reply.elementHandle());
      assert.match(await reply.getAttribute('data-state'), /^(done|full)$/, await page.textContent('#messages'));
    }
    assert.equal(await page.locator('.message.user').count(), 2);
    await page.click('#new-chat');
    assert.equal(await page.locator('.message').count(), 0);

    const row = page.locator('#cache-list li', { hasText: 'stories260K.gguf' });
    await row.getByRole('button', { name: /^Delete/ }).click();
    await page.waitForFunction(() => !/stories260K/.test(document.querySelector('#cache-list').textContent));
    assert.match(await page.textContent('#storage'), /^Models: 0 B/);
    assert.deepEqual(errors, []);
  });

  test('screenshot mid-generation', async () => {
    const file = process.env.UPDATE_SCREENSHOT ? path.join(REPO, 'docs', 'screenshot.png')
      : path.join(os.tmpdir(), 'localm-demo-screenshot.png');
    // stories260K streams far faster than a picture can be taken: this tab
    // gets the worker's messages at a phone-sized model's pace (~25 tokens/s).
    const shot = await context.newPage();
    shot.on('pageerror', (error) => errors.push(error.message));
    await shot.addInitScript(() => {
      const NativeWorker = window.Worker;
      window.Worker = class extends NativeWorker {
        set onmessage(handler) {
          let queue = Promise.resolve();
          super.onmessage = (event) => {
            queue = queue.then(() => new Promise((resolve) => setTimeout(resolve, 40))).then(() => handler.call(this, event));
          };
        }
      };
    });
    page = shot;
    await shot.goto(`${server.base}/`);
    await openDemo();
    await loadModel(MODEL_URL);
    if (!(await shot.isVisible('#temperature'))) await shot.click('#settings summary');
    await shot.fill('#temperature', '0.8');
    await shot.fill('#max-tokens', '100');
    await shot.fill('#prompt', 'Once upon a time, a little robot');
    await shot.click('#send');
    const reply = shot.locator('.message.assistant').last();
    await shot.waitForFunction((el) => el.textContent.length > 100, await reply.elementHandle());
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await shot.screenshot({ path: file });
    assert.equal(await reply.getAttribute('data-state'), 'generating');
    assert.equal(await shot.isEnabled('#stop'), true);
    await shot.click('#stop');
    await shot.waitForFunction((el) => el.dataset.state === 'stopped', await reply.elementHandle());
    assert.ok(fs.statSync(file).size > 10_000);
    assert.deepEqual(errors, []);
  });
});
