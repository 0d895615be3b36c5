// The golden test in headless Chromium: the page loads stories260K by URL and
// generates through the Web Worker, under a CSP that allows no eval; once on
// one thread and once on two (the page is cross-origin isolated, so the
// threaded build runs).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const sharedDir = process.env.LM_SHARED_DIR || resolve(repoRoot, '../shared');
const CHROMIUM = '/usr/bin/chromium';

const MOUNTS = {
  '/models/': join(sharedDir, 'models'),
  '/golden/': join(sharedDir, 'golden'),
  '/pages/': join(repoRoot, 'tests/browser/pages'),
  '/': join(repoRoot, 'web'),
};
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json' };
// What a deployed app would send: module scripts and wasm compilation only,
// and cross-origin isolation so that wasm threads can share memory.
const HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
};

function fileFor(urlPath) {
  const prefix = Object.keys(MOUNTS).find((p) => urlPath.startsWith(p));
  const root = MOUNTS[prefix];
  const file = normalize(join(root, decodeURIComponent(urlPath.slice(prefix.length))));
  return file.startsWith(root + sep) && existsSync(file) ? file : null;
}

async function startServer() {
  const server = createServer((req, res) => {
    const file = fileFor(new URL(req.url, 'http://x').pathname);
    if (!file) return res.writeHead(404).end('not found');
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream',
      'content-length': body.length, ...HEADERS });
    res.end(body);
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  return server;
}

const skip = !existsSync(join(sharedDir, 'models/stories260K.gguf'))
  ? `../shared is absent (${sharedDir}); this test needs stories260K`
  : !existsSync(CHROMIUM) ? `${CHROMIUM} is not installed`
    : !existsSync(join(repoRoot, 'web/dist/localm.js')) ? 'web/dist is not built (run ./build.sh wasm)' : false;

// 'auto': one thread per core (the worker's cap is 8).
for (const threads of [1, 2, 'auto']) {
  test(`golden greedy output in headless Chromium through the worker, ${threads} thread(s)`,
    { skip, timeout: 120000 }, async () => {
      const server = await startServer();
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
          '--disable-component-update', '--disable-sync'],
      });
      try {
        const page = await browser.newPage();
        const problems = [];
        page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
        page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
        await page.goto(`http://127.0.0.1:${server.address().port}/pages/golden.html?threads=${threads}`);
        const result = await page.evaluate(() => window.goldenResult);
        assert.equal(result.error, undefined, `the page failed: ${JSON.stringify(result.error)}; ${problems.join('; ')}`);
        assert.equal(result.info.architecture, 'llama');
        assert.equal(result.threads, threads === 'auto' ? Math.min(result.cores, 8) : threads, 'threads in use');
        assert.ok(result.progress.some((p) => p.phase === 'download' || p.phase === 'cache'), 'download progress');
        assert.ok(result.progress.some((p) => p.phase === 'load'), 'load progress');
        assert.equal(result.cases.length, 3);
        for (const c of result.cases) {
          assert.equal(c.text, c.expected, `continuation of ${JSON.stringify(c.prompt)}`);
          assert.ok(c.pieces > 1, 'streamed in pieces');
          assert.equal(c.stats.genTokens, 64);
        }
        assert.deepEqual(problems.filter((p) => /Content Security Policy|eval/i.test(p)), []);
      } finally {
        await browser.close();
        server.closeAllConnections();
        server.close();
      }
    });
}
