// The demo's usage statistics (issue 7, telemetry with consent) in headless
// Chromium: each answer is recorded in the browser without its text; nothing
// leaves the page without consent, even with an endpoint set; with consent the
// events reach the endpoint; Erase empties the record.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, SHARED, chromiumMissing, launchBrowser, startServer } from './demo-harness.mjs';

const MODEL = path.join(SHARED, 'models', 'stories260K.gguf');
const PROMPT = 'Once upon a time there was a secret';

function whySkip() {
  if (!fs.existsSync(MODEL)) return `${MODEL} is missing (../shared)`;
  if (!fs.existsSync(path.join(REPO, 'web/dist/localm.js'))) return 'web/dist/localm.js is not built: run ./build.sh wasm';
  return chromiumMissing() ?? false;
}

// A statistics endpoint on loopback that records every request (CORS for the page).
async function startCollector() {
  const received = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; }).on('end', () => {
      if (req.method === 'POST') received.push(body);
      res.writeHead(req.method === 'OPTIONS' ? 204 : 200, {
        'access-control-allow-origin': '*',
        'access-control-allow-headers': 'content-type',
        'cross-origin-resource-policy': 'cross-origin',
      }).end();
    });
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${server.address().port}/collect`, received, close: () => server.close() };
}

describe('demo: usage statistics', { skip: whySkip(), timeout: 300_000 }, () => {
  let server, collector, browser, page;
  const errors = [];

  before(async () => {
    server = await startServer({ localModels: path.dirname(MODEL) });
    collector = await startCollector();
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1000, height: 900 } })).newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.base}/`);
    await page.waitForSelector('body[data-ready]');
    await page.fill('#model-url', '/models/local/stories260K.gguf');
    await page.click('#load');
    await page.waitForFunction(() => !document.querySelector('#send').disabled || !document.querySelector('#banner').hidden);
    await page.click('#settings summary');
    await page.selectOption('#mode', 'complete');
    await page.fill('#max-tokens', '8');
  });

  after(async () => {
    await browser?.close();
    collector?.close();
    await server?.close();
  });

  async function ask() {
    await page.fill('#prompt', PROMPT);
    await page.click('#send');
    await page.waitForFunction(() => document.querySelector('.message.assistant:last-child')?.dataset.state === 'done');
  }

  const events = async () => {
    await page.click('#usage-view');
    const text = await page.textContent('#usage-events');
    return text === '(nothing recorded)' ? [] : JSON.parse(text);
  };

  test('answers are recorded without their text, and nothing is sent without consent', async () => {
    await page.fill('#usage-endpoint', collector.url);
    await ask();
    await ask();
    const recorded = await events();
    assert.equal(recorded.length, 2);
    assert.equal(recorded[0].route, 'local');
    assert.equal(recorded[0].outputTokens, 8);
    assert.ok(recorded[0].tokensPerSecond > 0 && recorded[0].memoryBytes > 0);
    const stored = await page.evaluate(() => localStorage.getItem('localm.telemetry.v1'));
    assert.ok(!stored.includes('secret') && !stored.includes('Once'), 'no prompt text is stored');
    await page.click('#usage-send');
    await page.waitForFunction(() => /tick the box/.test(document.querySelector('#usage-status').textContent));
    assert.deepEqual(collector.received, [], 'no request without consent');
  });

  test('with consent the events reach the endpoint; Erase empties the record', async () => {
    await page.check('#usage-consent');
    await ask(); // sent right after the answer
    await page.waitForFunction(() => /Sent 3 events/.test(document.querySelector('#usage-status').textContent));
    assert.equal(collector.received.length, 1);
    const sent = JSON.parse(collector.received[0]).events;
    assert.equal(sent.length, 3);
    assert.ok(!collector.received[0].includes('secret'));
    assert.deepEqual(await events(), [], 'sent events leave the record');
    await page.uncheck('#usage-consent');
    await ask();
    assert.equal((await events()).length, 1);
    await page.click('#usage-erase');
    assert.deepEqual(await events(), []);
    assert.equal(collector.received.length, 1, 'withdrawn consent sends nothing');
    assert.deepEqual(errors, []);
  });
});
