// The native CLI contract (issue 2): golden greedy output, tokenizer parity
// with llama.cpp's reference ids, JSON from info/bench, and clean errors with
// a non-zero exit (never a signal) on bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = process.env.LOCALM_CLI ?? join(root, 'build', 'native', 'localm');
const shared = join(root, '..', 'shared');
const stories = join(shared, 'models', 'stories260K.gguf');
const noShared = existsSync(shared) ? false : 'needs ../shared (models, vocabularies, golden outputs)';
const noCli = existsSync(cli) ? false : `needs the native build (${cli}): run ./build.sh native`;

function localm(...args) {
  const r = spawnSync(cli, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.signal, null, `localm ${args.join(' ')} died of ${r.signal}`);
  return r;
}

test('run reproduces the golden greedy continuations', { skip: noShared || noCli }, () => {
  const golden = JSON.parse(readFileSync(join(shared, 'golden', 'stories260K-greedy.json'), 'utf8'));
  for (const c of golden.cases) {
    const r = localm('run', '-m', stories, '-p', c.prompt, '-n', String(c.n_predict), '--temp', '0');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, c.expected_continuation, `prompt ${JSON.stringify(c.prompt)}`);
    assert.match(r.stderr, /tok\/s/);
  }
});

// One process per text, a few at a time: loading a 100k-token vocabulary
// dominates, so the cores are kept busy.
async function tokenizeAll(jobs, parallel = 4) {
  const results = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      const { model, text } = jobs[i];
      results[i] = await new Promise((resolve) => {
        execFile(cli, ['tokenize', '-m', model, '--no-bos', text], { maxBuffer: 16 << 20 },
          (error, stdout, stderr) => resolve({ error, stdout, stderr }));
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return results;
}

test('tokenize --no-bos matches every reference vocabulary line', { skip: noShared || noCli }, async () => {
  const vocabDir = join(shared, 'vocab');
  const pairs = readdirSync(vocabDir).filter((f) => f.endsWith('.gguf.inp'));
  assert.ok(pairs.length >= 9, 'expected the shared vocabulary test pairs');
  const jobs = [];
  for (const inp of pairs) {
    const model = join(vocabDir, inp.replace(/\.inp$/, ''));
    const texts = readFileSync(join(vocabDir, inp), 'utf8').split('\n__ggml_vocab_test__\n');
    texts[texts.length - 1] = texts[texts.length - 1].replace(/\n__ggml_vocab_test__\n?$/, '');
    const expected = readFileSync(join(vocabDir, inp.replace(/\.inp$/, '.out')), 'utf8').split('\n');
    texts.forEach((text, i) => {
      // An empty argument is the "no text" usage error; the C test covers "".
      if (text !== '') jobs.push({ model, text, want: expected[i].trim(), label: `${inp} #${i}` });
    });
  }
  const results = await tokenizeAll(jobs);
  jobs.forEach((job, i) => {
    const { error, stdout, stderr } = results[i];
    assert.equal(error, null, `${job.label}: ${stderr}`);
    const want = job.want === '' ? [] : job.want.split(/\s+/).map(Number);
    assert.deepEqual(JSON.parse(stdout), want, `${job.label} ${JSON.stringify(job.text)}`);
  });
});

test('generation that fills the context stops there and keeps its text', { skip: noShared || noCli }, () => {
  const r = localm('run', '-m', stories, '-p', 'Once', '-n', '400', '--temp', '0', '--config', '{"ignore_eos": true}');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.length > 100, 'the text generated before the context filled up');
  assert.match(r.stderr, /context of 128 tokens is full/);
});

test('run --json-schema and --response-format constrain the output to JSON', { skip: noShared || noCli }, async () => {
  const { default: Ajv } = await import('ajv');
  const dir = mkdtempSync(join(tmpdir(), 'localm-json-'));
  const schema = {
    type: 'object',
    properties: {
      who: { type: 'string', maxLength: 10 },
      n: { type: 'integer', minimum: 1, maximum: 9 },
      tags: { type: 'array', items: { enum: ['a', 'b'] }, minItems: 1, maxItems: 2 },
    },
    required: ['who', 'n', 'tags'],
  };
  const file = join(dir, 'schema.json');
  writeFileSync(file, JSON.stringify(schema));
  const validate = new Ajv().compile(schema);
  for (const seed of ['1', '2', '3']) {
    const r = localm('run', '-m', stories, '-p', 'Once upon a time', '-n', '100', '--seed', seed, '--json-schema', file);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(validate(JSON.parse(r.stdout)), r.stdout);
    const o = localm('run', '-m', stories, '-p', 'Once', '-n', '60', '--seed', seed, '--response-format', '{"type":"json_object"}');
    assert.equal(o.status, 0, o.stderr);
    assert.equal(typeof JSON.parse(o.stdout), 'object', o.stdout);
  }
  writeFileSync(file, '{"type":"string","format":"date"}');
  const bad = localm('run', '-m', stories, '-p', 'Once', '--json-schema', file);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /"format" is not supported.*E_OPTION/);
  const missing = localm('run', '-m', stories, '-p', 'Once', '--json-schema', join(dir, 'none.json'));
  assert.match(missing.stderr, /cannot read/);
});

test('info prints the metadata as JSON', { skip: noShared || noCli }, () => {
  const r = localm('info', '-m', stories);
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.architecture, 'llama');
  assert.equal(info.hparams.n_embd, 64);
  assert.equal(info.metadata['general.architecture'], 'llama');
});

test('bench prints one JSON line with prefill and decode speed', { skip: noShared || noCli }, () => {
  const r = localm('bench', '-m', stories, '-p', '16', '-n', '8', '-t', '2', '-r', '1');
  assert.equal(r.status, 0, r.stderr);
  const line = JSON.parse(r.stdout.trim());
  assert.ok(line.prefill_tok_s > 0 && line.decode_tok_s > 0);
  assert.equal(line.threads, 2);
});

test('bad input gives "error:" and a non-zero exit, never a signal', { skip: noShared || noCli }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'localm-cli-'));
  const bytes = readFileSync(stories);
  const truncated = join(dir, 'truncated.gguf');
  writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
  const garbage = join(dir, 'garbage.gguf');
  writeFileSync(garbage, Buffer.from('this is not a model at all'));
  const cases = [
    [['run', '-m', join(dir, 'missing.gguf'), '-p', 'x'], /cannot open/],
    [['run', '-m', truncated, '-p', 'x'], /beyond the end of the file.*E_FORMAT/],
    [['run', '-m', garbage, '-p', 'x'], /not a GGUF file/],
    [['run', '-m', stories, '-p', 'x', '--config', '{"top_k": "many"}'], /top_k/],
    [['run', '-m', stories, '-p', 'x', '--config', '{not json'], /E_OPTION/],
    [['run', '-m', stories, '-p', 'x', '--temp', 'hot'], /--temp expects a number/],
    [['run', '-m', stories, '-p', 'Once upon a time '.repeat(40), '-n', '4'], /context full.*E_CONTEXT_FULL/],
    [['run', '-m', stories], /no prompt/],
    [['frobnicate'], /unknown command/],
    [['tokenize', '-m', garbage, 'x'], /not a GGUF file/],
  ];
  for (const [args, message] of cases) {
    const r = localm(...args);
    assert.notEqual(r.status, 0, `localm ${args.join(' ')} should fail`);
    assert.match(r.stderr, /^error: /m, `localm ${args.join(' ')}`);
    assert.match(r.stderr, message, `localm ${args.join(' ')}`);
  }
});
