// generate() streams pieces as they are produced; complete() is their concatenation.
import assert from 'node:assert/strict';
import test from 'node:test';

import { loadApi, needDist, needShared, storiesModel } from './helpers.mjs';

const skip = needShared || needDist;
const greedy = { maxTokens: 64, temperature: 0, ignoreEos: true };

test('pieces arrive one token at a time and add up to complete()', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel);
  try {
    const pieces = [];
    for await (const piece of lm.generate('Once upon a time', greedy)) pieces.push(piece);
    assert.equal(pieces.length, 64);
    for (const piece of pieces) {
      assert.equal(typeof piece.text, 'string');
      assert.ok(Number.isInteger(piece.token) && piece.token >= 0);
      assert.ok(piece.logprob <= 0 && Number.isFinite(piece.logprob));
    }
    const { text, stats } = await lm.complete('Once upon a time', greedy);
    assert.equal(pieces.map((p) => p.text).join(''), text);
    assert.equal(stats.genTokens, 64);
    assert.ok(stats.promptTokens > 0 && stats.decodeTokPerSec > 0 && stats.prefillTokPerSec > 0);
    assert.ok(stats.wasmMemoryBytes >= 16 << 20);
    assert.deepEqual(Object.keys(lm.stats()).sort(), ['confidence', 'decodeTokPerSec', 'finishReason', 'genMs', 'genTokens',
      'prefillTokPerSec', 'promptMs', 'promptTokens', 'wasmMemoryBytes']);
  } finally {
    await lm.unload();
  }
});

test('the first piece arrives before the generation ends', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel);
  try {
    await lm.complete('warm up', { maxTokens: 8 });
    const maxTokens = 110;
    for await (const piece of lm.generate('Once upon a time', { ...greedy, maxTokens })) {
      assert.ok(piece.text.length > 0);
      break; // stops the generation: had it already ended, all tokens would be counted
    }
    assert.ok(lm.stats().genTokens < maxTokens, `generated ${lm.stats().genTokens} of ${maxTokens} tokens before the first piece arrived`);
  } finally {
    await lm.unload();
  }
});

test('tokenize and detokenize round-trip; info describes the model', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel);
  try {
    const ids = await lm.tokenize('Once upon a time');
    assert.equal(ids[0], 1, 'stories260K adds BOS by default');
    assert.deepEqual(await lm.tokenize('Once upon a time', { addBos: false }), ids.slice(1));
    // SentencePiece's leading space may come back: the text is what follows it.
    assert.equal((await lm.detokenize(ids)).trimStart(), 'Once upon a time');
    const info = lm.info();
    assert.equal(typeof info, 'object');
    assert.equal(info.architecture, 'llama');
    assert.ok(lm.contextSize > 0);
  } finally {
    await lm.unload();
  }
});
