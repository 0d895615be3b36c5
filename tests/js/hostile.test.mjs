// Hostile GGUF through LocalLM.load: every row of the native hostile tables
// (tests/c/test_gguf.c and tests/c/test_model.c) rejects with the same error
// code and message words through the worker, and loading a real model and
// generating still works after each. The rows, codes and message words are
// read from the C sources, so the two tables cannot drift apart: a new C row
// without a builder here fails this test. Cases the C tables lack (marked
// JS-only) follow them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';

import { errorOf, loadApi, needDist, needShared, repoRoot, storiesModel } from './helpers.mjs';

const skip = needShared || needDist;
const CONCURRENCY = 2; // every load starts its own worker: run two at a time

// ---- GGUF bytes, field by field (the twin of tests/c/gguf_builder.h) ----

const GGUF = { UINT32: 4, INT32: 5, FLOAT32: 6, STRING: 8, ARRAY: 9 };

class GgufBuilder {
  constructor() { this.buf = Buffer.alloc(256); this.len = 0; }
  room(n) {
    if (this.len + n <= this.buf.length) return;
    const bigger = Buffer.alloc((this.len + n) * 2);
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }
  bytes(b) { this.room(b.length); Buffer.from(b).copy(this.buf, this.len); this.len += b.length; }
  u32(v) { this.room(4); this.buf.writeUInt32LE(v, this.len); this.len += 4; }
  u64(v) { this.room(8); this.buf.writeBigUInt64LE(BigInt(v), this.len); this.len += 8; }
  f32(v) { this.room(4); this.buf.writeFloatLE(v, this.len); this.len += 4; }
  str(s) { const b = Buffer.from(s); this.u64(b.length); this.bytes(b); }
  header(version, nTensors, nKv) { this.bytes(Buffer.from('GGUF')); this.u32(version); this.u64(nTensors); this.u64(nKv); }
  kvU32(key, v) { this.str(key); this.u32(GGUF.UINT32); this.u32(v); }
  kvF32(key, v) { this.str(key); this.u32(GGUF.FLOAT32); this.f32(v); }
  kvStr(key, v) { this.str(key); this.u32(GGUF.STRING); this.str(v); }
  kvArray(key, elementType, n) { this.str(key); this.u32(GGUF.ARRAY); this.u32(elementType); this.u64(n); }
  tensorInfo(name, ne, type, offset) {
    this.str(name);
    this.u32(ne.length);
    for (const n of ne) this.u64(n);
    this.u32(type);
    this.u64(offset);
  }
  align(alignment) { while (this.len % alignment) this.bytes([0]); }
  result() { return new Uint8Array(this.buf.subarray(0, this.len)); }
}

// ---- the rows of tests/c/test_gguf.c, by the C builder's name -----------

function validFile(b) {
  b.header(3, 2, 2);
  b.kvStr('general.architecture', 'llama');
  b.kvU32('general.alignment', 32);
  b.tensorInfo('a', [8, 2], 0, 0);
  b.tensorInfo('b', [8], 0, 64);
  b.align(32);
  for (let i = 0; i < 16 + 8; i++) b.f32(i);
}

function oneTensor(b, ne, type, offset, dataBytes) {
  b.header(3, 1, 0);
  b.tensorInfo('t', ne, type, offset);
  b.align(32);
  b.bytes(new Uint8Array(dataBytes));
}

const U64_MAX = 2n ** 64n - 1n;

