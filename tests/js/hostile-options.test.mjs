// Hostile arguments to a loaded model: malformed generation options, odd
// prompts, bad token ids and chat messages. Each call completes or rejects
// with an Error whose .code is one of the expected ones (never a bare
// TypeError or E_INTERNAL), and the model gives the same greedy text after.
import assert from 'node:assert/strict';
import test from 'node:test';

import { loadApi, needDist, needShared, storiesModel } from './helpers.mjs';

const skip = needShared || needDist;
const OK = 'completes';

// [what, call(lm), outcomes allowed: error codes and/or OK].
const CASES = [
  ['negative maxTokens', (lm) => lm.complete('Once', { maxTokens: -5 }), ['E_OPTION']],
  ['fractional maxTokens', (lm) => lm.complete('Once', { maxTokens: 2.5 }), ['E_OPTION']],
  ['maxTokens past int32', (lm) => lm.complete('Once', { maxTokens: 2 ** 40 }), ['E_OPTION']],
  ['seed past 2^53', (lm) => lm.complete('Once', { seed: 2 ** 60 }), ['E_OPTION']],
  ['negative seed', (lm) => lm.complete('Once', { seed: -1 }), ['E_OPTION']],
  ['stop string of 64 bytes', (lm) => lm.complete('Once', { stop: 'x'.repeat(64) }), ['E_OPTION']],
  ['empty stop string', (lm) => lm.complete('Once', { stop: '' }), ['E_OPTION']],
  ['stop as an object', (lm) => lm.complete('Once', { stop: { a: 1 } }), ['E_OPTION']],
  ['nine stop strings', (lm) => lm.complete('Once', { stop: Array(9).fill('a') }), ['E_OPTION']],
  ['stop with a NUL', (lm) => lm.complete('Once', { stop: 'a\0b', maxTokens: 4 }), ['E_OPTION', OK]],
  ['topK as a string', (lm) => lm.complete('Once', { topK: '5' }), ['E_OPTION']],
  ['topK as an object', (lm) => lm.complete('Once', { topK: { valueOf: () => 5 } }), ['E_OPTION']],
  ['ignoreEos as a string', (lm) => lm.complete('Once', { ignoreEos: 'yes' }), ['E_OPTION']],
  ['repeatLastN of 1e9', (lm) => lm.complete('Once', { repeatLastN: 1e9 }), ['E_OPTION']],
  ['option named __proto__', (lm) => lm.complete('Once', JSON.parse('{"__proto__": {"x": 1}}')), ['E_OPTION']],
  ['option named toString', (lm) => lm.complete('Once', { toString: 1 }), ['E_OPTION']],
  ['lone surrogate in the prompt', (lm) => lm.complete('Once \ud800 upon', { maxTokens: 4 }), [OK]],
  ['NUL in the prompt', (lm) => lm.complete('Once\0upon', { maxTokens: 4 }), [OK]],
  ['prompt of 8000 tokens', (lm) => lm.complete('Once upon a time '.repeat(2000), { maxTokens: 4 }), ['E_CONTEXT_FULL']],
  ['prompt of 1 MiB', (lm) => lm.complete('a'.repeat(1 << 20), { maxTokens: 1 }), ['E_CONTEXT_FULL']],
  ['negative token id', (lm) => lm.detokenize([-1]), ['E_ARGUMENT']],
  ['token id 2^31', (lm) => lm.detokenize([2 ** 31]), ['E_ARGUMENT']],
  ['fractional token id', (lm) => lm.detokenize([1.5]), ['E_ARGUMENT']],
  ['a million token ids', (lm) => lm.detokenize(new Int32Array(1e6).fill(5)), [OK]],
  ['special-token text', (lm) => lm.tokenize('<|im_start|>x'.repeat(100), { special: true }), [OK]],
  ['chat message without role', (lm) => drain(lm.chat([{ role: 5, content: {} }, null], { maxTokens: 4 })), ['E_TEMPLATE']],
  ['chat with a huge message', (lm) => drain(lm.chat([{ role: 'user', content: 'hi '.repeat(5000) }], { maxTokens: 4 })), ['E_CONTEXT_FULL']],
];

// Values JSON cannot carry: today NaN/Infinity become null and a function is
// dropped (the option silently falls back to its default, generating up to
// the context), a BigInt or a non-AbortSignal signal throws a TypeError
// without a code.
const NON_JSON_CASES = [
  ['NaN temperature', (lm) => lm.complete('Once', { temperature: NaN }), ['E_OPTION']],
  ['Infinity temperature', (lm) => lm.complete('Once', { temperature: Infinity }), ['E_OPTION']],
  ['maxTokens as a function', (lm) => lm.complete('Once', { maxTokens: () => 5 }), ['E_OPTION']],
  ['maxTokens as a BigInt', (lm) => lm.complete('Once', { maxTokens: 5n }), ['E_OPTION']],
  ['signal that is not an AbortSignal', (lm) => lm.complete('Once', { signal: {} }), ['E_OPTION']],
];

async function drain(pieces) {
  let text = '';
  for await (const piece of pieces) text += piece.text;
  return text;
}

async function outcome(call) {
  try {
    await call();
    return { code: OK };
  } catch (error) {
    return { code: error?.code ?? `no code (${error?.name}: ${error?.message})`, message: error?.message };
  }
}

async function runCases(cases) {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel);
  const greedy = () => lm.complete('Once', { maxTokens: 8, temperature: 0 }).then((r) => r.text);
  try {
    const expected = await greedy();
    const failures = [];
    for (const [what, call, allowed] of cases) {
      const { code, message } = await outcome(() => call(lm));
      if (!allowed.includes(code)) failures.push(`${what}: ${code} ${message ?? ''} (allowed: ${allowed.join(', ')})`);
      else if (code !== OK && !message) failures.push(`${what}: ${code} without a message`);
      const after = await greedy().catch((error) => `failed: ${error.code} ${error.message}`);
      if (after !== expected) failures.push(`${what}: the model then gave ${JSON.stringify(after)}`);
    }
    assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases`);
  } finally {
    await lm.unload();
  }
}

test('hostile options, prompts, token ids and chat messages give clean codes', { skip, timeout: 60_000 },
  () => runCases(CASES));

test('option values JSON cannot carry are E_OPTION', { skip }, () => runCases(NON_JSON_CASES));
