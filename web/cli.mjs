#!/usr/bin/env node
// The localm CLI on the wasm build, with the native CLI's flags:
//   node web/cli.mjs run -m MODEL -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P]
//        [--min-p P] [--repeat-penalty R] [--seed S] [--config JSON] [--no-bos] [--chat] [-c N] [-t N]
//   node web/cli.mjs tokenize -m MODEL [--no-bos] [--special] TEXT
//   node web/cli.mjs bench -m MODEL [-p 128] [-n 64] [-t 1] [-r 3]
// Errors print "error: ..." on stderr and exit with status 1.
import { LocalLM } from './dist/localm.js';

class UsageError extends Error {}

function parseInteger(flag, value, min, max) {
  const n = Number(value);
  if (value === undefined || !/^-?\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(`${flag} expects an integer from ${min} to ${max}, got '${value ?? ''}'`);
  }
  return n;
}

function parseNumber(flag, value) {
  const n = Number(value);
  if (value === undefined || value.trim() === '' || !Number.isFinite(n)) {
    throw new UsageError(`${flag} expects a number, got '${value ?? ''}'`);
  }
  return n;
}

// --config takes the core's JSON keys, as the native CLI does.
const camelCase = (key) => key.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

function parseConfig(text) {
  let config;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--config is not valid JSON: ${error.message}`);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new UsageError('--config must be a JSON object');
  }
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [camelCase(k), v]));
}

// Flags with a value: name -> (options, value) => void.
const RUN_FLAGS = {
  '-m': (a, v) => { a.model = v; },
  '-p': (a, v) => { a.prompt = v; },
  '-n': (a, v) => { a.gen.maxTokens = parseInteger('-n', v, 0, 2 ** 30); },
  '-c': (a, v) => { a.contextSize = parseInteger('-c', v, 0, 2 ** 20); },
  '-t': (a, v) => { a.threads = parseInteger('-t', v, 1, 64); },
  '--temp': (a, v) => { a.gen.temperature = parseNumber('--temp', v); },
  '--top-k': (a, v) => { a.gen.topK = parseInteger('--top-k', v, 0, 2 ** 30); },
  '--top-p': (a, v) => { a.gen.topP = parseNumber('--top-p', v); },
  '--min-p': (a, v) => { a.gen.minP = parseNumber('--min-p', v); },
  '--repeat-penalty': (a, v) => { a.gen.repeatPenalty = parseNumber('--repeat-penalty', v); },
  '--seed': (a, v) => { a.gen.seed = parseInteger('--seed', v, 0, 0x7fffffff); },
  '--config': (a, v) => { Object.assign(a.gen, parseConfig(v)); },
};

function parseRunArgs(argv) {
  const a = { gen: {}, contextSize: 0, threads: 1, chat: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--no-bos') a.gen.addBos = false;
    else if (flag === '--chat') a.chat = true;
    else if (!RUN_FLAGS[flag]) throw new UsageError(`unknown option '${flag}'`);
    else if (i + 1 >= argv.length) throw new UsageError(`option '${flag}' needs a value`);
    else RUN_FLAGS[flag](a, argv[++i]);
  }
  if (a.prompt === undefined) throw new UsageError('no prompt given (-p PROMPT)');
  return a;
}

function loadModel(path, options) {
  if (!path) throw new UsageError('no model given (-m MODEL)');
  return LocalLM.load(path, options);
}

async function run(argv) {
  const a = parseRunArgs(argv);
  const lm = await loadModel(a.model, { contextSize: a.contextSize, threads: a.threads });
  const pieces = a.chat ? lm.chat([{ role: 'user', content: a.prompt }], a.gen) : lm.generate(a.prompt, a.gen);
  for await (const { text } of pieces) process.stdout.write(text);
  const s = lm.stats();
  process.stderr.write(`\nprompt: ${s.promptTokens} tokens in ${s.promptMs.toFixed(1)} ms ` +
    `(${s.prefillTokPerSec.toFixed(1)} tok/s); generated: ${s.genTokens} tokens in ` +
    `${s.genMs.toFixed(1)} ms (${s.decodeTokPerSec.toFixed(1)} tok/s)\n`);
  await lm.unload();
}

async function tokenize(argv) {
  let model;
  let text;
  let addBos;
  let special = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-m' && i + 1 < argv.length) model = argv[++i];
    else if (arg === '--no-bos') addBos = false;
    else if (arg === '--special') special = true;
    else if (arg.length > 1 && arg.startsWith('-') && text === undefined) throw new UsageError(`unknown option '${arg}'`);
    else if (text === undefined) text = arg;
    else throw new UsageError(`unexpected argument '${arg}'`);
  }
  if (text === undefined) throw new UsageError('no text given');
  const lm = await loadModel(model, {});
  const ids = await lm.tokenize(text, { addBos, special });
  process.stdout.write(`[${ids.join(', ')}]\n`);
  await lm.unload();
}

const median = (values) => [...values].sort((x, y) => x - y)[values.length >> 1];

// A prompt of n tokens or a few more: speed does not depend on which ones.
async function benchPrompt(lm, n) {
  const count = async (words) => (await lm.tokenize(' once'.repeat(words))).length;
  const base = await count(0);
  const perWord = Math.max(1, (await count(n)) - base) / n;
  let words = Math.max(1, Math.ceil((n - base) / perWord));
  while (await count(words) < n) words++;
  return ' once'.repeat(words);
}

// Speed as apps see it: generate() through the worker, greedy, EOS ignored.
async function bench(argv) {
  const a = { model: undefined, prompt: 128, gen: 64, threads: 1, reps: 3 };
  const flags = {
    '-m': (v) => { a.model = v; },
    '-p': (v) => { a.prompt = parseInteger('-p', v, 1, 1 << 16); },
    '-n': (v) => { a.gen = parseInteger('-n', v, 1, 1 << 16); },
    '-t': (v) => { a.threads = parseInteger('-t', v, 1, 256); },
    '-r': (v) => { a.reps = parseInteger('-r', v, 1, 1000); },
  };
  for (let i = 0; i < argv.length; i += 2) {
    if (!flags[argv[i]]) throw new UsageError(`unknown option '${argv[i]}'`);
    flags[argv[i]](argv[i + 1]);
  }
  const lm = await loadModel(a.model, { contextSize: a.prompt * 2 + a.gen + 16, threads: a.threads });
  const prompt = await benchPrompt(lm, a.prompt);
  const runs = [];
  for (let r = 0; r < a.reps; r++) {
    await lm.complete(prompt, { maxTokens: a.gen, temperature: 0, ignoreEos: true });
    runs.push(lm.stats());
  }
  const { promptTokens, wasmMemoryBytes } = runs[0];
  console.log(JSON.stringify({
    model: a.model, threads: a.threads, prefill_tokens: promptTokens, decode_tokens: a.gen,
    repetitions: a.reps,
    prefill_tok_s: Number(median(runs.map((s) => s.prefillTokPerSec)).toFixed(2)),
    decode_tok_s: Number(median(runs.map((s) => s.decodeTokPerSec)).toFixed(2)),
    wasm_memory_bytes: wasmMemoryBytes, build: 'wasm',
  }));
  await lm.unload();
}

const COMMANDS = { run, tokenize, bench };

async function main([command, ...argv]) {
  if (!COMMANDS[command]) {
    throw new UsageError(`usage: node web/cli.mjs run|tokenize|bench ...${command ? ` (unknown command '${command}')` : ''}`);
  }
  await COMMANDS[command](argv);
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`error: ${error.message}${error.code ? ` (${error.code})` : ''}\n`);
  process.exitCode = 1;
});
