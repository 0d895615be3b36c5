#!/usr/bin/env node
// npm run bench: prefill and decode speed of localm against llama.cpp, on the
// synthetic SmolLM2-shaped models, written to bench/REPORT.md.
//
//   node bench/run.mjs [--quick] [--reps N] [--shapes a,b] [--types a,b]
//
// By default: the SmolLM2 135M and 360M shapes (llama) in Q8_0, Q4_0 and
// Q4_K_M, and the Gemma-3-1B shape (gemma3) in Q4_K_M, the form people download.
// --shapes/--types replace that with every shape in every type.
//
// In one headless Chromium: localm (web/dist) and npm @wllama/wllama, 1 and 2
// threads. Natively: build/native/localm against npm node-llama-cpp's prebuilt
// llama.cpp. Each variant: a 128-token prompt, 64 greedy tokens (EOS ignored),
// five repetitions (--reps), medians. A variant that is not built is reported as such.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer } from '../scripts/serve.mjs';
import { writeReport } from './report.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MODELS_DIR = path.join(REPO, 'bench/models');
const NATIVE_CLI = path.join(REPO, 'build/native/localm');
const SYNTH = path.join(REPO, 'build/native/localm-synth');
const VOCAB = path.join(process.env.LM_SHARED_DIR || path.join(REPO, '../shared'), 'vocab/ggml-vocab-gpt-2.gguf');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const PROMPT_TOKENS = 128;
const GEN_TOKENS = 64;
const THREADS = [1, 2];
const WARMUP_ROUNDS = 1;
// The architecture each shape of localm-synth is benchmarked as.
const SHAPE_ARCH = { 'smollm2-135m': 'llama', 'smollm2-360m': 'llama', 'qwen2.5-0.5b': 'qwen2',
  'gemma3-1b': 'gemma3' };
const DEFAULT_MODELS = [
  ...['smollm2-135m', 'smollm2-360m'].flatMap((shape) => ['Q8_0', 'Q4_0', 'Q4_K_M'].map((type) => ({ shape, type }))),
  { shape: 'gemma3-1b', type: 'Q4_K_M' },
];
const NOT_BUILT = 'n/a (not built)';

class UsageError extends Error {}

function parseArgs(argv) {
  // Five repetitions: on a shared 2-core VM one pair of runs in three or four
  // can land in a slow stretch for two threads (wllama's scaling drops with
  // ours); a median of five pairs tolerates two such pairs.
  const opts = { quick: false, reps: 5, shapes: null, types: null };
  const list = (flag, value) => {
    if (!value || value.startsWith('--')) throw new UsageError(`${flag} needs a comma-separated list`);
    const names = value.split(',').filter(Boolean);
    // The names become file names in bench/models/.
    const bad = names.find((n) => !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(n));
    if (bad !== undefined) throw new UsageError(`${flag}: '${bad}' is not a shape or type name`);
    const unknown = flag === '--shapes' && names.find((n) => !Object.hasOwn(SHAPE_ARCH, n));
    if (unknown) throw new UsageError(`--shapes: '${unknown}' is not one of ${Object.keys(SHAPE_ARCH).join(', ')}`);
    return names;
  };
  let repsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--quick') opts.quick = true;
    else if (flag === '--reps') {
      opts.reps = Number(argv[++i]);
      repsGiven = true;
      if (!Number.isInteger(opts.reps) || opts.reps < 1 || opts.reps > 100) {
        throw new UsageError('--reps needs an integer from 1 to 100');
      }
    } else if (flag === '--shapes') opts.shapes = list(flag, argv[++i]);
    else if (flag === '--types') opts.types = list(flag, argv[++i]);
    else throw new UsageError(`unknown option '${flag}' (options: --quick --reps N --shapes a,b --types a,b)`);
  }
  // --quick: one small model, one repetition, unless asked otherwise.
  if (opts.quick) {
    if (!argv.includes('--shapes')) opts.shapes = ['smollm2-135m'];
    if (!argv.includes('--types')) opts.types = ['Q8_0'];
    if (!repsGiven) opts.reps = 1;
  }
  return opts;
}

