// The wasm build reproduces llama.cpp's greedy continuations of stories260K.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import test from 'node:test';

import { goldenFile, loadApi, needDist, needShared, storiesModel } from './helpers.mjs';

test('stories260K greedy output matches the golden file', { skip: needShared || needDist }, async () => {
  const { LocalLM } = await loadApi();
  const golden = JSON.parse(readFileSync(goldenFile, 'utf8'));
  // A relative path, as apps in Node pass it.
  const lm = await LocalLM.load(relative(process.cwd(), storiesModel));
  try {
    assert.ok(golden.cases.length > 0);
    for (const { prompt, n_predict: maxTokens, expected_continuation: expected } of golden.cases) {
      const { text, stats } = await lm.complete(prompt, { maxTokens, temperature: 0 });
      assert.equal(text, expected, `continuation of ${JSON.stringify(prompt)}`);
      assert.equal(stats.genTokens, maxTokens);
    }
  } finally {
    await lm.unload();
  }
});
