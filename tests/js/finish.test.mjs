// Why a generation ended reaches JS as stats().finishReason, and a full
// context ends it keeping the text instead of losing it to an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadApi, needDist, needShared, storiesModel } from './helpers.mjs';

const skip = needShared || needDist;

test('finishReason: length, context_full (text kept), stop', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel);
  try {
    const short = await lm.complete('Once upon a time', { maxTokens: 4, temperature: 0 });
    assert.equal(short.stats.finishReason, 'length');
    const long = await lm.complete('Once upon a time', { maxTokens: 1000, temperature: 0, ignoreEos: true });
    assert.equal(long.stats.finishReason, 'context_full');
    assert.ok(long.text.length > 200, 'the text generated before the context filled up');
    const stopped = await lm.complete('Once upon a time', { maxTokens: 64, temperature: 0, stop: ['Lily'] });
    assert.equal(stopped.stats.finishReason, 'stop');
    assert.ok(!stopped.text.includes('Lily'));
  } finally {
    await lm.unload();
  }
});
