// localm: small language models in the browser and in Node.
//
//   const lm = await LocalLM.load(source, { contextSize, threads, cache, onProgress, signal });
//   for await (const { text } of lm.generate(prompt, { maxTokens: 64 })) ...
//
// The core runs in a worker (worker.js); this module only checks arguments,
// maps option names to the core's JSON keys and turns messages into promises
// and async iterators.

import { modelCache } from './cache.js';

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string' &&
  typeof window === 'undefined';

// camelCase option -> the key lm_generate_params_from_json reads.
const GENERATE_KEYS = {
  maxTokens: 'max_tokens',
  temperature: 'temperature',
  topK: 'top_k',
  topP: 'top_p',
  minP: 'min_p',
  repeatPenalty: 'repeat_penalty',
  repeatLastN: 'repeat_last_n',
  frequencyPenalty: 'frequency_penalty',
  presencePenalty: 'presence_penalty',
  seed: 'seed',
  stop: 'stop',
  ignoreEos: 'ignore_eos',
  addBos: 'add_bos',
  responseFormat: 'response_format',
};
const LOAD_OPTIONS = new Set(['contextSize', 'threads', 'cache', 'onProgress', 'signal', 'memoryBudget', 'sha256']);
const INT32_MAX = 2 ** 31 - 1;
// lm_generate_stats.stopped_by, as OpenAI-style finish reasons.
const FINISH_REASONS = ['length', 'eos', 'stop', 'aborted', 'context_full'];

function lmError(code, message, extra) {
  const error = new Error(message);
  error.code = code;
  return Object.assign(error, extra);
}

function checkAborted(signal, what) {
  if (signal?.aborted) throw lmError('E_ABORTED', `${what} was aborted`);
}

function isNonNegativeInteger(value) {
  return Number.isInteger(value) && value >= 0;
}

function checkLoadOptions(options) {
  for (const key of Object.keys(options)) {
    if (!LOAD_OPTIONS.has(key)) throw lmError('E_OPTION', `unknown load option "${key}"`);
  }
  const { contextSize = 0, threads = 1, memoryBudget = 0, onProgress, signal } = options;
  if (!isNonNegativeInteger(contextSize) || contextSize > INT32_MAX) {
    throw lmError('E_OPTION', `contextSize must be an integer from 0 to ${INT32_MAX}, got ${contextSize}`);
  }
  if (threads !== 'auto' && (!isNonNegativeInteger(threads) || threads < 1 || threads > 256)) {
    throw lmError('E_OPTION', `threads must be 'auto' or an integer from 1 to 256, got ${threads}`);
  }
  if (!isNonNegativeInteger(memoryBudget)) {
    throw lmError('E_OPTION', `memoryBudget must be a non-negative integer (bytes), got ${memoryBudget}`);
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw lmError('E_OPTION', 'onProgress must be a function');
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw lmError('E_OPTION', 'signal must be an AbortSignal');
  }
}

// Values JSON carries as they are (NaN would become null, a function vanish).
function isJsonValue(value) {
  if (Array.isArray(value)) return value.every(isJsonValue);
  return typeof value === 'string' || typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value));
}

// The options of generate() as the core's JSON; the core checks the values.
function generateOptionsJson(options) {
  if (options === null || typeof options !== 'object') throw lmError('E_OPTION', 'options must be an object');
  const { signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw lmError('E_OPTION', 'signal must be an AbortSignal');
  }
  const json = {};
  for (const [key, value] of Object.entries(options)) {
    if (key === 'signal' || value === undefined) continue;
    const name = Object.hasOwn(GENERATE_KEYS, key) ? GENERATE_KEYS[key] : null;
    if (!name) throw lmError('E_OPTION', `unknown generation option "${key}"`);
    if (key === 'responseFormat') {
      // { type: 'json_object' } or { type: 'json_schema', schema }: the core checks the rest.
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw lmError('E_OPTION', 'responseFormat must be an object such as { type: \'json_object\' }');
      }
    } else if (!isJsonValue(value)) {
      throw lmError('E_OPTION', `${key} must be a finite number, a string or a boolean`);
    }
    json[name] = value;
  }
  return JSON.stringify(json);
}