const GGUF_BUILDERS = {
  bad_magic: (b) => { validFile(b); b.buf.write('GGUG', 0); },
  version_1: (b) => b.header(1, 0, 0),
  version_big_endian: (b) => b.header(0x03000000, 0, 0),
  too_short: (b) => b.bytes(Buffer.from('GGUF')),
  kv_count_huge: (b) => { b.header(3, 0, 2n ** 60n); b.u64(0); },
  tensor_count_huge: (b) => { b.header(3, 2n ** 40n, 0); b.u64(0); },
  key_length_beyond_file: (b) => { b.header(3, 0, 1); b.u64(2n ** 40n); b.u32(0); },
  string_value_beyond_file: (b) => {
    b.header(3, 0, 1);
    b.str('k');
    b.u32(GGUF.STRING);
    b.u64(1000);
    b.bytes(Buffer.from('short'));
  },
  unknown_value_type: (b) => { b.header(3, 0, 1); b.str('k'); b.u32(99); b.u32(0); },
  array_count_beyond_file: (b) => { b.header(3, 0, 1); b.kvArray('k', GGUF.UINT32, 2n ** 61n); b.u32(0); },
  nested_array: (b) => { b.header(3, 0, 1); b.kvArray('k', GGUF.ARRAY, 1); b.u64(0); },
  duplicate_key: (b) => { b.header(3, 0, 2); b.kvU32('k', 1); b.kvU32('k', 2); },
  alignment_not_power_of_two: (b) => { b.header(3, 0, 1); b.kvU32('general.alignment', 24); },
  alignment_wrong_type: (b) => { b.header(3, 0, 1); b.kvF32('general.alignment', 32); },
  too_many_dims: (b) => oneTensor(b, [1, 1, 1, 1, 1], 0, 0, 4),
  zero_dims: (b) => oneTensor(b, [], 0, 0, 4),
  zero_size_dim: (b) => oneTensor(b, [4, 0], 0, 0, 16),
  negative_dim: (b) => oneTensor(b, [U64_MAX], 0, 0, 4),
  element_overflow: (b) => oneTensor(b, [2n ** 32n, 2n ** 32n, 4], 0, 0, 4),
  byte_overflow: (b) => oneTensor(b, [2n ** 31n, 2n ** 31n], 0, 0, 4),
  unknown_tensor_type: (b) => oneTensor(b, [4], 77, 0, 16),
  row_not_whole_blocks: (b) => oneTensor(b, [40], 8, 0, 64),
  offset_misaligned: (b) => oneTensor(b, [4], 0, 4, 64),
  data_beyond_file: (b) => oneTensor(b, [64], 0, 0, 100),
  offset_beyond_file: (b) => oneTensor(b, [4], 0, 2n ** 62n, 16),
  overlapping_tensors: (b) => {
    b.header(3, 2, 0);
    b.tensorInfo('a', [16], 0, 0);
    b.tensorInfo('b', [16], 0, 32);
    b.align(32);
    for (let i = 0; i < 32; i++) b.f32(0);
  },
  duplicate_tensor_name: (b) => {
    b.header(3, 2, 0);
    b.tensorInfo('a', [8], 0, 0);
    b.tensorInfo('a', [8], 0, 32);
    b.align(32);
    for (let i = 0; i < 16; i++) b.f32(0);
  },
  tensor_info_truncated: (b) => { b.header(3, 1, 0); b.u64(40); b.bytes(Buffer.alloc(30, 'x')); },
};

// ---- the tiny llama of tests/c/test_model.c, with one field broken ------

const EMBD = 8;
const FF = 16;
const VOCAB = 8;
const CTX = 16;
const TENSORS = [
  ['token_embd.weight', EMBD, VOCAB], ['output_norm.weight', EMBD, 1],
  ['output.weight', EMBD, VOCAB], ['blk.0.attn_norm.weight', EMBD, 1],
  ['blk.0.attn_q.weight', EMBD, EMBD], ['blk.0.attn_k.weight', EMBD, EMBD / 2],
  ['blk.0.attn_v.weight', EMBD, EMBD / 2], ['blk.0.attn_output.weight', EMBD, EMBD],
  ['blk.0.ffn_norm.weight', EMBD, 1], ['blk.0.ffn_gate.weight', EMBD, FF],
  ['blk.0.ffn_up.weight', EMBD, FF], ['blk.0.ffn_down.weight', FF, EMBD],
];

