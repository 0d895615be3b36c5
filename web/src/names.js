// Person names found by the local model, for redaction. The rules of
// redact.js know common given names; a model also reads context ("my landlord
// Okonkwo"). Its answer is constrained to JSON, and trusted only where it
// quotes the text: a name it invents, or words not written as a name, are
// dropped, so a weak model can add spans but never garble the text.

const MAX_NAMES = 12;
const MAX_NAME_CHARS = 48;

// The schema the model's answer must follow (constrained in the core).
export const NAMES_SCHEMA = {
  type: 'object',
  properties: {
    names: { type: 'array', items: { type: 'string', maxLength: MAX_NAME_CHARS }, maxItems: MAX_NAMES },
  },
  required: ['names'],
};

// Short: small models have small contexts, and the schema already fixes the form.
const INSTRUCTION = 'List the people named in the text, as written.';

// Each word of a name starts with a capital letter (Unicode-aware); 1 to 4 words.
const NAME_RE = /^\p{Lu}[\p{L}'’.-]*(?: \p{Lu}[\p{L}'’.-]*){0,3}$/u;

// Every whole-word occurrence in text of each acceptable name: [{ start, end }].
export function nameSpans(text, names) {
  if (!Array.isArray(names)) return [];
  const spans = [];
  const wanted = new Set(names.filter((n) => typeof n === 'string').map((n) => n.trim().replace(/\s+/g, ' ')));
  for (const name of wanted) {
    if (name.length < 2 || !NAME_RE.test(name)) continue;
    for (let at = text.indexOf(name); at !== -1; at = text.indexOf(name, at + name.length)) {
      const end = at + name.length;
      const before = text[at - 1] ?? ' ';
      const after = text[end] ?? ' ';
      if (!/[\p{L}\p{N}_]/u.test(before) && !/[\p{L}\p{N}_]/u.test(after)) spans.push({ start: at, end });
    }
  }
  return spans;
}

// Asks the model (a LocalLM, or anything with its chat()) for the names in
// text; resolves with their spans. A model that fails or answers badly finds
// nothing: the rules still apply.
export async function findNamesWithModel(lm, text, { signal, maxTokens = 160 } = {}) {
  if (typeof text !== 'string' || !/\p{Lu}/u.test(text)) return [];
  const messages = [{ role: 'system', content: INSTRUCTION }, { role: 'user', content: text }];
  let answer = '';
  try {
    const options = { maxTokens, temperature: 0, responseFormat: { type: 'json_schema', schema: NAMES_SCHEMA }, signal };
    for await (const piece of lm.chat(messages, options)) answer += piece.text;
    return nameSpans(text, JSON.parse(answer).names);
  } catch (error) {
    if (error?.code === 'E_ABORTED') throw error;
    return [];
  }
}
