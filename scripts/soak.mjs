#!/usr/bin/env node
// `npm run soak`: the full soak, 500 generate calls with random options and
// random aborts on one loaded stories260K, in Node and in headless Chromium
// (through the Web Worker). Prints the figures and exits non-zero when a
// call ended other than completed / E_ABORTED or memory kept growing.
// tests/js/soak.test.mjs and tests/browser/soak.test.mjs run the same code
// with fewer calls. Options: --calls N, --seed N, --only node|browser.
import path from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { pathToFileURL } from 'node:url';

import { distEntry, repoRoot, sharedDir, storiesModel } from '../tests/js/helpers.mjs';
import { SOAK_CONTEXT, growth, runSoak, summary } from '../tests/browser/pages/soak-driver.js';

// What may grow between the end of warm-up and the end of the soak. wasm
// memory only ever grows, so any growth after warm-up is a leak (or a
// high-water mark the warm-up missed). JS heaps are measured after a full
// GC; the slack absorbs V8's own caches (compiled code, feedback).
export const SLACK = {
  wasmMemoryBytes: 0,
  heapUsed: 4 << 20,       // Node main thread
  rss: 64 << 20,           // Node process: main thread, worker's heap and wasm pages
  pageHeap: 4 << 20,       // Chromium page
  workerHeap: 4 << 20,     // Chromium Web Worker that runs the core
};

// Figures whose growth is over SLACK: [] when the soak stopped growing.
export function overSlack(figures) {
  return Object.entries(growth(figures))
    .filter(([key, value]) => key in SLACK && value > SLACK[key])
    .map(([key, value]) => `${key} grew by ${value} bytes (slack ${SLACK[key]})`);
}

// Everything a soak of `calls` calls must show, as a list of what went wrong
// ([] when the soak passed): shared by `npm run soak` and the short soaks of
// npm test.
export function soakProblems(figures, calls) {
  const problems = [...overSlack(figures), ...(figures.problems ?? []),
    ...figures.unexpected.map((u) => `call ${u.call}: ${u.code} ${u.message} (${JSON.stringify(u.options)}, ${JSON.stringify(u.plan)})`)];
  if (figures.calls !== calls) problems.push(`${figures.calls} calls ran, not ${calls}`);
  if (!(figures.aborted > 0 && figures.midStreamAborts > 0)) problems.push('no call was aborted mid-stream');
  if (!(figures.completed > 0)) problems.push('no call completed');
  if (!figures.sameGreedyText) problems.push('greedy output changed over the soak');
  if (figures.piecesAfterAbort) problems.push(`${figures.piecesAfterAbort} pieces arrived after an abort`);
  return problems;
}

// ---- Node ---------------------------------------------------------------

let gc = null;
function collectGarbage() {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc');
  }
  gc();
  gc();
}

export async function nodeSoak({ calls, seed = 1, warmup = 10, every = 50, log = () => {} }) {
  const { LocalLM } = await import(distEntry);
  const lm = await LocalLM.load(storiesModel, { contextSize: SOAK_CONTEXT });
  const sampleMemory = async () => {
    collectGarbage();
    const { heapUsed, rss } = process.memoryUsage();
    return { heapUsed, rss };
  };
  try {
    return await runSoak(lm, { calls, seed, warmup, every, sampleMemory, log });
  } finally {
    await lm.unload();
  }
}

// ---- Chromium -----------------------------------------------------------

// Runtime.getHeapUsage of the worker: a dedicated worker is its own CDP
// target, reached through the browser session (messages wrapped per target).
async function workerHeapProbe(browser) {
  const session = await browser.newBrowserCDPSession();
  const { targetInfos } = await session.send('Target.getTargets');
  const worker = targetInfos.find((t) => t.type === 'worker' && t.url.endsWith('/dist/worker.js'));
  if (!worker) throw new Error(`no localm worker among the targets: ${targetInfos.map((t) => t.url).join(', ')}`);
  const { sessionId } = await session.send('Target.attachToTarget', { targetId: worker.targetId, flatten: false });
  const waiting = new Map();
  let nextId = 1;
  session.on('Target.receivedMessageFromTarget', (e) => {
    const message = JSON.parse(e.message);
    waiting.get(message.id)?.(message);
    waiting.delete(message.id);
  });
  const call = (method) => new Promise((resolve) => {
    const id = nextId++;
    waiting.set(id, resolve);
    session.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method }) });
  });
  return async () => {
    await call('HeapProfiler.collectGarbage');
    return (await call('Runtime.getHeapUsage')).result.usedSize;
  };
}

// Opens tests/browser/pages/soak.html in headless Chromium and runs
// fn(page, problems) there; problems collects page errors and failed requests.
async function withSoakPage(fn) {
  const { launchBrowser, startServer } = await import('../tests/browser/demo-harness.mjs');
  const server = await startServer({ mounts: {
    '/test/': path.join(repoRoot, 'tests/browser/pages'),
    '/soak-models/': path.join(sharedDir, 'models'),
  } });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const problems = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) problems.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    page.on('crash', () => problems.push('the page crashed'));
    return await fn(page, problems, browser, server);
  } finally {
    await browser.close();
    await server.close();
  }
}

export const SOAK_MODEL_URL = '/soak-models/stories260K.gguf';

export async function browserSoak({ calls, seed = 1, warmup = 10, every = 50, log = () => {} }) {
  return withSoakPage(async (page, problems, browser, server) => {
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
      else if (m.text().startsWith('soak:')) log(`chromium ${m.text()}`);
    });
    const pageSession = await page.context().newCDPSession(page);
    let workerHeap = null;
    await page.exposeFunction('soakHeap', async () => {
      workerHeap ??= await workerHeapProbe(browser);
      await pageSession.send('HeapProfiler.collectGarbage');
      const { usedSize } = await pageSession.send('Runtime.getHeapUsage');
      return { pageHeap: usedSize, workerHeap: await workerHeap() };
    });
    await page.goto(`${server.base}/test/soak.html`);
    const figures = await page.evaluate((args) => window.soakRun(args),
      { calls, seed, warmup, every, model: SOAK_MODEL_URL });
    if (figures.error) throw Object.assign(new Error(figures.error.message), { code: figures.error.code });
    figures.problems = problems;
    return figures;
  });
}

// The hostile loads of soak.js's soakHostile: [{ what, code, message, after }].
export async function browserHostileLoads() {
  return withSoakPage(async (page, problems, browser, server) => {
    await page.goto(`${server.base}/test/soak.html`);
    const results = await page.evaluate((model) => window.soakHostile(model), SOAK_MODEL_URL);
    return { results, problems };
  });
}

// ---- npm run soak -------------------------------------------------------

async function main() {
  const { values } = parseArgs({ options: {
    calls: { type: 'string', default: '500' },
    seed: { type: 'string', default: String(Date.now() % 100000) },
    only: { type: 'string' },
  } });
  const options = { calls: Number(values.calls), seed: Number(values.seed), log: console.log };
  let failed = false;
  for (const [name, run] of [['node', nodeSoak], ['browser', browserSoak]]) {
    if (values.only && values.only !== name) continue;
    const start = Date.now();
    const figures = await run(options);
    const problems = soakProblems(figures, options.calls);
    console.log(`${name}: ${summary(figures)} in ${((Date.now() - start) / 1000).toFixed(1)} s`);
    for (const problem of problems) console.log(`${name}: PROBLEM ${problem}`);
    failed ||= problems.length > 0;
  }
  process.exitCode = failed ? 1 : 0;
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) await main();
