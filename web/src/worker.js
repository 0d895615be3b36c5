// The worker that owns the wasm core: a dedicated Web Worker in browsers, a
// worker_threads Worker in Node. localm.js sends it requests
// { id, op, ...args } and gets back events { id, event } (progress, pieces)
// and one final { id, result } or { id, error: { code, message } }.
// Requests run one at a time in arrival order; only 'abort' jumps the queue,
// which is what lets a generation stop between two tokens.

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string' &&
  typeof self === 'undefined';

// The largest heap wasm32 can address (what emscripten_get_heap_max reports).
const WASM_HEAP_MAX = 4294901760;
// The threaded build's pool (PTHREAD_POOL_SIZE in build.sh) plus this thread.
const MAX_THREADS = 8;
const READ_CHUNK = 16 << 20;
const decoder = new TextDecoder();

let core = null;      // the Emscripten module
let session = 0;      // lmw_session* of the loaded model
const aborts = new Map(); // request id -> AbortController of a running request

function fail(code, message) {
  const error = new Error(message);
  error.code = code;
  return error;
}

const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;

// ---- the wasm module ----------------------------------------------------

// threads > 1: the threaded build, when this page can share memory with
// workers (cross-origin isolated); else the single-threaded one. 'auto': one
// thread per core where threads are possible, one thread without a warning
// elsewhere.
function threadsAvailable(threads) {
  const canShareMemory = !isNode && globalThis.crossOriginIsolated === true;
  if (threads === 'auto') threads = canShareMemory ? navigator.hardwareConcurrency || 1 : 1;
  if (threads <= 1) return 1;
  if (!canShareMemory) {
    console.warn(`localm: ${threads} threads asked, running on one: ` +
      (isNode ? 'the Node build is single-threaded' : 'the page is not cross-origin isolated (COOP/COEP)'));
    return 1;
  }
  return Math.min(threads, MAX_THREADS, navigator.hardwareConcurrency || MAX_THREADS);
}

async function loadCore(threads) {
  if (threads > 1) {
    const { default: createLocalmCore } = await import('./mt/localm-core.js');
    return createLocalmCore();
  }
  if (isNode) {
    // Emscripten 3.1.6's Node glue expects CommonJS's require and __dirname,
    // and cannot fetch() a file path, so we hand it the wasm bytes.
    const { createRequire } = await import('node:module');
    const { fileURLToPath } = await import('node:url');
    const { readFile } = await import('node:fs/promises');
    globalThis.require = createRequire(import.meta.url);
    globalThis.__dirname = fileURLToPath(new URL('.', import.meta.url));
    const wasmBinary = await readFile(new URL('./localm-core.wasm', import.meta.url));
    const { default: createLocalmCore } = await import('./localm-core.js');
    return createLocalmCore({ wasmBinary });
  }
  const { default: createLocalmCore } = await import('./localm-core.js');
  return createLocalmCore();
}

const heap = () => core.HEAPU8; // re-read after every call that may grow memory

function coreError() {
  return fail(core.UTF8ToString(core._lmw_status_name(core._lmw_error_code())),
    core.UTF8ToString(core._lmw_error_message()));
}

function mallocOrFail(size, what) {
  const ptr = core._malloc(Math.max(size, 1)) >>> 0;
  if (!ptr) throw fail('E_MEMORY', `out of wasm memory allocating ${mib(size)} for ${what}`);
  return ptr;
}

function allocString(text) {
  const size = core.lengthBytesUTF8(text) + 1;
  const ptr = mallocOrFail(size, 'a string');
  core.stringToUTF8(text, ptr, size);
  return ptr;
}

function withStrings(texts, fn) {
  const ptrs = [];
  try {
    for (const text of texts) ptrs.push(allocString(text));
    return fn(...ptrs);
  } finally {
    for (const ptr of ptrs) core._free(ptr);
  }
}

// ---- model bytes straight into the wasm heap ----------------------------

// Keeps the running total of model bytes so that a model too big for wasm32
// is refused before its bytes are allocated.
class PartAllocator {
  // memoryBudget: the caller's limit in bytes (0: none).
  constructor(knownTotal, memoryBudget) {
    this.ptrs = [];
    this.sizes = [];
    this.reserved = 0;
    const free = WASM_HEAP_MAX - heap().length;
    // The budget of the whole model: weights, KV cache and scratch.
    this.available = memoryBudget > 0 ? Math.min(memoryBudget, free) : free;
    this.limit = memoryBudget > 0 && memoryBudget < free ? 'the memoryBudget option'
      : 'wasm32 memory is limited to 4 GiB';
    this.check(knownTotal);
  }

  check(total) {
    if (total > this.available) {
      throw fail('E_MEMORY', `the model's files take ${mib(total)} but only ${mib(this.available)} ` +
        `are available (${this.limit})`);
    }
  }

