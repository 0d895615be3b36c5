// Structured output (issue 7): responseFormat constrains sampling in the core
// so that every output parses and matches its schema. 100 sampled outputs,
// half from stories260K (SentencePiece) and half from a synthetic llama with
// GPT-2's byte-level BPE vocabulary, are checked with an independent
// validator (ajv); then the errors a caller can make.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { promisify } from 'node:util';
import Ajv from 'ajv';

import { errorOf, loadApi, needDist, needShared, repoRoot, sharedDir, storiesModel } from './helpers.mjs';

const run = promisify(execFile);
const synth = join(repoRoot, 'build/native/localm-synth');
const gpt2Vocab = join(sharedDir, 'vocab/ggml-vocab-gpt-2.gguf');
const skip = needDist || needShared
  || (!existsSync(synth) && `${synth} is not built (./build.sh native)`);

// Together: nested objects, arrays (minItems/maxItems), strings (enum,
// minLength/maxLength), numbers, integers (minimum/maximum), booleans, null,
// enums of mixed literals, const, required and optional keys, a type list.
const SCHEMAS = [
  {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 12 },
      age: { type: 'integer', minimum: 0, maximum: 120 },
      happy: { type: 'boolean' },
      pet: { enum: ['cat', 'dog', 'bird'] },
      nick: { type: ['string', 'null'], maxLength: 6 },
    },
    required: ['name', 'age', 'nick'],
  },
  {
    type: 'object',
    properties: {
      title: { type: 'string', maxLength: 20 },
      tags: { type: 'array', items: { type: 'string', enum: ['red', 'green', 'blue'] }, minItems: 1, maxItems: 3 },
      score: { type: 'number', minimum: -5, maximum: 5 },
      meta: {
        type: 'object',
        properties: { version: { const: 2 }, note: { type: 'null' }, ok: { type: 'boolean' } },
        required: ['version', 'ok'],
      },
    },
    required: ['tags', 'meta'],
  },
  {
    type: 'array',
    items: {
      type: 'object',
      properties: { id: { type: 'integer' }, label: { type: 'string', maxLength: 8 }, value: { enum: [1, 2.5, 'x', true, null] } },
      required: ['id', 'value'],
    },
    minItems: 2,
    maxItems: 4,
  },
  {
    type: 'object',
    properties: {
      kind: { const: 'event' },
      when: { type: 'object', properties: { day: { type: 'integer', minimum: 1, maximum: 31 }, pm: { type: 'boolean' } }, required: ['day'] },
      who: { type: 'array', items: { type: 'string', maxLength: 10 }, maxItems: 2 },
      extra: {},
    },
    required: ['kind', 'when', 'who'],
  },
  { type: 'string', enum: ['yes', 'no', 'maybe'] },
];
// json_object mode is checked as "any object".
const FORMATS = [
  ...SCHEMAS.map((schema, i) => (i === 1 ? { type: 'json_schema', json_schema: { name: 'card', strict: true, schema } }
    : { type: 'json_schema', schema })),
  { type: 'json_object' },
];
const schemaOf = (format) => format.schema ?? format.json_schema?.schema ?? { type: 'object' };

async function synthModel() {
  const dir = join(repoRoot, 'build/native/json-output');
  const out = join(dir, 'synth-llama-gpt2.gguf');
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(synth).mtimeMs) {
    mkdirSync(dir, { recursive: true });
    await run(synth, ['--arch', 'llama', '--shape', 'tiny', '--type', 'Q8_0', '--vocab', gpt2Vocab, '--seed', '5', '-o', out]);
  }
  return out;
}

// n samples over every format, with different seeds and temperatures.
async function sample(LocalLM, path, n, maxTokens, validators, failures) {
  const lm = await LocalLM.load(path);
  try {
    for (let i = 0; i < n; i++) {
      const format = FORMATS[i % FORMATS.length];
      const options = { responseFormat: format, maxTokens, seed: 1000 + i, temperature: 0.8 + (i % 3) * 0.1 };
      const { text, stats } = await lm.complete('Once upon a time', options);
      let value, ok = false;
      try {
        value = JSON.parse(text);
        ok = validators[i % FORMATS.length](value);
      } catch { /* counted below */ }
      // A closed document ends the generation like an end-of-sequence token.
      if (!ok || stats.finishReason !== 'eos') {
        failures.push(`${path} #${i} (${stats.finishReason}): ${text}`);
      }
    }
  } finally {
    await lm.unload();
  }
}

