// Why a generation ended reaches JS as stats().finishReason, and a full
// context ends it keeping the text instead of losing it to an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadApi, needDist, needShared, storiesModel } from './helpers.mjs';

const skip = needShared || needDist;

test('finishReason (length, context_full keeping the text, stop) and confidence figures', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel);
  try {
    const short = await lm.complete('Once upon a time', { maxTokens: 4, temperature: 0 });
    assert.equal(short.stats.finishReason, 'length');
    const c = short.stats.confidence;
    assert.ok(c.meanLogprob <= 0 && c.minLogprob <= c.meanLogprob, JSON.stringify(c));
    assert.ok(Math.abs(c.perplexity - Math.exp(-c.meanLogprob)) < 1e-3 * c.perplexity);
    for await (const piece of lm.generate('Once upon a time', { maxTokens: 4, temperature: 0 })) {
      assert.ok(piece.logprob <= 0 && piece.entropy >= 0, JSON.stringify(piece));
    }
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
