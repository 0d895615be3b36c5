// The soak: many generate calls on one loaded model with random options and
// random aborts (already aborted, on a timer, after some pieces, or the
// caller breaking out of the loop). Plain ES module without Node or DOM
// APIs: tests/js/soak.test.mjs, tests/browser/pages/soak.js and
// scripts/soak.mjs all run it.
//
//   const figures = await runSoak(lm, { calls, seed, warmup, sampleMemory });
//
// Every call must complete or reject with E_ABORTED (and E_ABORTED only when
// this driver aborted it); anything else is listed in figures.unexpected.
// sampleMemory() is awaited at the end of warm-up, every `every` calls and at
// the end; its results (plus the wasm memory) are figures.samples.

export const SOAK_CONTEXT = 256; // prompts + maxTokens stay below it

const PROMPTS = [
  'Once upon a time',
  'Lily',
  'The cat sat on the',
  'One day, a little boy named Tom went to the park. He saw a big red ball and',
  'Once upon a time, there was a little girl who loved to play outside with her friends in the sun',
  '',
  'Ünïcödé ✓ 日本',
];
const STOPS = ['.', ' the', '\n', 'Lily', 'xyz', ',', ' a'];
const LONGEST = PROMPTS.reduce((a, b) => (b.length > a.length ? b : a));

// mulberry32: small, seedable, good enough to pick options.
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function picker(rand) {
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = (list) => list[Math.floor(rand() * list.length)];
  const maybe = (p, make) => (rand() < p ? make() : undefined);
  return { rand, int, pick, maybe };
}

function randomOptions({ rand, int, pick, maybe }) {
  const options = {
    maxTokens: int(0, 96),
    temperature: pick([0, 0, 0.2, 0.7, 1, 1.5]),
    topK: maybe(0.5, () => pick([0, 1, 5, 40, 1000])),
    topP: maybe(0.5, () => Math.round(rand() * 100) / 100),
    minP: maybe(0.3, () => Math.round(rand() * 30) / 100),
    repeatPenalty: maybe(0.3, () => 1 + Math.round(rand() * 30) / 100),
    repeatLastN: maybe(0.3, () => int(0, 256)),
    frequencyPenalty: maybe(0.2, () => Math.round((rand() * 4 - 2) * 100) / 100),
    presencePenalty: maybe(0.2, () => Math.round((rand() * 4 - 2) * 100) / 100),
    seed: maybe(0.7, () => int(0, 2 ** 31)),
    stop: maybe(0.3, () => (rand() < 0.5 ? pick(STOPS) : STOPS.filter(() => rand() < 0.4))),
    ignoreEos: maybe(0.5, () => rand() < 0.5),
  };
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
  return options;
}

// How the call ends early, if at all.
function randomAbort({ rand, int }) {
  const r = rand();
  if (r < 0.45) return { kind: 'none' };
  if (r < 0.5) return { kind: 'before' };
  if (r < 0.65) return { kind: 'timer', ms: int(0, 25) };
  if (r < 0.88) return { kind: 'pieces', after: int(0, 12) };
  return { kind: 'break', after: int(0, 12) };
}

// One call: 'completed', 'aborted' or 'broke' (the caller left the loop).
async function oneCall(lm, prompt, options, plan) {
  const controller = new AbortController();
  let timer = null;
  if (plan.kind === 'before') controller.abort();
  if (plan.kind === 'timer') timer = setTimeout(() => controller.abort(), plan.ms);
  let pieces = 0;
  let afterAbort = 0;
  try {
    for await (const piece of lm.generate(prompt, { ...options, signal: controller.signal })) {
      if (controller.signal.aborted) afterAbort++;
      if (typeof piece.text !== 'string') throw new Error('a piece without text');
      pieces++;
      if (plan.kind === 'pieces' && pieces >= plan.after) controller.abort();
      if (plan.kind === 'break' && pieces >= plan.after) return { outcome: 'broke', pieces, afterAbort };
    }
    return { outcome: 'completed', pieces, afterAbort, completedPieces: pieces };
  } catch (error) {
    if (error?.code === 'E_ABORTED' && controller.signal.aborted) return { outcome: 'aborted', pieces, afterAbort };
    return { outcome: 'unexpected', pieces, afterAbort, error };
  } finally {
    clearTimeout(timer);
  }
}

// tokenize / detokenize between generations: the same model, other requests.
async function tokenRoundTrip(lm, text, figures) {
  const ids = await lm.tokenize(text);
  const back = await lm.detokenize(ids);
  if (!Array.isArray(ids) || typeof back !== 'string') throw new Error(`token round trip of ${JSON.stringify(text)} failed`);
  figures.tokenRoundTrips++;
}

