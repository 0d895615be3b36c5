// Names found by the local model for redaction (web/src/names.js): only names
// the text really contains, written as names, become spans; a model that fails
// or answers badly finds nothing.
import assert from 'node:assert/strict';
import test from 'node:test';
import { NAMES_SCHEMA, findNamesWithModel, nameSpans } from '../../web/src/names.js';
import { loadApi, needDist, needShared, storiesModel } from './helpers.mjs';

// A stand-in for LocalLM.chat that streams a fixed answer and records the call.
function scripted(answer) {
  const calls = [];
  return {
    calls,
    async* chat(messages, options) {
      calls.push({ messages, options });
      if (answer instanceof Error) throw answer;
      for (const text of answer.match(/[^]{1,4}/g) ?? []) yield { text };
    },
  };
}

test('nameSpans keeps whole-word, capitalised names the text contains, every time they occur', () => {
  const text = 'Ask Okonkwo Adeyemi, then okonkwo; Zoë Ōkubo met Okonkwo Adeyemi. Okonkwos is not him.';
  const spans = nameSpans(text, ['Okonkwo Adeyemi', 'Zoë Ōkubo', 'okonkwo', 'Santa Claus', 'O', 42, '  Zoë   Ōkubo ']);
  assert.deepEqual(spans.map((s) => text.slice(s.start, s.end)), ['Okonkwo Adeyemi', 'Okonkwo Adeyemi', 'Zoë Ōkubo']);
  assert.deepEqual(nameSpans(text, 'Okonkwo'), []);
  assert.deepEqual(nameSpans('the Cat sat', ['the Cat']), [], 'every word must be capitalised');
});

test('findNamesWithModel asks for JSON under a schema and maps the answer to spans', async () => {
  const lm = scripted('{"names":["Okonkwo","Invented Person"]}');
  const spans = await findNamesWithModel(lm, 'My landlord Okonkwo called.');
  assert.deepEqual(spans, [{ start: 12, end: 19 }]);
  const { messages, options } = lm.calls[0];
  assert.equal(messages.at(-1).content, 'My landlord Okonkwo called.');
  assert.deepEqual(options.responseFormat, { type: 'json_schema', schema: NAMES_SCHEMA });
  assert.equal(options.temperature, 0);
});

test('a failing or rambling model finds nothing; text without capitals is not even asked', async () => {
  assert.deepEqual(await findNamesWithModel(scripted('not json'), 'Ask Okonkwo.'), []);
  assert.deepEqual(await findNamesWithModel(scripted('{"names": "Okonkwo"}'), 'Ask Okonkwo.'), []);
  assert.deepEqual(await findNamesWithModel(scripted(Object.assign(new Error('full'), { code: 'E_CONTEXT_FULL' })), 'Ask Okonkwo.'), []);
  const quiet = scripted('{"names":[]}');
  assert.deepEqual(await findNamesWithModel(quiet, 'nothing to see here'), []);
  assert.equal(quiet.calls.length, 0);
  await assert.rejects(findNamesWithModel(scripted(Object.assign(new Error('stop'), { code: 'E_ABORTED' })), 'Ask Okonkwo.'),
    { code: 'E_ABORTED' });
});

test('with a real model (stories260K in wasm) the answer is constrained JSON and only quoted names come back',
  { skip: needShared || needDist }, async () => {
    const { LocalLM } = await loadApi();
    const lm = await LocalLM.load(storiesModel);
    try {
      const text = 'Lily and Ben went to the park with Tom.';
      const spans = await findNamesWithModel(lm, text);
      assert.equal(lm.stats().finishReason, 'eos', 'the JSON document closed');
      for (const { start, end } of spans) assert.match(text.slice(start, end), /^\p{Lu}/u);
      console.log(`stories260K names: ${JSON.stringify(spans.map((s) => text.slice(s.start, s.end)))}`);
    } finally {
      await lm.unload();
    }
  });