const log = (line) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function modelList({ shapes, types }) {
  const pairs = shapes || types
    ? (shapes ?? ['smollm2-135m']).flatMap((shape) => (types ?? ['Q8_0']).map((type) => ({ shape, type })))
    : DEFAULT_MODELS;
  return pairs.map(({ shape, type }) => {
    const name = `${shape}-${type}`;
    return { name, shape, type, arch: SHAPE_ARCH[shape], file: path.join(MODELS_DIR, `${name}.gguf`) };
  });
}

// Synthetic models are generated once (seed 1) and kept in bench/models/.
function ensureModels(models) {
  for (const m of models) {
    if (fs.existsSync(m.file)) continue;
    if (!fs.existsSync(SYNTH)) throw new Error(`${SYNTH} is missing: run ./build.sh native`);
    log(`generating ${m.name}`);
    fs.mkdirSync(MODELS_DIR, { recursive: true });
    const tmp = `${m.file}.tmp`;
    execFileSync(SYNTH, ['--arch', m.arch, '--shape', m.shape, '--type', m.type, '--vocab', VOCAB,
      '--seed', '1', '-o', tmp], { stdio: ['ignore', 'ignore', 'inherit'] });
    fs.renameSync(tmp, m.file);
  }
  for (const m of models) m.bytes = fs.statSync(m.file).size;
}

// build.sh puts the threaded build (its Emscripten glue carries the PThread
// runtime) in web/dist/mt; LocalLM.load picks it for threads > 1 on a cross-
// origin isolated page. Without it only 1 thread is measured.
function hasThreadedWasm() {
  const glue = path.join(REPO, 'web/dist/mt/localm-core.js');
  return fs.existsSync(glue) && fs.readFileSync(glue, 'utf8').includes('PThread');
}

const failed = (error) => `failed: ${String(error?.message ?? error).split('\n')[0].slice(0, 160)}`;

// ---- the browser ----------------------------------------------------------

// The browser variants of one model, all opened first, then measured in
// turns: repetition r of every variant before repetition r + 1 of any.
async function browserModel(page, m, opts, results, builds) {
  const variants = ['localm', 'wllama'].flatMap((engine) => THREADS.map((threads) => ({
    engine, threads, key: `${engine === 'localm' ? 'localm wasm' : engine}|${threads}`,
    built: engine === 'wllama' || (builds.localm && (threads === 1 || builds.threadedLocalm)),
  })));
  const url = `/bench/models/${path.basename(m.file)}`;
  const open = variants.filter((v) => {
    if (!v.built) results.set(m, v.key, { status: NOT_BUILT });
    return v.built;
  });
  for (const v of open) {
    log(`${m.name}: opening ${v.engine}, ${v.threads} thread(s)`);
    v.result = await attempt(async () => ({ runs: [], id: await page.evaluate(
      ([e, u, t, n]) => window.bench.open(e, u, t, n), [v.engine, url, v.threads, PROMPT_TOKENS + GEN_TOKENS + 16]) }));
    results.set(m, v.key, v.result);
  }
  // Round 0 is a warm-up of the full size, not recorded: V8 first runs wasm
  // from its baseline compiler and swaps in optimized code as functions get
  // hot, in the background; the first full round of an engine was up to 40%
  // slower than the next ones.
  for (let r = -WARMUP_ROUNDS; r < opts.reps; r++) {
    for (const v of open.filter((x) => x.result.status === 'ok')) {
      log(`${m.name}: ${v.engine}, ${v.threads} thread(s), ` +
        `${r < 0 ? 'warm-up' : `repetition ${r + 1}/${opts.reps}`}`);
      const sample = await attempt(() => page.evaluate(([id, p, g]) => window.bench.run(id, p, g),
        [v.result.id, PROMPT_TOKENS, GEN_TOKENS]));
      if (sample.status !== 'ok') v.result.status = sample.status;
      else if (r >= 0) v.result.runs.push(sample);
    }
  }
  for (const v of open) {
    if (v.result.id !== undefined) await page.evaluate((id) => window.bench.close(id), v.result.id).catch(() => {});
  }
}

