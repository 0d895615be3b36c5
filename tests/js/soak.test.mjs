// A short soak in Node (npm run soak runs 500 calls): generate calls with
// random options and random aborts on one loaded stories260K; each completes
// or rejects with E_ABORTED, and wasm memory and the JS heap stop growing
// after warm-up. The figures go to the test output.
import assert from 'node:assert/strict';
import test from 'node:test';

import { needDist, needShared } from './helpers.mjs';
import { nodeSoak, soakProblems } from '../../scripts/soak.mjs';
import { summary } from '../browser/pages/soak-driver.js';

const CALLS = Number(process.env.SOAK_CALLS) || 60;

test(`soak: ${CALLS} generate calls with random aborts in Node`, { skip: needShared || needDist, timeout: 120_000 }, async () => {
  const figures = await nodeSoak({ calls: CALLS, seed: CALLS, warmup: 10, every: 25, log: console.log });
  console.log(summary(figures));
  assert.deepEqual(soakProblems(figures, CALLS), []);
});
