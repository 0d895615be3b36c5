// A short soak in headless Chromium through the Web Worker (npm run soak runs
// 500 calls): random options and random aborts on one loaded stories260K;
// each call completes or rejects with E_ABORTED, and wasm memory, the page's
// and the worker's JS heaps (CDP Runtime.getHeapUsage after a GC) stop
// growing after warm-up. The figures go to the test output. Also: hostile
// loads through the browser worker (Blob, buffer, URL) reject with their code.
import assert from 'node:assert/strict';
import test from 'node:test';

import { chromiumMissing } from './demo-harness.mjs';
import { needDist, needShared } from '../js/helpers.mjs';
import { browserHostileLoads, browserSoak, soakProblems } from '../../scripts/soak.mjs';
import { summary } from './pages/soak-driver.js';

const CALLS = Number(process.env.SOAK_CALLS) || 40;
const skip = needShared || needDist || (chromiumMissing() ?? false);

test(`soak: ${CALLS} generate calls with random aborts in Chromium`, { skip, timeout: 120_000 }, async () => {
  const figures = await browserSoak({ calls: CALLS, seed: CALLS, warmup: 10, every: 15, log: console.log });
  console.log(summary(figures));
  assert.deepEqual(soakProblems(figures, CALLS), []);
});

const EXPECTED_CODES = {
  'garbage buffer': 'E_FORMAT',
  'empty Blob': 'E_FORMAT',
  'header-only Blob': 'E_FORMAT',
  'Blob cut in the metadata': 'E_FORMAT',
  'buffer cut in the tensor data': 'E_FORMAT',
  'context over wasm32 memory': 'E_MEMORY',
};

test('hostile loads in Chromium reject with their code and the next load works', { skip, timeout: 120_000 }, async () => {
  const { results, problems } = await browserHostileLoads();
  assert.deepEqual(results.map((r) => r.what), Object.keys(EXPECTED_CODES));
  for (const { what, code, message, after } of results) {
    console.log(`chromium hostile: ${what}: ${code} ${message}`);
    assert.equal(code, EXPECTED_CODES[what], `${what}: ${message}`);
    assert.ok(message, `${what}: a message`);
    assert.equal(after, results[0].after, `${what}: the next load gives the same greedy text`);
  }
  assert.ok(results[0].after.length > 0);
  assert.deepEqual(problems, []);
});