const BREAKAGE_FIELDS = ['drop_key', 'arch', 'drop_tensor', 'odd_tensor', 'odd_type', 'odd_rows', 'head_count',
  'split_count'];

// breakage: the C struct's fields (drop_key, arch, drop_tensor, odd_tensor,
// odd_type, odd_rows, head_count, split_count) plus JS-only ones: set (keys
// replaced or added: number -> uint32, string -> string) and n_scores.
function buildModel(k = {}) {
  const keys = [];
  const set = k.set ?? {};
  const kv = (key, write) => { if (key !== k.drop_key) keys.push([key, write]); };
  const value = (key, v) => (b) => {
    const actual = key in set ? set[key] : v;
    if (typeof actual === 'string') b.kvStr(key, actual);
    else b.kvU32(key, actual);
  };
  const pieces = ['<unk>', '<s>', '</s>', '\u2581', 'a', 'b', '\u2581a', '\u2581b'];
  const nScores = k.n_scores ?? VOCAB;
  kv('general.architecture', value('general.architecture', k.arch ?? 'llama'));
  kv('tokenizer.ggml.model', value('tokenizer.ggml.model', 'llama'));
  kv('tokenizer.ggml.tokens', (b) => { b.kvArray('tokenizer.ggml.tokens', GGUF.STRING, VOCAB); pieces.forEach((p) => b.str(p)); });
  kv('tokenizer.ggml.scores', (b) => {
    b.kvArray('tokenizer.ggml.scores', GGUF.FLOAT32, nScores);
    for (let i = 0; i < nScores; i++) b.f32(-i);
  });
  kv('tokenizer.ggml.token_type', (b) => {
    b.kvArray('tokenizer.ggml.token_type', GGUF.INT32, VOCAB);
    for (const t of [2, 3, 3, 1, 1, 1, 1, 1]) b.u32(t);
  });
  if (k.split_count) kv('split.count', value('split.count', k.split_count));
  for (const [key, v] of [['llama.embedding_length', EMBD], ['llama.block_count', 1],
    ['llama.feed_forward_length', FF], ['llama.attention.head_count', k.head_count || 2],
    ['llama.attention.head_count_kv', 1], ['llama.context_length', CTX]]) kv(key, value(key, v));
  const written = new Set(keys.map(([key]) => key));
  for (const key of Object.keys(set)) if (!written.has(key)) kv(key, value(key));

  const tensors = TENSORS.filter(([name]) => name !== k.drop_tensor);
  const b = new GgufBuilder();
  b.header(3, tensors.length, keys.length);
  for (const [, write] of keys) write(b);
  let offset = 0;
  for (const [name, cols, rows] of tensors) {
    const odd = name === k.odd_tensor;
    const ne = [cols, odd && k.odd_rows ? k.odd_rows : rows];
    b.tensorInfo(name, ne[1] === 1 ? [cols] : ne, odd ? k.odd_type ?? 0 : 0, offset);
    offset += Math.ceil((ne[0] * ne[1] * 4) / 32) * 32;
  }
  b.align(32);
  let state = 7n;
  for (let i = 0; i < offset / 4; i++) {
    state = (state * 6364136223846793005n + 1442695040888963407n) & U64_MAX;
    b.f32((Number((state >> 40n) % 2001n) - 1000) / 500);
  }
  return b.result();
}

// ---- the C tables, read from the C sources ------------------------------

const cSource = (name) => readFileSync(join(repoRoot, 'tests/c', name), 'utf8');
const unescapeC = (s) => s.replace(/\\x([0-9a-f]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));

function ggufTable() {
  const rows = [...cSource('test_gguf.c').matchAll(/\{"([^"]+)",\s*(\w+),\s*LM_(E_\w+),\s*"([^"]*)"\}/g)];
  return rows.map(([, name, builder, code, part]) => ({ name, builder, code, part: unescapeC(part) }));
}