async function browserRuns(models, opts, results) {
  const builds = { localm: fs.existsSync(path.join(REPO, 'web/dist/localm.js')), threadedLocalm: hasThreadedWasm() };
  const server = await createServer({ port: 0, root: REPO, localModels: null });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (error) => log(`page error: ${error.message}`));
    page.on('console', (m) => { if (m.type() === 'error') log(`console: ${m.text().slice(0, 300)}`); });
    await page.goto(`http://127.0.0.1:${server.address().port}/bench/page.html`);
    await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60000 });
    const env = await page.evaluate(() => ({ isolated: crossOriginIsolated,
      cores: navigator.hardwareConcurrency }));
    env.version = browser.version();
    for (const m of models) await browserModel(page, m, opts, results, builds);
    return env;
  } finally {
    await browser.close();
    server.closeAllConnections();
    server.close();
  }
}

async function attempt(fn) {
  try {
    return { status: 'ok', ...(await fn()) };
  } catch (error) {
    log(failed(error));
    return { status: failed(error) };
  }
}

// ---- native -----------------------------------------------------------------

function runNode(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out)
      : reject(new Error(err.trim().split('\n').pop() || `exit status ${code}`))));
  });
}

// The native CLI times the same prompt length and reports its own medians,
// so each figure here is already a median of opts.reps runs.
function nativeLocalm(m, threads, reps) {
  let out;
  try {
    out = execFileSync(NATIVE_CLI, ['bench', '-m', m.file, '-p', String(PROMPT_TOKENS),
      '-n', String(GEN_TOKENS), '-t', String(threads), '-r', String(reps)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const why = error.signal ? `killed by ${error.signal}` : String(error.stderr).trim().split('\n').pop();
    throw new Error(`localm bench: ${why || `exit status ${error.status}`}`);
  }
  const j = JSON.parse(out.trim().split('\n').pop());
  return { runs: [{ promptTokens: j.prefill_tokens, prefill: j.prefill_tok_s,
    genTokens: j.decode_tokens, decode: j.decode_tok_s }] };
}

async function nativeRuns(models, opts, results) {
  const haveCli = fs.existsSync(NATIVE_CLI);
  for (const m of models) {
    for (const threads of THREADS) {
      log(`${m.name}: localm native, ${threads} thread(s)`);
      results.set(m, `localm native|${threads}`, haveCli
        ? await attempt(async () => nativeLocalm(m, threads, opts.reps)) : { status: NOT_BUILT });
      log(`${m.name}: node-llama-cpp, ${threads} thread(s)`);
      results.set(m, `node-llama-cpp|${threads}`, await attempt(async () => JSON.parse(await runNode([
        'bench/llama-cpp.mjs', m.file, String(threads), String(opts.reps),
        String(PROMPT_TOKENS), String(GEN_TOKENS)]))));
    }
  }
}

// ---- main -------------------------------------------------------------------

class Results {
  byModel = new Map();

  set(model, key, value) {
    if (!this.byModel.has(model.name)) this.byModel.set(model.name, { model, variants: {} });
    this.byModel.get(model.name).variants[key] = value;
  }
}

// The commit measured, "+ local changes" when the tree differs from it.
function gitDescription() {
  try {
    const git = (...args) => execFileSync('git', args, { cwd: REPO, encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--untracked-files=no', '--', 'src', 'web', 'build.sh') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' + local changes' : ''}`;
  } catch {
    return 'unknown';
  }
}

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  return {
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    cores: os.cpus().length,
    memory: os.totalmem(),
    node: process.version,
    loadStart: os.loadavg(),
    commit: gitDescription(),
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const models = modelList(opts);
  ensureModels(models);
  const info = { ...machine(), date: new Date().toISOString(), args: process.argv.slice(2).join(' '), opts,
    promptTokens: PROMPT_TOKENS,
    genTokens: GEN_TOKENS };
  const results = new Results();
  info.browser = await browserRuns(models, opts, results);
  await nativeRuns(models, opts, results);
  info.loadEnd = os.loadavg();
  info.minutes = (Date.now() - started) / 60000;
  const out = path.join(REPO, 'bench/REPORT.md');
  fs.writeFileSync(out, writeReport(info, [...results.byModel.values()]));
  log(`wrote ${path.relative(REPO, out)} in ${info.minutes.toFixed(1)} min`);
}

main().catch((error) => {
  process.stderr.write(`bench: ${error instanceof UsageError ? error.message : error.stack || error}\n`);
  process.exitCode = 1;
});