  // A view of `size` fresh bytes in the heap, valid until the next allocation.
  allocate(size) {
    this.check(this.reserved + size);
    const ptr = mallocOrFail(size, `model part ${this.ptrs.length + 1}`);
    this.ptrs.push(ptr);
    this.sizes.push(size);
    this.reserved += size;
    return heap().subarray(ptr, ptr + size);
  }

  release() {
    for (const ptr of this.ptrs) core._free(ptr);
    this.ptrs = [];
  }
}

function throwIfAborted(signal) {
  if (signal.aborted) throw fail('E_ABORTED', 'loading was aborted');
}

async function readBlob(blob, parts, signal, progress) {
  const view = parts.allocate(blob.size);
  const reader = blob.stream().getReader();
  let offset = 0;
  for (;;) {
    throwIfAborted(signal);
    const { done, value } = await reader.read();
    if (done) break;
    if (offset + value.length > view.length) throw fail('E_IO', 'the Blob grew while it was read');
    view.set(value, offset);
    offset += value.length;
    progress(offset, view.length);
  }
  if (offset !== view.length) throw fail('E_IO', `the Blob gave ${offset} of ${view.length} bytes`);
}

async function readPath(path, parts, signal, progress) {
  const { open } = await import('node:fs/promises');
  let file;
  try {
    file = await open(path, 'r');
    const { size } = await file.stat();
    const view = parts.allocate(size);
    for (let offset = 0; offset < size;) {
      throwIfAborted(signal);
      const { bytesRead } = await file.read(view, offset, Math.min(READ_CHUNK, size - offset), offset);
      if (bytesRead === 0) throw fail('E_IO', `${path} ended after ${offset} of ${size} bytes`);
      offset += bytesRead;
      progress(offset, size);
    }
  } catch (error) {
    if (error.code && !error.syscall) throw error;
    throw fail('E_IO', `cannot read ${path}: ${error.message}`);
  } finally {
    await file?.close();
  }
}

async function readUrl(url, parts, signal, cache, sha256, progress) {
  const { fetchModel } = await import('./cache.js');
  await fetchModel(url, {
    cache,
    sha256,
    signal,
    allocate: (size) => parts.allocate(size), // its E_MEMORY passes through fetchModel as is
    onProgress: ({ phase, loaded, total }) => progress(loaded, total, phase),
  });
}

// The total size when it is known before reading (URLs: only once fetched).
async function knownSize({ kind, parts }) {
  if (kind === 'blob') return parts.reduce((n, blob) => n + blob.size, 0);
  if (kind === 'buffer') return parts.reduce((n, buffer) => n + buffer.byteLength, 0);
  if (kind !== 'path') return 0;
  const { stat } = await import('node:fs/promises');
  let total = 0;
  for (const path of parts) total += await stat(path).then((st) => st.size, () => 0);
  return total;
}

// source: { kind: 'url' | 'path' | 'blob' | 'buffer', parts: [...] }.
async function readParts({ source, cache, memoryBudget, sha256 }, signal, post) {
  const parts = new PartAllocator(await knownSize(source), memoryBudget);
  try {
    for (const [index, part] of source.parts.entries()) {
      const done = parts.reserved; // bytes of the parts before this one
      const progress = (loaded, total, phase = 'load') =>
        post({ phase, loaded: done + loaded, total: done + total, part: index });
      throwIfAborted(signal);
      if (source.kind === 'url') await readUrl(part, parts, signal, cache, sha256?.[index], progress);
      else if (source.kind === 'path') await readPath(part, parts, signal, progress);
      else if (source.kind === 'blob') await readBlob(part, parts, signal, progress);
      else {
        parts.allocate(part.byteLength).set(new Uint8Array(part));
        progress(part.byteLength, part.byteLength);
      }
    }
    throwIfAborted(signal);
    return parts;
  } catch (error) {
    parts.release();
    throw error;
  }
}

async function load(request, signal, post) {
  const threads = threadsAvailable(request.threads);
  core = await loadCore(threads);
  const parts = await readParts(request, signal, post);
  const n = parts.ptrs.length;
  const table = mallocOrFail(8 * n, 'the part table');
  new Uint32Array(heap().buffer, table, 2 * n).set([...parts.ptrs, ...parts.sizes]);
  // lmw_load owns the parts from here on.
  session = core._lmw_load(table, table + 4 * n, n, request.contextSize, parts.available) >>> 0;
  core._free(table);
  if (!session) throw coreError();
  if (threads > 1 && core._lmw_set_threads(session, threads)) {
    const error = coreError();
    unload();
    throw error;
  }
  if (signal.aborted) {
    unload();
    throw fail('E_ABORTED', 'loading was aborted');
  }
  post({ phase: 'load', loaded: parts.reserved, total: parts.reserved });
  return {
    info: JSON.parse(core.UTF8ToString(core._lmw_info(session))),
    contextSize: core._lmw_context_size(session),
    threads,
  };
}

function unload() {
  if (session) core._lmw_free(session);
  session = 0;
  return null;
}

// ---- tokens -------------------------------------------------------------