test('100 sampled outputs parse and match their schemas', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const ajv = new Ajv({ strict: true, allErrors: true });
  const validators = FORMATS.map((format) => ajv.compile(schemaOf(format)));
  const failures = [];
  // stories260K's context is 128 tokens: the budget closes documents in time.
  await sample(LocalLM, storiesModel, 50, 120, validators, failures);
  await sample(LocalLM, await synthModel(), 50, 160, validators, failures);
  console.log(`json-output: ${100 - failures.length}/100 valid`);
  assert.deepEqual(failures, []);
});

test('a tight max_tokens still gives a complete document', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel);
  try {
    const schema = SCHEMAS[0];
    const validate = new Ajv().compile(schema);
    // {"name":"x","age":0,"nick":""} is 30 bytes: the fewest tokens that can close it.
    for (const maxTokens of [30, 31, 35]) {
      for (const seed of [1, 2, 3]) {
        const { text, stats } = await lm.complete('Once upon a time', { responseFormat: { type: 'json_schema', schema }, maxTokens, seed });
        assert.ok(validate(JSON.parse(text)), `maxTokens ${maxTokens}: ${text}`);
        assert.equal(stats.finishReason, 'eos');
      }
    }
    const error = await errorOf(lm.complete('Once', { responseFormat: { type: 'json_schema', schema }, maxTokens: 29 }));
    assert.equal(error.code, 'E_OPTION');
    assert.match(error.message, /max_tokens 29 is too small for this schema: it needs at least 30/);
    // stories260K's context holds 128 tokens: a long prompt leaves too little room.
    const full = await errorOf(lm.complete('Once upon a time '.repeat(28), { responseFormat: { type: 'json_schema', schema } }));
    assert.equal(full.code, 'E_CONTEXT_FULL');
    assert.match(full.message, /the context has room for \d+ more tokens; this schema needs at least 30/);
  } finally {
    await lm.unload();
  }
});

test('bad response formats are E_OPTION errors naming the problem; chat() is constrained too', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const lm = await LocalLM.load(storiesModel);
  try {
    const cases = [
      [{ type: 'json_schema', schema: { type: 'object', properties: { tags: { type: 'array', items: { type: 'string', pattern: 'x' } } } } },
        /response_format schema at \/properties\/tags\/items: "pattern" is not supported/],
      [{ type: 'json_schema', schema: { $ref: '#/definitions/x' } }, /"\$ref" is not supported/],
      [{ type: 'json_schema', schema: { enum: [] } }, /"enum" must be a non-empty array/],
      [{ type: 'json_schema' }, /needs a "schema" object/],
      [{ type: 'yaml' }, /unknown type "yaml"/],
      [{ type: 'json_object', extra: 1 }, /unknown key "extra"/],
      ['json', /responseFormat must be an object/],
      [{ type: 'json_schema', schema: { type: 'string', description: 'x'.repeat(20000) } }, /at most 16383/],
    ];
    for (const [responseFormat, message] of cases) {
      const error = await errorOf(lm.complete('Once', { responseFormat, maxTokens: 8 }));
      assert.equal(error.code, 'E_OPTION', `${JSON.stringify(responseFormat).slice(0, 80)}: ${error.message}`);
      assert.match(error.message, message);
    }
    // chat() takes it too.
    let reply = '';
    for await (const piece of lm.chat([{ role: 'user', content: 'Hi' }], { responseFormat: { type: 'json_object' }, maxTokens: 40 })) {
      reply += piece.text;
    }
    assert.equal(typeof JSON.parse(reply), 'object', reply);
    // The model is still usable, and text mode is the default.
    const { text } = await lm.complete('Once', { responseFormat: { type: 'text' }, maxTokens: 4, temperature: 0 });
    assert.ok(text.length > 0);
  } finally {
    await lm.unload();
  }
});