// expect_error("what", &(breakage){.field = value, ...}, LM_E_X, "part");
function modelTable() {
  const rows = [...cSource('test_model.c').matchAll(
    /expect_error\("([^"]+)",\s*&\(breakage\)\{([^}]*)\},\s*LM_(E_\w+),\s*"([^"]*)"\)/g)];
  return rows.map(([, name, fields, code, part]) => {
    const breakage = {};
    for (const [, field, text, number] of fields.matchAll(/\.(\w+)\s*=\s*(?:"([^"]*)"|(\d+))/g)) {
      breakage[field] = text ?? Number(number);
    }
    return { name, breakage, code, part: unescapeC(part) };
  });
}

// ---- running cases through LocalLM --------------------------------------

async function pool(items, limit, fn) {
  const queue = [...items.entries()];
  const run = async () => { for (let next; (next = queue.shift());) await fn(next[1], next[0]); };
  await Promise.all(Array.from({ length: limit }, run));
}

// A fresh load of stories260K generates, and the model loaded before the
// hostile ones still gives its greedy text.
async function assertStillUsable(LocalLM, resident, expected, after) {
  assert.equal((await resident.complete('Once', { maxTokens: 8, temperature: 0 })).text, expected,
    `the resident model changed its output after ${after}`);
  const lm = await LocalLM.load(storiesModel);
  try {
    assert.equal((await lm.complete('Once', { maxTokens: 8, temperature: 0 })).text, expected,
      `a fresh load after ${after}`);
  } finally {
    await lm.unload();
  }
}

