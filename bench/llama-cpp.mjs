// Native llama.cpp through npm node-llama-cpp's prebuilt CPU binaries (never
// downloaded or built here). Run by bench/run.mjs in its own process:
//   node bench/llama-cpp.mjs MODEL THREADS REPS PROMPT_TOKENS GEN_TOKENS
// prints {runs: [{promptTokens, prefill, genTokens, decode}]}.
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

const [modelPath, threads, reps, promptTokens, genTokens] = process.argv.slice(2)
  .map((arg, i) => (i === 0 ? arg : Number(arg)));

// The same prompt as the browser runs: BOS then " once" repeated.
function promptOf(model, n) {
  const bos = model.tokens.bos;
  const body = model.tokenize(' once'.repeat(bos === null ? n : n - 1));
  const tokens = bos === null ? body : [bos, ...body];
  if (tokens.length !== n) throw new Error(`the bench prompt has ${tokens.length} tokens, not ${n}`);
  return tokens;
}

// Prefill: from the call to the first sampled token (the prompt in one batch).
// Decode: the gen following tokens, one evaluation each.
async function timeOnce(sequence, tokens, gen) {
  await sequence.clearHistory();
  const start = performance.now();
  let first = 0;
  let count = 0;
  for await (const token of sequence.evaluate(tokens, { temperature: 0, yieldEogToken: true })) {
    void token;
    if (count === 0) first = performance.now();
    if (count++ === gen) break;
  }
  const end = performance.now();
  return { promptTokens: tokens.length, prefill: tokens.length * 1000 / (first - start),
    genTokens: gen, decode: gen * 1000 / (end - first) };
}

async function main() {
  const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, maxThreads: 0,
    logLevel: LlamaLogLevel.error, progressLogs: false });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: true });
  const context = await model.createContext({ contextSize: 512, batchSize: 512, threads,
    sequences: 1 });
  const sequence = context.getSequence();
  const tokens = promptOf(model, promptTokens);
  await timeOnce(sequence, tokens.slice(0, 16), 4); // warm-up
  const runs = [];
  for (let r = 0; r < reps; r++) runs.push(await timeOnce(sequence, tokens, genTokens));
  console.log(JSON.stringify({ runs }));
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
