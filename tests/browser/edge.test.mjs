// The demo's edge-first mode in headless Chromium, with a real `localm serve`
// on loopback as the cloud (--cors for the page's origin): an unsure answer
// shows the exact redacted request first; Send brings the cloud's answer,
// Keep local the device's. The server's log shows what arrived.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LOCALM_CLI, REPO, SHARED, chromiumMissing, launchBrowser, startLocalmServe, startServer } from './demo-harness.mjs';

const MODEL = path.join(SHARED, 'models', 'stories260K.gguf');
const EMAIL = 'jane.doe@example.com';
const KEY = 'sk-test-do-not-show';

function whySkip() {
  if (!fs.existsSync(MODEL)) return `${MODEL} is missing (../shared)`;
  if (!fs.existsSync(path.join(REPO, 'web/dist/localm.js'))) return 'web/dist/localm.js is not built: run ./build.sh wasm';
  if (!fs.existsSync(LOCALM_CLI)) return `${LOCALM_CLI} is not built: run ./build.sh native`;
  return chromiumMissing() ?? false;
}

describe('demo: edge-first', { skip: whySkip(), timeout: 300_000 }, () => {
  let server, cloud, browser, page;
  const errors = [];

  before(async () => {
    server = await startServer({ localModels: path.dirname(MODEL) });
    cloud = await startLocalmServe(MODEL, { cors: server.base });
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
    await page.goto(`${server.base}/`);
    await page.waitForSelector('body[data-ready]');
    await page.fill('#model-url', '/models/local/stories260K.gguf');
    await page.click('#load');
    await page.waitForFunction(() => !document.querySelector('#send').disabled || !document.querySelector('#banner').hidden);
    assert.equal(await page.isVisible('#banner'), false, await page.textContent('#banner'));
    await page.click('#settings summary');
    await page.selectOption('#mode', 'chat');
    await page.fill('#max-tokens', '8');
  });

  after(async () => {
    await browser?.close();
    cloud?.stop();
    await server?.close();
  });

  async function configure({ minConfidence, remember = false }) {
    if (!(await page.isVisible('#cloud-url'))) await page.click('#edge-settings summary');
    await page.check('#edge-first');
    await page.fill('#cloud-url', cloud.url);
    await page.fill('#cloud-model', 'stories260K.gguf');
    await page.fill('#cloud-key', KEY);
    await page.fill('#min-confidence', String(minConfidence));
    await page.setChecked('#edge-remember', remember);
    await page.click('#new-chat');
  }

  // The chat requests that reached the server (CORS preflights aside).
  const posts = () => cloud.requests().filter((r) => r.method === 'POST');

  async function ask(text) {
    await page.fill('#prompt', text);
    await page.click('#send');
  }

  // The badge under the last answer once it is complete.
  async function lastRoute() {
    const reply = page.locator('.message.assistant').last();
    await page.waitForFunction((el) => el.dataset.state !== 'generating', await reply.elementHandle());
    assert.equal(await reply.getAttribute('data-state'), 'done', await page.textContent('#messages'));
    const badge = page.locator('.route').last();
    return { route: await badge.getAttribute('data-route'), reason: await badge.getAttribute('data-reason'),
      text: await badge.textContent(), answer: await reply.textContent() };
  }

  test('a confident answer stays on the device, with no preview and no request', async () => {
    await configure({ minConfidence: 0.2 });
    const before = posts().length;
    await ask('Once upon a time');
    const { route, reason, text } = await lastRoute();
    assert.deepEqual([route, reason], ['local', 'confident']);
    assert.match(text, /on this device · confident · local confidence \d+%/);
    assert.equal(await page.isVisible('#edge-preview'), false);
    assert.equal(posts().length, before);
  });

  test('an unsure answer previews the redacted request; Send brings the cloud answer', async () => {
    await configure({ minConfidence: 0.9 });
    const before = posts().length;
    await ask(`Mail ${EMAIL}`); // within the default budget: half of stories260K's 128-token context
    await page.waitForSelector('#edge-preview:not([hidden])');
    const preview = await page.textContent('#edge-preview-body');
    assert.match(preview, /"content": "Mail \[EMAIL_1\]"/);
    assert.ok(!preview.includes(EMAIL) && !preview.includes(KEY), preview);
    assert.match(await page.textContent('#edge-preview-why'), /low confidence.*1 personal value replaced/);
    assert.equal(posts().length, before, 'nothing is sent before Send');
    await page.click('#edge-send');
    const { route, reason, text, answer } = await lastRoute();
    assert.deepEqual([route, reason], ['cloud', 'low_confidence']);
    assert.match(text, /^cloud · low confidence · local confidence \d+% · 1 redacted$/);
    assert.ok(answer.length > 0);
    assert.equal(await page.isVisible('#edge-preview'), false);
    const sent = posts().slice(before);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].status, 200);
    assert.ok(sent[0].body.includes('[EMAIL_1]') && !sent[0].body.includes(EMAIL), sent[0].body);
    // What was previewed is what arrived.
    assert.deepEqual(JSON.parse(sent[0].body), JSON.parse(preview));
  });

  test('a remembered cloud answer answers the same question again, with no preview or request', async () => {
    await configure({ minConfidence: 0.9, remember: true });
    const before = posts().length;
    await ask('Where did the cat go?');
    await page.waitForSelector('#edge-preview:not([hidden])');
    await page.click('#edge-send');
    const first = await lastRoute();
    assert.equal(first.route, 'cloud');
    assert.equal(posts().length, before + 1);
    await ask('Where did the cat go?');
    const again = await lastRoute();
    assert.deepEqual([again.route, again.reason], ['local', 'cache_hit']);
    assert.equal(again.answer, first.answer);
    assert.equal(await page.isVisible('#edge-preview'), false);
    assert.equal(posts().length, before + 1, 'no second request');
  });

  test('Keep local keeps the local answer and sends nothing', async () => {
    await configure({ minConfidence: 0.9 });
    const before = posts().length;
    await ask(`Mail ${EMAIL}`);
    await page.waitForSelector('#edge-preview:not([hidden])');
    await page.click('#edge-keep');
    const { route, reason, answer } = await lastRoute();
    assert.deepEqual([route, reason], ['local', 'declined']);
    assert.ok(answer.length > 0);
    assert.equal(posts().length, before);
  });

  test('the cloud settings survive a reload; the key never reaches the console', async () => {
    await page.reload();
    await page.waitForSelector('body[data-ready]');
    assert.equal(await page.isChecked('#edge-first'), true);
    assert.match(await page.textContent('#tagline'), /you approve each question sent to a cloud/);
    assert.equal(await page.inputValue('#cloud-url'), cloud.url);
    assert.equal(await page.inputValue('#min-confidence'), '0.9');
    assert.ok(!errors.join('\n').includes(KEY));
    assert.deepEqual(errors, []);
  });
});