// makeCases: () => [{ name, bytes, code, part: string or RegExp }].
function hostileSuite(makeCases) {
  return async () => {
    const cases = makeCases();
    const { LocalLM } = await loadApi();
    const resident = await LocalLM.load(storiesModel);
    const expected = (await resident.complete('Once', { maxTokens: 8, temperature: 0 })).text;
    const failures = [];
    try {
      await pool(cases, CONCURRENCY, async ({ name, bytes, code, part }) => {
        try {
          const error = await errorOf(LocalLM.load(bytes));
          assert.ok(error instanceof Error, 'an Error');
          assert.equal(error.code, code, `code (message: ${error.message})`);
          if (typeof part === 'string') assert.ok(error.message.includes(part), `message '${error.message}' lacks '${part}'`);
          else assert.match(error.message, part);
          await assertStillUsable(LocalLM, resident, expected, name);
        } catch (error) {
          failures.push(`${name}: ${error.message}`);
        }
      });
    } finally {
      await resident.unload();
    }
    assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases failed`);
  };
}

const build = (fn) => { const b = new GgufBuilder(); fn(b); return b.result(); };

test('the JS builder of the tiny model is a valid model (the base the model rows break)', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(buildModel());
  try {
    assert.equal(lm.contextSize, CTX);
    assert.equal((await lm.complete('ab', { maxTokens: 3, temperature: 0, ignoreEos: true })).stats.genTokens, 3);
  } finally {
    await lm.unload();
  }
  const valid = await LocalLM.load(build(validFile)).catch((e) => e);
  assert.match(valid.message, /general\.architecture|lacks/, 'the valid GGUF of test_gguf.c parses up to the model check');
});

test('every row of the test_gguf.c hostile table, through LocalLM.load', { skip, timeout: 120_000 },
  hostileSuite(() => ggufTable().map(({ name, builder, code, part }) => {
    assert.ok(GGUF_BUILDERS[builder], `test_gguf.c row '${name}' uses ${builder}(), which has no JS twin here`);
    return { name, bytes: build(GGUF_BUILDERS[builder]), code, part };
  })));

test('every row of the test_model.c broken-model table, through LocalLM.load', { skip, timeout: 120_000 },
  hostileSuite(() => modelTable().map(({ name, breakage, code, part }) => ({ name, bytes: buildModel(breakage), code, part }))));

test('the tables read from the C sources are complete', () => {
  const gguf = cSource('test_gguf.c');
  const table = gguf.slice(gguf.indexOf('cases[] = {'), gguf.indexOf('};', gguf.indexOf('cases[] = {')));
  assert.equal(ggufTable().length, (table.match(/LM_E_\w+/g) ?? []).length, 'every row of cases[] in test_gguf.c was read');
  const calls = cSource('test_model.c').match(/^\s+expect_error\(/gm) ?? [];
  assert.equal(modelTable().length, calls.length, 'every expect_error() row of test_model.c was read');
  for (const { name, breakage } of modelTable()) {
    for (const field of Object.keys(breakage)) {
      assert.ok(BREAKAGE_FIELDS.includes(field), `test_model.c row '${name}' sets .${field}, which buildModel does not know`);
    }
  }
});

// JS-only: broken values the C breakage struct cannot express.
const JS_ONLY_MODEL_CASES = [
  { name: 'layer count 0', breakage: { set: { 'llama.block_count': 0 } }, code: 'E_FORMAT', part: 'hyper-parameters out of range' },
  { name: 'layer count past 4096', breakage: { set: { 'llama.block_count': 5000 } }, code: 'E_FORMAT', part: 'hyper-parameters out of range' },
  { name: 'context length 0', breakage: { set: { 'llama.context_length': 0 } }, code: 'E_FORMAT', part: 'hyper-parameters out of range' },
  { name: 'hyper-parameter of the wrong type', breakage: { set: { 'llama.embedding_length': 'eight' } }, code: 'E_FORMAT', part: "'llama.embedding_length' is not a valid integer" },
  { name: 'odd RoPE dimensions', breakage: { set: { 'llama.rope.dimension_count': 3 } }, code: 'E_FORMAT', part: 'rope.dimension_count 3 does not fit' },
  { name: 'unknown tokenizer', breakage: { set: { 'tokenizer.ggml.model': 'wordpiece' } }, code: 'E_UNSUPPORTED', part: "'wordpiece' is not supported" },
  { name: 'missing token list', breakage: { drop_key: 'tokenizer.ggml.tokens' }, code: 'E_FORMAT', part: 'tokenizer.ggml.tokens is missing' },
  { name: 'scores for fewer tokens', breakage: { n_scores: VOCAB - 1 }, code: 'E_FORMAT', part: 'has 7 entries for 8 tokens' },
  { name: 'vocabulary larger than the embedding', breakage: { odd_tensor: 'token_embd.weight', odd_rows: VOCAB - 2 }, code: 'E_FORMAT', part: "'token_embd.weight' has shape [8, 6" },
];

test('JS-only broken hyper-parameters and vocabularies, through LocalLM.load', { skip, timeout: 120_000 },
  hostileSuite(() => JS_ONLY_MODEL_CASES.map(({ breakage, ...c }) => ({ ...c, bytes: buildModel(breakage) }))));

// JS-only: a real model and the tiny one cut at points spread over the
// header, metadata, tensor infos and data: always E_FORMAT, never a model.
function truncations(bytes, label, count) {
  const points = new Set([0, 3, 8, 23]); // in the magic, version and counts
  for (let i = 1; i < count; i++) points.add(Math.floor((bytes.length * i * i) / (count * count)));
  return [...points].filter((n) => n < bytes.length).map((n) => ({
    name: `${label} cut at ${n} of ${bytes.length} bytes`,
    bytes: bytes.slice(0, n),
    code: 'E_FORMAT',
    part: /truncated|beyond the end|more than the file can hold|only \d+ bytes|bad magic|lacks/,
  }));
}

test('JS-only: truncated at many points, through LocalLM.load', { skip, timeout: 120_000 },
  hostileSuite(() => [...truncations(new Uint8Array(readFileSync(storiesModel)), 'stories260K', 9),
    ...truncations(buildModel(), 'tiny model', 9)]));

// ---- memory limits --------------------------------------------------------

const MIB = /model needs ([\d.]+) MiB \(weights ([\d.]+) MiB \+ context of (\d+) tokens ([\d.]+) MiB\) but only ([\d.]+) MiB are available/;

// Loads stories260K with `options` expecting a rejection; returns the error
// after checking that loading and generating still work.
async function refusedLoad(options) {
  const { LocalLM } = await loadApi();
  const reference = await LocalLM.load(storiesModel);
  try {
    const expected = (await reference.complete('Once', { maxTokens: 8, temperature: 0 })).text;
    const error = await errorOf(LocalLM.load(storiesModel, options));
    await assertStillUsable(LocalLM, reference, expected, JSON.stringify(options));
    return error;
  } finally {
    await reference.unload();
  }
}

test('weights + KV cache over the wasm32 limit: E_MEMORY with the numbers, then still usable', { skip }, async () => {
  const contextSize = 1 << 22;
  const error = await refusedLoad({ contextSize });
  assert.equal(error.code, 'E_MEMORY', error.message);
  const [, need, weights, tokens, context, available] = MIB.exec(error.message)?.map(Number) ?? [];
  assert.ok(need, `the message gives the sizes: ${error.message}`);
  assert.equal(tokens, contextSize);
  assert.ok(Math.abs(need - weights - context) < 0.2, `${need} = ${weights} + ${context}`);
  assert.ok(need > 4096 && available <= 4096 && available > 3000, `needs ${need} MiB, ${available} MiB available`);
  console.log(`memory: contextSize ${contextSize} refused: ${error.message}`);
});

test('the largest context the core accepts loads and generates', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel, { contextSize: 1 << 20 });
  try {
    assert.equal(lm.contextSize, 1 << 20);
    assert.equal((await lm.complete('Once', { maxTokens: 4 })).stats.genTokens, 4);
    console.log(`memory: contextSize ${1 << 20} runs in ${(lm.stats().wasmMemoryBytes / 2 ** 20).toFixed(0)} MiB of wasm memory`);
  } finally {
    await lm.unload();
  }
});

test('a context over the core limit that fits in memory is refused naming the size', { skip }, async () => {
  const contextSize = (1 << 20) + 1;
  const error = await refusedLoad({ contextSize });
  assert.ok(['E_OPTION', 'E_ARGUMENT', 'E_MEMORY'].includes(error.code), `${error.code}: ${error.message}`);
  assert.ok(error.message.includes(String(contextSize)), error.message);
});

// contextSize crosses into an int32 parameter: larger values are refused,
// never wrapped (2^32 + 16 would otherwise arrive as 16).
test('a contextSize past int32 is refused, not wrapped', { skip }, async () => {
  for (const contextSize of [2 ** 31, 2 ** 32 + 16]) {
    const error = await refusedLoad({ contextSize }).catch((e) => e);
    assert.ok(['E_OPTION', 'E_MEMORY'].includes(error.code), `contextSize ${contextSize}: ${error.message}`);
  }
});

// Under the files' size the worker refuses before allocating anything; with
// room for the files but not the KV cache and scratch the core refuses.
test('a caller budget (memoryBudget) under the model size is E_MEMORY with the numbers', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const files = await refusedLoad({ memoryBudget: 1 << 20 });
  assert.equal(files.code, 'E_MEMORY', files.message);
  assert.match(files.message, /files take [\d.]+ MiB but only 1\.0 MiB are available \(the memoryBudget option\)/);
  const total = await refusedLoad({ memoryBudget: 1200 * 1024 });
  assert.equal(total.code, 'E_MEMORY', total.message);
  assert.match(total.message, MIB);
  const lm = await LocalLM.load(storiesModel, { memoryBudget: 64 << 20 });
  await lm.unload();
});