// What the worker needs to read the model, and what to transfer to it.
function describeSource(source) {
  const list = Array.isArray(source) ? source : splitParts(source);
  if (list.length === 0) throw lmError('E_ARGUMENT', 'the model source is an empty list');
  const kinds = list.map(sourceKind);
  if (kinds.some((kind) => kind !== kinds[0])) {
    throw lmError('E_ARGUMENT', 'the parts of a split model must all be URLs, paths, Blobs or buffers');
  }
  const kind = kinds[0];
  if (kind === 'buffer') {
    // Transferred, not copied: the caller's buffer is detached afterwards
    // (a view of part of a buffer is copied: only whole buffers transfer).
    const parts = list.map((b) => (!ArrayBuffer.isView(b) ? b
      : b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer
        : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
    return { source: { kind, parts }, transfer: parts };
  }
  const parts = list.map((part) => (kind === 'url' ? absoluteUrl(part)
    : kind === 'path' ? pathOf(part) : part));
  return { source: { kind, parts }, transfer: [] };
}

// "model-00001-of-00003.gguf" names the first of three parts that load as one
// model: the list of all three (other sources: just the source).
function splitParts(source) {
  const name = typeof source === 'string' ? source : source instanceof URL ? source.href : '';
  const match = /-00001-of-(\d{5})\.gguf$/.exec(name.replace(/[?#].*$/, ''));
  if (!match) return [source];
  const count = Number(match[1]);
  return Array.from({ length: count }, (_, i) =>
    name.replace(`-00001-of-${match[1]}.gguf`, `-${String(i + 1).padStart(5, '0')}-of-${match[1]}.gguf`));
}

function sourceKind(part) {
  if (typeof Blob !== 'undefined' && part instanceof Blob) return 'blob';
  if (part instanceof ArrayBuffer || ArrayBuffer.isView(part)) return 'buffer';
  if (part instanceof URL) return part.protocol === 'file:' && isNode ? 'path' : 'url';
  if (typeof part !== 'string' || part === '') {
    throw lmError('E_ARGUMENT', 'a model source is a URL, a path, a Blob, an ArrayBuffer or an array of them');
  }
  if (!isNode) return 'url';
  if (part.startsWith('file:')) return 'path';
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(part) ? 'url' : 'path';
}

function absoluteUrl(url) {
  try {
    return new URL(String(url), globalThis.location?.href).href;
  } catch {
    throw lmError('E_ARGUMENT', `not a valid model URL: ${String(url).slice(0, 200)}`);
  }
}

function pathOf(part) {
  const text = String(part);
  // Node's worker has the same working directory, so relative paths resolve alike.
  return text.startsWith('file:') ? decodeURIComponent(new URL(text).pathname) : text;
}

// ---- the worker ---------------------------------------------------------

async function startWorker() {
  // Spelled out in full so that bundlers see and emit the worker.
  if (!isNode) return new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const { Worker: NodeWorker } = await import('node:worker_threads');
  return new NodeWorker(new URL('./worker.js', import.meta.url));
}

// Requests to the worker, each answered by one reply and any number of events
// before it. In Node the worker keeps the process alive only while a request
// is pending, so a forgotten unload() does not hang the program.
class Channel {
  constructor(worker) {
    this.worker = worker;
    this.pending = new Map();
    this.nextId = 1;
    this.memory = 0;
    const onMessage = (message) => this.receive(message);
    const onError = (error) => this.failAll(lmError('E_INTERNAL', `the localm worker failed: ${error.message}`));
    if (isNode) {
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.unref();
    } else {
      worker.onmessage = (e) => onMessage(e.data);
      worker.onerror = (e) => onError(e);
    }
  }

  request(op, args, options) {
    return this.send(op, args, options).promise;
  }

  // { id, promise }: the id lets the caller abort the request later.
  send(op, args = {}, { onEvent, transfer = [], signal } = {}) {
    const id = this.nextId++;
    const promise = new Promise((resolve, reject) => {
      const abort = () => this.abort(id);
      signal?.addEventListener('abort', abort, { once: true });
      this.pending.set(id, {
        resolve, reject, onEvent,
        cleanup: () => signal?.removeEventListener('abort', abort),
      });
      if (isNode && this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ id, op, ...args }, transfer);
      if (signal?.aborted) abort(); // aborted while the worker was starting
    });
    return { id, promise };
  }

  // Asks the worker to stop request `id` (a generation between two tokens).
  abort(id) {
    this.worker.postMessage({ op: 'abort', target: id });
  }

  receive({ id, event, result, error, memory }) {
    const request = this.pending.get(id);
    if (!request) return;
    if (memory) this.memory = memory;
    if (event !== undefined) {
      request.onEvent?.(event);
      return;
    }
    this.settle(id);
    if (error) request.reject(lmError(error.code, error.message, error.stats ? { stats: error.stats } : {}));
    else request.resolve(result);
  }

  settle(id) {
    this.pending.get(id).cleanup();
    this.pending.delete(id);
    if (isNode && this.pending.size === 0) this.worker.unref();
  }

  failAll(error) {
    for (const [id, request] of [...this.pending]) {
      this.settle(id);
      request.reject(error);
    }
  }

  terminate() {
    this.failAll(lmError('E_STATE', 'the model was unloaded'));
    this.worker.terminate();
  }
}

// ---- the API ------------------------------------------------------------

export class LocalLM {
  static cache = modelCache;

  #channel;
  #info;
  #stats;
  #closed = false;

  constructor(channel, { info, contextSize, threads }) {
    this.#channel = channel;
    this.#info = info;
    this.contextSize = contextSize;
    this.threads = threads;
    this.#recordStats({ prompt_tokens: 0, prompt_ms: 0, gen_tokens: 0, gen_ms: 0, stopped_by: 0,
      mean_logprob: 0, min_logprob: 0, low_confidence_share: 0, perplexity: 1 });
  }

  static async load(source, options = {}) {
    checkLoadOptions(options);
    const { contextSize = 0, threads = 1, memoryBudget = 0, cache = true, sha256, onProgress, signal } = options;
    checkAborted(signal, 'loading');
    const { source: described, transfer } = describeSource(source);
    const digests = sha256 === undefined ? undefined : [sha256].flat();
    if (digests && (described.kind !== 'url' || digests.length !== described.parts.length)) {
      throw lmError('E_OPTION', 'sha256 checks URL sources: one hex digest per part');
    }
    const channel = new Channel(await startWorker());
    try {
      const loaded = await channel.request('load',
        { source: described, contextSize, threads, memoryBudget, sha256: digests, cache: cache !== false },
        { transfer, signal, onEvent: (event) => onProgress?.(event) });
      return new LocalLM(channel, loaded);
    } catch (error) {
      channel.terminate();
      throw error;
    }
  }

  #check() {
    if (this.#closed) throw lmError('E_STATE', 'the model was unloaded');
  }

  info() {
    this.#check();
    return this.#info;
  }

  stats() {
    this.#check();
    return { ...this.#stats, wasmMemoryBytes: this.#channel.memory };
  }

  // addBos: default the model's; special: spell "<|im_start|>" as its token.
  async tokenize(text, { addBos, special = false } = {}) {
    this.#check();
    if (typeof text !== 'string') throw lmError('E_ARGUMENT', 'tokenize() takes a string');
    const bos = addBos === undefined ? -1 : addBos ? 1 : 0;
    return this.#channel.request('tokenize', { text, addBos: bos, special: Boolean(special) });
  }

  async detokenize(ids) {
    this.#check();
    if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) {
      throw lmError('E_ARGUMENT', 'detokenize() takes an array of token ids');
    }
    const list = Array.from(ids);
    // Checked here: an Int32Array would wrap 2^32 + 5 into the valid id 5.
    if (!list.every((id) => Number.isInteger(id) && id >= 0 && id <= INT32_MAX)) {
      throw lmError('E_ARGUMENT', 'token ids must be integers from 0 to 2^31-1');
    }
    return this.#channel.request('detokenize', { ids: list });
  }

  // A text's embedding (mean-pooled, unit-length final hidden states) as a
  // Float32Array; an array of texts gives one each. Resets the context.
  async embed(input) {
    this.#check();
    const single = typeof input === 'string';
    if (!single && !(Array.isArray(input) && input.every((text) => typeof text === 'string'))) {
      throw lmError('E_ARGUMENT', 'embed() takes a string or an array of strings');
    }
    const vectors = await this.#channel.request('embed', { texts: single ? [input] : input });
    return single ? vectors[0] : vectors;
  }

  // The prompt chat() generates from: the messages in the model's chat
  // template (tokenize it with special: true to count what chat() will read).
  async formatChat(messages) {
    this.#check();
    if (!Array.isArray(messages)) {
      throw lmError('E_ARGUMENT', 'formatChat() takes an array of { role, content } messages');
    }
    return this.#channel.request('formatChat', { messages: JSON.stringify(messages) });
  }

  generate(prompt, options = {}) {
    this.#check();
    if (typeof prompt !== 'string') throw lmError('E_ARGUMENT', 'generate() takes a prompt string');
    return this.#stream({ prompt }, options);
  }

  chat(messages, options = {}) {
    this.#check();
    if (!Array.isArray(messages)) {
      throw lmError('E_ARGUMENT', 'chat() takes an array of { role, content } messages');
    }
    return this.#stream({ messages: JSON.stringify(messages) }, options);
  }

  async complete(prompt, options = {}) {
    let text = '';
    for await (const piece of this.generate(prompt, options)) text += piece.text;
    return { text, stats: this.stats() };
  }

  async unload() {
    if (this.#closed) return;
    this.#closed = true;
    await this.#channel.request('unload').catch(() => {});
    this.#channel.terminate();
  }

  // Pieces arrive as worker events; the iterator hands them out in order and,
  // when the caller stops early, aborts the generation and waits for it so the
  // next request finds the model free.
  async* #stream(input, options) {
    const json = generateOptionsJson(options);
    const { signal } = options;
    checkAborted(signal, 'generation');
    const pieces = [];
    let wake = null;
    let finished = false;
    let failure = null;
    const channel = this.#channel;
    const { id, promise: request } = channel.send('generate', { ...input, options: json }, {
      signal,
      onEvent: (piece) => {
        pieces.push(piece);
        wake?.();
      },
    });
    request.then(
      (stats) => { finished = true; this.#recordStats(stats); wake?.(); },
      (error) => { failure = error; if (error.stats) this.#recordStats(error.stats); wake?.(); });
    try {
      for (;;) {
        checkAborted(signal, 'generation'); // pieces still in flight are dropped
        if (pieces.length) {
          yield pieces.shift();
        } else if (failure) {
          throw failure;
        } else if (finished) {
          return;
        } else {
          await new Promise((resolve) => { wake = resolve; });
          wake = null;
        }
      }
    } finally {
      if (!finished && !failure) {
        channel.abort(id);
        await request.catch(() => {});
      }
    }
  }

  #recordStats(s) {
    this.#stats = {
      promptTokens: s.prompt_tokens,
      promptMs: s.prompt_ms,
      genTokens: s.gen_tokens,
      genMs: s.gen_ms,
      prefillTokPerSec: s.prompt_ms > 0 ? (s.prompt_tokens * 1000) / s.prompt_ms : 0,
      decodeTokPerSec: s.gen_ms > 0 ? (s.gen_tokens * 1000) / s.gen_ms : 0,
      finishReason: FINISH_REASONS[s.stopped_by] ?? 'length',
      confidence: {
        meanLogprob: s.mean_logprob,
        minLogprob: s.min_logprob,
        lowConfidenceShare: s.low_confidence_share,
        perplexity: s.perplexity,
      },
      wasmMemoryBytes: this.#channel.memory,
    };
  }
}

export { modelCache };
export { redact, redactAll, restore } from './redact.js';
export { findNamesWithModel } from './names.js';
export { Telemetry } from './telemetry.js';
export { SemanticCache } from './semantic-cache.js';
export { EdgeRouter } from './router.js';
export default LocalLM;
