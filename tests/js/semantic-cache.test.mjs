// SemanticCache with memory storage and a hand-made embedding (texts map to
// chosen vectors), so similarities are exact: hit, miss, threshold, eviction
// of the oldest, namespaces kept apart, and failures that stay misses.
import assert from 'node:assert/strict';
import test from 'node:test';

import { SemanticCache } from '../../web/src/semantic-cache.js';

// cos(VECTORS.a, VECTORS.a2) = 0.96, cos(a, b) = 0.
const VECTORS = {
  a: [1, 0, 0],
  a2: [0.96, 0.28, 0],
  b: [0, 1, 0],
  c: [0, 0, 1],
  d: [0.6, 0.8, 0],
};
const embed = async (text) => Float32Array.from(VECTORS[text] ?? [1, 1, 1]);

let nextNamespace = 0;
const cache = (options = {}) =>
  new SemanticCache({ embed, namespace: `test-${nextNamespace++}`, storage: 'memory', ...options });

async function quietly(fn) {
  const warn = console.warn;
  const warnings = [];
  console.warn = (message) => warnings.push(message);
  try {
    return { result: await fn(), warnings };
  } finally {
    console.warn = warn;
  }
}

test('a stored answer comes back for the same or a close query, not for another', async () => {
  const c = cache();
  assert.equal(await c.lookup('a'), null);
  const before = Date.now();
  await c.store('a', 'answer A', { route: 'cloud' });
  const hit = await c.lookup('a2');
  assert.equal(hit.answer, 'answer A');
  assert.equal(hit.query, 'a');
  assert.ok(Math.abs(hit.similarity - 0.96) < 1e-6, `similarity ${hit.similarity}`);
  assert.ok(hit.storedAt >= before && hit.storedAt <= Date.now());
  assert.deepEqual(hit.meta, { route: 'cloud' });
  assert.equal((await c.lookup('a')).similarity.toFixed(6), '1.000000');
  assert.equal(await c.lookup('b'), null);
  assert.equal(await c.size(), 1);
});

test('the threshold decides a hit; the best match wins', async () => {
  const strict = cache({ threshold: 0.97 });
  await strict.store('a', 'A');
  assert.equal(await strict.lookup('a2'), null, '0.96 is below 0.97');
  const loose = cache({ threshold: 0.5 });
  await loose.store('b', 'B');
  await loose.store('a', 'A');
  assert.equal((await loose.lookup('d')).answer, 'B', 'cos 0.8 to b beats 0.6 to a');
  assert.equal((await loose.lookup('a2')).answer, 'A');
});

test('the oldest entries are evicted past maxEntries; a repeated query replaces its entry', async () => {
  const c = cache({ maxEntries: 2 });
  await c.store('a', 'A');
  await c.store('b', 'B');
  await c.store('c', 'C');
  assert.equal(await c.size(), 2);
  assert.equal(await c.lookup('a'), null, 'the oldest went');
  assert.equal((await c.lookup('c')).answer, 'C');
  await c.store('b', 'B2');
  assert.equal(await c.size(), 2);
  assert.equal((await c.lookup('b')).answer, 'B2');
  await c.store('d', 'D');
  assert.equal(await c.lookup('c'), null, 'c is older than the re-stored b');
});

test('namespaces keep models apart; clear empties only its own', async () => {
  const one = cache();
  const two = cache();
  await one.store('a', 'from one');
  assert.equal(await two.lookup('a'), null);
  await two.store('a', 'from two');
  assert.equal((await one.lookup('a')).answer, 'from one');
  // Caches of one namespace share their entries, as they would in IndexedDB.
  const sameAsTwo = new SemanticCache({ embed, namespace: `test-${nextNamespace - 1}`, storage: 'memory' });
  assert.equal((await sameAsTwo.lookup('a')).answer, 'from two');
  await one.clear();
  assert.equal(await one.size(), 0);
  assert.equal(await two.size(), 1);
});

test('entries of another vector length are skipped, not compared', async () => {
  const ns = `test-${nextNamespace++}`;
  const short = new SemanticCache({ embed: async () => new Float32Array([1, 0]), namespace: ns, storage: 'memory' });
  await short.store('x', 'X');
  const long = new SemanticCache({ embed, namespace: ns, storage: 'memory' });
  assert.equal(await long.lookup('a'), null);
});

test('a query that cannot be embedded is a miss with a warning, never a rejection', async () => {
  const failing = cache({
    embed: async () => {
      throw Object.assign(new Error('the text is 900 tokens but the context holds 512'), { code: 'E_CONTEXT_FULL' });
    },
  });
  const { result, warnings } = await quietly(async () => {
    await failing.store('long', 'answer');
    return failing.lookup('long');
  });
  assert.equal(result, null);
  assert.equal(await failing.size(), 0);
  assert.match(warnings.join('\n'), /cannot embed the query.*context holds 512/);
});

test('without indexedDB (Node) the default storage is memory; asking for IndexedDB warns and caches nothing', async () => {
  const c = new SemanticCache({ embed, namespace: `test-${nextNamespace++}` });
  await c.store('a', 'A');
  assert.equal((await c.lookup('a')).answer, 'A');
  const { result: idb, warnings } = await quietly(() =>
    new SemanticCache({ embed, namespace: 'x', storage: 'indexeddb' }));
  assert.match(warnings.join('\n'), /IndexedDB is not available/);
  await idb.store('a', 'A');
  assert.equal(await idb.lookup('a'), null);
  assert.equal(await idb.size(), 0);
});

test('bad options and arguments are errors with codes', async () => {
  const bad = [
    [{ namespace: 'x' }, /embed\(text\) function/],
    [{ embed }, /namespace/],
    [{ embed, namespace: 'x', threshold: 2 }, /threshold/],
    [{ embed, namespace: 'x', threshold: Number.NaN }, /threshold/],
    [{ embed, namespace: 'x', maxEntries: 0 }, /maxEntries/],
    [{ embed, namespace: 'x', storage: 'disk' }, /storage/],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => new SemanticCache(options), (error) => error.code === 'E_OPTION' && message.test(error.message));
  }
  const c = cache();
  await assert.rejects(c.lookup(42), { code: 'E_ARGUMENT' });
  await assert.rejects(c.store('a', { not: 'a string' }), { code: 'E_ARGUMENT' });
});

test('store() after a missed lookup() of the same query embeds it once', async () => {
  const asked = [];
  const counting = async (text) => { asked.push(text); return embed(text); };
  const cache = new SemanticCache({ embed: counting, namespace: `test-${nextNamespace++}`, storage: 'memory' });
  assert.equal(await cache.lookup('a question'), null);
  await cache.store('a question', 'an answer');
  assert.deepEqual(asked, ['a question']);
  assert.equal((await cache.lookup('a question')).answer, 'an answer');
  await cache.lookup('another question');
  assert.deepEqual(asked, ['a question', 'another question']);
});
