// lm.embed on stories260K: the wasm vector matches `localm embed` (native)
// and llama.cpp's, is unit length and deterministic, ranks a paraphrase above
// an unrelated sentence, and fails with the API's error codes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import test from 'node:test';
import { promisify } from 'node:util';

import { loadLlama } from '../parity/llamacpp-trace.mjs';
import { errorOf, loadApi, nativeCli, needDist, needShared, storiesModel } from './helpers.mjs';

const exec = promisify(execFile);
const skip = needShared || needDist;
const skipNative = skip || (!existsSync(nativeCli) && `${nativeCli} is not built (./build.sh native)`);

const TEXT = 'Once upon a time, there was a little girl named Lily.';
// Native and wasm run the same float code but different matmul kernels
// (scalar vs SIMD128, summing in another order): measured max |diff| 1.5e-7.
const NATIVE_TOLERANCE = 1e-3;
// llama.cpp keeps its KV cache in F16: measured max |diff| 1.2e-4.
const LLAMACPP_TOLERANCE = 1e-3;

const dot = (a, b) => a.reduce((sum, v, i) => sum + v * b[i], 0);
const maxAbsDiff = (a, b) => a.reduce((worst, v, i) => Math.max(worst, Math.abs(v - b[i])), 0);

let lm = null;
async function model() {
  if (!lm) {
    const { LocalLM } = await loadApi();
    lm = await LocalLM.load(storiesModel);
  }
  return lm;
}

test('embed returns a unit-length Float32Array, the same each time', { skip }, async () => {
  const lm = await model();
  const a = await lm.embed(TEXT);
  assert.ok(a instanceof Float32Array);
  assert.equal(a.length, lm.info().hparams.n_embd);
  assert.ok(Math.abs(Math.hypot(...a) - 1) < 1e-5, `norm ${Math.hypot(...a)}`);
  await lm.complete('Lily went', { maxTokens: 4 }); // the context held something else meanwhile
  assert.deepEqual(await lm.embed(TEXT), a);
  const [b, c] = await lm.embed([TEXT, '']);
  assert.deepEqual(b, a);
  assert.ok(Math.abs(Math.hypot(...c) - 1) < 1e-5, 'the empty text embeds BOS');
  assert.deepEqual(await lm.embed([]), []);
});

test('embed agrees with `localm embed` (native)', { skip: skipNative }, async (t) => {
  const lm = await model();
  for (const text of [TEXT, 'The cat sat on the mat.', '']) {
    const { stdout } = await exec(nativeCli, ['embed', '-m', storiesModel, text]);
    const native = JSON.parse(stdout);
    const wasm = await lm.embed(text);
    assert.equal(wasm.length, native.length);
    const worst = maxAbsDiff(wasm, native);
    t.diagnostic(`"${text}": max |wasm - native| ${worst.toExponential(2)} (tolerance ${NATIVE_TOLERANCE})`);
    assert.ok(worst < NATIVE_TOLERANCE, `max |diff| ${worst}`);
  }
});

test('`localm embed` reports bad use and long text as errors', { skip: skipNative }, async () => {
  const failure = (...args) => exec(nativeCli, ['embed', ...args]).then(
    () => assert.fail(`localm embed ${args.join(' ')} succeeded`), (error) => error);
  assert.match((await failure('-m', storiesModel)).stderr, /error: no text given/);
  assert.match((await failure('-m', storiesModel, '--bogus', 'x')).stderr, /unknown option '--bogus'/);
  assert.match((await failure('-m', storiesModel, '-t', '0', 'x')).stderr, /-t expects an integer/);
  const full = await failure('-m', storiesModel, '-c', '8', TEXT);
  assert.equal(full.code, 1);
  assert.match(full.stderr, /the text is \d+ tokens but the context holds 8 \(E_CONTEXT_FULL\)/);
});

test('a paraphrase scores a higher cosine than an unrelated sentence', { skip }, async (t) => {
  const lm = await model();
  const pairs = [
    ['The little girl played with her dog in the park.', 'A small girl was playing with her puppy in the park.',
      'The old man fixed the roof of the big red barn.'],
    ['Tom was sad because his toy was broken.', 'Tom felt sad because his toy broke.',
      'The sun was shining and the birds sang in the trees.'],
  ];
  for (const [anchor, similar, unrelated] of pairs) {
    const [a, s, u] = await lm.embed([anchor, similar, unrelated]);
    const near = dot(a, s);
    const far = dot(a, u);
    t.diagnostic(`cos(paraphrase) ${near.toFixed(4)}, cos(unrelated) ${far.toFixed(4)}: "${anchor}"`);
    assert.ok(near > far, `paraphrase ${near} <= unrelated ${far}`);
  }
});

test('embed errors carry codes', { skip }, async () => {
  const lm = await model();
  const long = ' cat'.repeat(lm.contextSize + 1);
  const full = await errorOf(lm.embed(long));
  assert.equal(full.code, 'E_CONTEXT_FULL');
  assert.match(full.message, new RegExp(`but the context holds ${lm.contextSize}`));
  for (const bad of [42, null, ['ok', 7]]) assert.equal((await errorOf(lm.embed(bad))).code, 'E_ARGUMENT');
  // The worker is still usable afterwards.
  assert.equal((await lm.embed('ok')).length, (await lm.embed(TEXT)).length);
});

// node-llama-cpp cannot choose the pooling (stories260K has no pooling_type
// key, so llama.cpp returns the last token's output-normed hidden state). As
// attention is causal, the hidden state of token i is the last state of the
// prefix ending at i, so mean pooling is the normalised sum over prefixes.
const llama = skip ? null : await loadLlama();
test('embed matches llama.cpp\'s hidden states, mean-pooled', {
  skip: skip || (!llama && 'node-llama-cpp (with its prebuilt CPU binary) is not installed'),
}, async (t) => {
  const lm = await model();
  const ref = await llama.loadModel({ modelPath: storiesModel, gpuLayers: 0 });
  const context = await ref.createEmbeddingContext({ contextSize: 512, threads: 1 });
  try {
    const tokens = ref.tokenize(TEXT, false);
    if (ref.tokens.shouldPrependBosToken) tokens.unshift(ref.tokens.bos);
    assert.deepEqual(tokens, await lm.tokenize(TEXT), 'both tokenize the text alike');
    const sum = new Float64Array(ref.embeddingVectorSize);
    for (let i = 1; i <= tokens.length; i++) {
      const { vector } = await context.getEmbeddingFor(tokens.slice(0, i));
      vector.forEach((v, j) => { sum[j] += v; });
    }
    const norm = Math.hypot(...sum);
    const expected = Array.from(sum, (v) => v / norm);
    const worst = maxAbsDiff(await lm.embed(TEXT), expected);
    t.diagnostic(`max |localm - llama.cpp| ${worst.toExponential(2)} (tolerance ${LLAMACPP_TOLERANCE})`);
    assert.ok(worst < LLAMACPP_TOLERANCE, `max |diff| ${worst}`);
  } finally {
    await context.dispose();
    await ref.dispose();
  }
});

test('embed teardown', { skip }, async () => {
  await lm?.unload();
  await llama?.dispose();
});
