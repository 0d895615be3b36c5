// Runs inside headless Chromium for bench/run.mjs. Each engine instance is
// opened once per model and kept, so that run.mjs can interleave the
// repetitions of all engines: load on the machine that comes and goes then
// slows each engine alike instead of whichever was running at the time.
import { LocalLM } from '/web/dist/localm.js';
import { Wllama } from '/node_modules/@wllama/wllama/esm/index.js';

const WLLAMA_WASM = '/node_modules/@wllama/wllama/esm/wasm/wllama.wasm';
// Warm-up: compiles and touches every weight once so repetition 1 is not an outlier.
const WARMUP = { prompt: 16, gen: 4 };

// " once" is one gpt-2 token: a prompt of n tokens is n - base copies of it,
// base being what the engine adds to any text (BOS or nothing). Each engine
// checks the count it actually evaluated.
const promptText = (n, base) => ' once'.repeat(n - base);

function checkCount(engine, count, wanted) {
  if (count !== wanted) throw new Error(`${engine} evaluated ${count} prompt tokens, not ${wanted}`);
}

// One engine instance: run(prompt tokens, generated tokens) -> one sample.
async function openLocalm(url, threads, maxTokens) {
  const lm = await LocalLM.load(url, { threads, cache: false, contextSize: maxTokens });
  if (lm.threads !== threads) throw new Error(`localm runs ${lm.threads} threads, not ${threads}`);
  const base = (await lm.tokenize('')).length;
  const greedy = { temperature: 0, ignoreEos: true };
  return {
    async run(promptTokens, genTokens) {
      await lm.complete(promptText(promptTokens, base), { ...greedy, maxTokens: genTokens });
      const s = lm.stats();
      checkCount('localm', s.promptTokens, promptTokens);
      return { promptTokens: s.promptTokens, prefill: s.prefillTokPerSec,
        genTokens: s.genTokens, decode: s.decodeTokPerSec, wasmMemoryBytes: s.wasmMemoryBytes };
    },
    close: () => lm.unload(),
  };
}

// wllama (llama.cpp's server loop in wasm): raw completions with the prompt
// cache off, so every repetition evaluates the whole prompt; the server's own
// timings give the speeds. It has no tokenize call: one tiny completion tells
// what it adds to a text.
async function openWllama(url, threads, maxTokens) {
  const blob = await (await fetch(url)).blob();
  const wllama = new Wllama({ default: WLLAMA_WASM }, { suppressNativeLog: true });
  wllama.setCompat(null);
  await wllama.loadModel([blob], { n_threads: threads, n_ctx: maxTokens, n_batch: 512,
    n_gpu_layers: 0, n_parallel: 1 });
  if (wllama.getNumThreads() !== threads && !(threads === 1 && !wllama.isMultithread())) {
    throw new Error(`wllama runs ${wllama.getNumThreads()} threads, not ${threads}`);
  }
  const complete = (text, maxTokens) => wllama.createCompletion({ prompt: text, max_tokens: maxTokens,
    temperature: 0, ignore_eos: true, cache_prompt: false });
  const base = (await complete(' once', 1)).timings.prompt_n - 1;
  return {
    async run(promptTokens, genTokens) {
      const { timings: t } = await complete(promptText(promptTokens, base), genTokens);
      checkCount('wllama', t.prompt_n, promptTokens);
      return { promptTokens: t.prompt_n, prefill: t.prompt_per_second,
        genTokens: t.predicted_n, decode: t.predicted_per_second };
    },
    close: () => wllama.exit(),
  };
}

const OPENERS = { localm: openLocalm, wllama: openWllama };
const engines = new Map();
let nextId = 1;

async function open(engine, url, threads, maxTokens) {
  const instance = await OPENERS[engine](url, threads, maxTokens);
  await instance.run(WARMUP.prompt, WARMUP.gen);
  const id = nextId++;
  engines.set(id, instance);
  return id;
}

const run = (id, promptTokens, genTokens) => engines.get(id).run(promptTokens, genTokens);

async function close(id) {
  const instance = engines.get(id);
  engines.delete(id);
  await instance?.close();
}

window.bench = { open, run, close };
window.benchReady = true;
