// An AbortSignal stops a load or a generation (within one token); the model
// stays usable after an aborted generation.
import assert from 'node:assert/strict';
import test from 'node:test';

import { errorOf, loadApi, needDist, needShared, storiesModel } from './helpers.mjs';

const skip = needShared || needDist;
const greedy = { maxTokens: 110, temperature: 0, ignoreEos: true };

test('aborting mid-generation rejects with E_ABORTED and the next generate works', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel);
  try {
    const expected = (await lm.complete('Once upon a time', greedy)).text;
    const controller = new AbortController();
    let received = 0;
    const error = await errorOf((async () => {
      for await (const piece of lm.generate('Once upon a time', { ...greedy, signal: controller.signal })) {
        received++;
        if (received === 3) controller.abort();
      }
    })());
    assert.equal(error.code, 'E_ABORTED');
    assert.ok(error instanceof Error);
    assert.equal(received, 3, 'no piece is delivered after the abort');
    assert.ok(lm.stats().genTokens < 110, `all ${lm.stats().genTokens} tokens were generated`);
    assert.equal((await lm.complete('Once upon a time', greedy)).text, expected);
  } finally {
    await lm.unload();
  }
});

test('an already aborted signal rejects generate and load at once', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const signal = AbortSignal.abort();
  assert.equal((await errorOf(LocalLM.load(storiesModel, { signal }))).code, 'E_ABORTED');
  const lm = await LocalLM.load(storiesModel);
  try {
    assert.equal((await errorOf(lm.complete('Once', { signal }))).code, 'E_ABORTED');
    assert.equal((await lm.complete('Once', { maxTokens: 4 })).stats.genTokens, 4);
  } finally {
    await lm.unload();
  }
});

test('aborting while the model loads rejects with E_ABORTED', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const controller = new AbortController();
  const loading = LocalLM.load(storiesModel, { signal: controller.signal });
  controller.abort();
  assert.equal((await errorOf(loading)).code, 'E_ABORTED');
});