const GREEDY = { maxTokens: 24, temperature: 0, ignoreEos: true };

async function greedyText(lm) {
  return (await lm.complete('Once upon a time', GREEDY)).text;
}

export async function runSoak(lm, { calls, seed = 1, warmup = 10, every = 50, sampleMemory = async () => ({}),
  log = () => {} }) {
  const p = picker(random(seed));
  const figures = { calls: 0, seed, completed: 0, aborted: 0, broke: 0, abortsRequested: 0,
    midStreamAborts: 0, overlapped: 0, tokenRoundTrips: 0, pieces: 0, completedPieces: 0, piecesAfterAbort: 0, unexpected: [], samples: [] };
  const sample = async (label) => {
    const s = { label, call: figures.calls, wasmMemoryBytes: lm.stats().wasmMemoryBytes, ...(await sampleMemory()) };
    figures.samples.push(s);
    log(`soak: ${label} after ${s.call} calls: ${JSON.stringify(s)}`);
  };
  const reference = await greedyText(lm);
  // Warm-up reaches the high-water marks first: the longest prompt with
  // every stop string and the most tokens, then ordinary random calls.
  await oneCall(lm, LONGEST, { maxTokens: 96, ignoreEos: true, stop: STOPS.slice(0, 8), repeatLastN: 256 },
    { kind: 'none' });
  const record = (result, prompt, options, plan) => {
    const call = figures.calls++;
    figures.pieces += result.pieces;
    figures.piecesAfterAbort += result.afterAbort;
    if (plan.kind !== 'none' && plan.kind !== 'break') figures.abortsRequested++;
    if (result.outcome === 'aborted' && result.pieces > 0) figures.midStreamAborts++;
    if (result.outcome === 'completed') figures.completedPieces += result.completedPieces;
    if (result.outcome !== 'unexpected') figures[result.outcome]++;
    else {
      figures.unexpected.push({ call, prompt, options, plan,
        code: result.error?.code, message: String(result.error?.message ?? result.error) });
    }
  };
  const randomCall = () => ({ prompt: p.pick(PROMPTS), options: randomOptions(p), plan: randomAbort(p) });
  let nextSample = warmup;
  while (figures.calls < calls) {
    if (figures.calls >= nextSample) {
      await sample(nextSample === warmup ? 'warm-up' : 'progress');
      nextSample = (Math.floor(figures.calls / every) + 1) * every;
    }
    if (p.rand() < 0.1) await tokenRoundTrip(lm, p.pick(PROMPTS), figures);
    // Now and then two calls at once: the second waits in the worker's
    // queue, where its abort must also land cleanly.
    const batch = p.rand() < 0.1 && figures.calls + 2 <= calls ? [randomCall(), randomCall()] : [randomCall()];
    const results = await Promise.all(batch.map(({ prompt, options, plan }) => oneCall(lm, prompt, options, plan)));
    results.forEach((result, i) => record(result, batch[i].prompt, batch[i].options, batch[i].plan));
    if (batch.length === 2) figures.overlapped += 2;
  }
  await sample('end');
  figures.sameGreedyText = (await greedyText(lm)) === reference;
  return figures;
}

// Growth of each numeric figure from the warm-up sample to the end sample.
export function growth(figures) {
  const first = figures.samples.find((s) => s.label === 'warm-up') ?? figures.samples[0];
  const last = figures.samples[figures.samples.length - 1];
  const out = {};
  for (const [key, value] of Object.entries(last)) {
    if (typeof value === 'number' && key !== 'call') out[key] = value - first[key];
  }
  return out;
}

export function summary(figures) {
  const g = growth(figures);
  const mib = (n) => `${(n / 1048576).toFixed(2)} MiB`;
  const first = figures.samples.find((s) => s.label === 'warm-up') ?? figures.samples[0];
  const last = figures.samples[figures.samples.length - 1];
  const memory = Object.keys(g).map((k) => `${k} ${mib(first[k])} -> ${mib(last[k])} (${g[k] >= 0 ? '+' : ''}${mib(g[k])})`);
  return `soak: ${figures.calls} calls (seed ${figures.seed}): ${figures.completed} completed, ` +
    `${figures.aborted} aborted (${figures.midStreamAborts} mid-stream) of ${figures.abortsRequested} abort requests, ` +
    `${figures.broke} left early by the caller, ${figures.unexpected.length} unexpected; ` +
    `${figures.overlapped} calls made two at a time, ${figures.tokenRoundTrips} token round trips; ` +
    `${figures.pieces} pieces (${figures.completedPieces} in completed calls); ${memory.join('; ')}`;
}
