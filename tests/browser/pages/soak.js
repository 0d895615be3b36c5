// The soak in the page: the model runs in the Web Worker; memory samples come
// from window.soakHeap, which the test exposes (CDP heap usage of this page
// and of the worker). Resolves to the driver's figures or { error }.
import { LocalLM } from '/dist/localm.js';
import { SOAK_CONTEXT, runSoak } from './soak-driver.js';

window.soakRun = async ({ calls, seed, warmup, every, model }) => {
  try {
    const lm = await LocalLM.load(model, { contextSize: SOAK_CONTEXT, cache: false });
    try {
      return await runSoak(lm, { calls, seed, warmup, every, sampleMemory: () => window.soakHeap(),
        log: (line) => console.log(line) });
    } finally {
      await lm.unload();
    }
  } catch (error) {
    return { error: { code: error.code, message: error.message } };
  }
};

// Loads that must fail in the browser's worker path (Blob and buffer
// sources, URL with a huge context), each followed by a load that works.
// Resolves to [{ what, code, message, after }] where after is the greedy
// text of the following good load.
window.soakHostile = async (model) => {
  const bytes = new Uint8Array(await (await fetch(model)).arrayBuffer());
  const cases = [
    ['garbage buffer', () => LocalLM.load(new Uint8Array(4096).fill(0x47))],
    ['empty Blob', () => LocalLM.load(new Blob([]))],
    ['header-only Blob', () => LocalLM.load(new Blob([bytes.subarray(0, 24)]))],
    ['Blob cut in the metadata', () => LocalLM.load(new Blob([bytes.subarray(0, 5000)]))],
    ['buffer cut in the tensor data', () => LocalLM.load(bytes.slice(0, bytes.length - 1000))],
    ['context over wasm32 memory', () => LocalLM.load(model, { contextSize: 1 << 22, cache: false })],
  ];
  const results = [];
  for (const [what, load] of cases) {
    const result = { what };
    try {
      await (await load()).unload();
      result.code = 'loaded';
    } catch (error) {
      Object.assign(result, { code: error.code, message: error.message });
    }
    const lm = await LocalLM.load(new Blob([bytes]));
    result.after = (await lm.complete('Once', { maxTokens: 8, temperature: 0 })).text;
    await lm.unload();
    results.push(result);
  }
  return results;
};
