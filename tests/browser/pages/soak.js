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