// addBos: -1 for the model's default, 0 or 1.
function tokenize({ text, addBos, special }) {
  const bytes = core.lengthBytesUTF8(text);
  const n = withStrings([text], (ptr) => core._lmw_tokenize(session, ptr, bytes, addBos, special ? 1 : 0));
  if (n < 0) throw coreError();
  const ptr = core._lmw_tokens(session) >>> 0;
  return Array.from(new Int32Array(heap().buffer, ptr, n));
}

function detokenize({ ids }) {
  const ptr = mallocOrFail(4 * ids.length, 'token ids');
  try {
    new Int32Array(heap().buffer, ptr, ids.length).set(ids);
    const len = core._lmw_detokenize(session, ptr, ids.length);
    if (len < 0) throw coreError();
    const text = core._lmw_text(session) >>> 0;
    return decoder.decode(heap().slice(text, text + len));
  } finally {
    core._free(ptr);
  }
}

// ---- generation ---------------------------------------------------------

// Lets queued messages (an 'abort') run between two tokens. Node: setImmediate
// runs after pending I/O, which a MessagePort's own queue would not. Browsers:
// a MessageChannel task, without setTimeout's 4 ms clamp.
const tick = isNode ? null : new MessageChannel();
const yieldToMessages = () => new Promise((resolve) => {
  if (isNode) return setImmediate(resolve);
  tick.port1.onmessage = resolve;
  tick.port2.postMessage(null);
});

function formatChat(messages) {
  const ptr = withStrings([messages], (m) => core._lmw_chat_format(session, m)) >>> 0;
  if (!ptr) throw coreError();
  const prompt = core.UTF8ToString(ptr);
  core._free(ptr);
  return prompt;
}

function readStep(ptr) {
  const fields = new Int32Array(heap().buffer, ptr, 6);
  const floats = new Float32Array(heap().buffer, ptr, 6);
  const text = fields[3] >>> 0;
  return {
    done: fields[0] !== 0,
    token: fields[1],
    logprob: floats[2],
    entropy: floats[5],
    text: decoder.decode(heap().slice(text, text + fields[4])), // no decoding from shared memory
  };
}

async function generate({ prompt, messages, options }, signal, post) {
  if (messages !== undefined) prompt = formatChat(messages);
  const status = withStrings([prompt, options], (p, o) => core._lmw_generate_start(session, p, o));
  let error = status ? coreError() : null;
  while (!error) {
    if (signal.aborted) {
      error = fail('E_ABORTED', 'generation was aborted');
      break;
    }
    const ptr = core._lmw_generate_next(session) >>> 0;
    if (!ptr) {
      error = coreError();
      break;
    }
    const { done, ...piece } = readStep(ptr);
    if (!done || piece.text) post(piece);
    if (done) break;
    await yieldToMessages();
  }
  const stats = JSON.parse(core.UTF8ToString(core._lmw_generate_stats(session)));
  core._lmw_generate_free(session);
  if (error) {
    error.stats = stats;
    throw error;
  }
  return stats;
}

// ---- embeddings ---------------------------------------------------------

// One Float32Array per text, copied out of the heap (never a view of shared
// memory, which the next call overwrites).
function embed({ texts }) {
  const n = core._lmw_n_embd(session);
  const vectors = [];
  for (const text of texts) {
    const bytes = core.lengthBytesUTF8(text);
    const ptr = withStrings([text], (p) => core._lmw_embed(session, p, bytes)) >>> 0;
    if (!ptr) throw coreError();
    vectors.push(new Float32Array(new Float32Array(heap().buffer, ptr, n)));
  }
  return vectors;
}

// ---- messages -----------------------------------------------------------

const handlers = {
  load, unload, tokenize, detokenize, generate, embed,
  formatChat: ({ messages }) => formatChat(messages),
};

function send(message) {
  if (core) message.memory = heap().length;
  port.postMessage(message);
}

async function run(message, controller) {
  const { id, op } = message;
  try {
    if (op !== 'load' && op !== 'unload' && !session) throw fail('E_STATE', 'no model is loaded');
    const result = await handlers[op](message, controller.signal, (event) => send({ id, event }));
    send({ id, result });
  } catch (error) {
    // No code: a trap or a bug in the core, not a condition the caller caused.
    const code = error.code || 'E_INTERNAL';
    send({ id, error: { code, message: error.message || String(error), stats: error.stats } });
  } finally {
    aborts.delete(id);
  }
}

let queue = Promise.resolve();

// The controller exists from arrival, so a request aborted while it waits in
// the queue starts aborted.
function onMessage(message) {
  if (message.op === 'abort') {
    aborts.get(message.target)?.abort();
    return;
  }
  const controller = new AbortController();
  aborts.set(message.id, controller);
  queue = queue.then(() => run(message, controller));
}

const port = isNode ? (await import('node:worker_threads')).parentPort : self;
if (isNode) port.on('message', onMessage);
else port.onmessage = (e) => onMessage(e.data);
