// Model weight cache: downloads a model file straight into memory the caller
// provides and keeps a copy in IndexedDB, so a model downloaded once loads
// again offline. Works in a page, in a Worker and in Node (no IndexedDB
// there: it just downloads).
//
// Layout: database "localm-models", store "meta" (one record per URL) and
// store "chunks" (key [url, index], CHUNK_SIZE bytes each). A meta record is
// { url, size, etag, lastModified, sha256, chunkSize, chunks, chunkHashes,
//   storedBytes, complete, storedAt, lastUsed }. "complete" is set only after
// every chunk is stored and the size (and sha256 when known) check passed, so
// a partial entry is never read as a model; it is where a download resumes.
// Each chunk's sha256 is kept in the meta record and checked on every read.

const DB_NAME = 'localm-models';
const DB_VERSION = 1;
const CHUNK_SIZE = 8 << 20;
const PROGRESS_INTERVAL_MS = 100;

export function cacheError(code, message, cause) {
  const error = new Error(message, cause ? { cause } : undefined);
  error.code = code;
  return error;
}

const hasIndexedDb = () => typeof indexedDB !== 'undefined';

function absoluteUrl(url) {
  try {
    return new URL(String(url), globalThis.location?.href).href;
  } catch {
    throw cacheError('E_NETWORK', `not a valid model URL: ${String(url).slice(0, 200)}`);
  }
}

const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;

// ---- SHA-256 ------------------------------------------------------------
// WebCrypto only hashes whole buffers, and not views of shared (threaded wasm)
// memory, so the whole-file check streams through this incremental version.

const PRIMES = [];
for (let n = 2; PRIMES.length < 64; n++) if (PRIMES.every((p) => n % p)) PRIMES.push(n);
const fraction32 = (x) => Math.floor((x - Math.floor(x)) * 2 ** 32) | 0;
// Int32Array keeps the arithmetic in small integers (Uint32 values above 2^31
// would make V8 fall back to doubles).
const SHA_K = Int32Array.from(PRIMES, (p) => fraction32(Math.cbrt(p)));
const SHA_H0 = Int32Array.from(PRIMES.slice(0, 8), (p) => fraction32(Math.sqrt(p)));

export class Sha256 {
  constructor() {
    this.h = SHA_H0.slice();
    this.w = new Int32Array(64);
    this.block = new Uint8Array(64);
    this.blockLength = 0;
    this.totalBytes = 0;
  }

  update(data) {
    let i = 0;
    this.totalBytes += data.length;
    if (this.blockLength > 0) {
      i = Math.min(64 - this.blockLength, data.length);
      this.block.set(data.subarray(0, i), this.blockLength);
      this.blockLength += i;
      if (this.blockLength < 64) return this;
      this.compress(this.block, 0);
      this.blockLength = 0;
    }
    for (; i + 64 <= data.length; i += 64) this.compress(data, i);
    this.block.set(data.subarray(i), 0);
    this.blockLength = data.length - i;
    return this;
  }

  // Finishes the hash: the object is spent afterwards.
  hex() {
    const bits = this.totalBytes * 8;
    const tail = new Uint8Array((this.blockLength < 56 ? 64 : 128) - this.blockLength);
    tail[0] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(tail.length - 4, bits >>> 0);
    this.update(tail);
    return Array.from(this.h, (x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
  }

  compress(bytes, offset) {
    const w = this.w;
    for (let t = 0; t < 16; t++) {
      const o = offset + 4 * t;
      w[t] = (bytes[o] << 24) | (bytes[o + 1] << 16) | (bytes[o + 2] << 8) | bytes[o + 3];
    }
    for (let t = 16; t < 64; t++) {
      const a = w[t - 15], b = w[t - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    const h = this.h;
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (k + S1 + ((e & f) ^ (~e & g)) + SHA_K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0;
      d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += k;
  }
}

async function chunkHash(bytes) {
  if (!globalThis.crypto?.subtle) return new Sha256().update(bytes).hex();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (x) => x.toString(16).padStart(2, '0')).join('');
}

// ---- IndexedDB ----------------------------------------------------------

let dbPromise = null;

function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        request.result.createObjectStore('meta', { keyPath: 'url' });
        request.result.createObjectStore('chunks', { keyPath: ['url', 'index'] });
      };
      request.onsuccess = () => {
        const db = request.result;
        db.onversionchange = () => { db.close(); dbPromise = null; };
        db.onclose = () => { dbPromise = null; };
        resolve(db);
      };
      request.onerror = () => reject(request.error);
    });
    dbPromise.catch(() => { dbPromise = null; });
  }
  return dbPromise;
}

// Runs fn(tx, out) in one transaction; resolves out.value once it committed.
async function transact(stores, mode, fn) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(stores, mode);
    const out = {};
    tx.oncomplete = () => resolve(out.value);
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    try {
      fn(tx, out);
    } catch (error) {
      reject(error);
      try { tx.abort(); } catch { /* already finished */ }
    }
  });
}

const chunkRange = (url) => IDBKeyRange.bound([url, 0], [url, Infinity]);

const getMeta = (url) => transact(['meta'], 'readonly', (tx, out) => {
  tx.objectStore('meta').get(url).onsuccess = (e) => { out.value = e.target.result; };
});

const putMeta = (meta) => transact(['meta'], 'readwrite', (tx) => {
  tx.objectStore('meta').put(meta);
});

const getChunk = (url, index) => transact(['chunks'], 'readonly', (tx, out) => {
  tx.objectStore('chunks').get([url, index]).onsuccess = (e) => { out.value = e.target.result; };
});

const allMeta = () => transact(['meta'], 'readonly', (tx, out) => {
  tx.objectStore('meta').getAll().onsuccess = (e) => { out.value = e.target.result; };
});

const deleteEntry = (url) => transact(['meta', 'chunks'], 'readwrite', (tx) => {
  tx.objectStore('meta').delete(url);
  tx.objectStore('chunks').delete(chunkRange(url));
});

// The chunk and the meta record that counts it commit together, so the meta
// never claims a chunk that is not there.
async function storeChunk(meta, bytes) {
  const hash = await chunkHash(bytes);
  const index = meta.chunks;
  const next = {
    ...meta,
    chunks: index + 1,
    chunkHashes: [...meta.chunkHashes, hash],
    storedBytes: meta.storedBytes + bytes.length,
  };
  await transact(['meta', 'chunks'], 'readwrite', (tx) => {
    tx.objectStore('chunks').put({ url: meta.url, index, bytes: bytes.buffer });
    tx.objectStore('meta').put(next);
  });
  Object.assign(meta, next);
}

function withUrlLock(url, signal, fn) {
  const locks = globalThis.navigator?.locks;
  if (!locks) return fn();
  return locks.request(`localm-model ${url}`, { signal }, fn);
}

const isQuotaError = (e) => e?.name === 'QuotaExceededError' || e?.code === 'E_QUOTA';

// ---- the caller's memory --------------------------------------------------

// Writes bytes in order into the Uint8Array that allocate() returns, calling
// allocate once, as soon as the size is known (at the end when it never is).
class Sink {
  constructor(allocate, onProgress) {
    this.allocate = allocate;
    this.onProgress = onProgress;
    this.target = null;
    this.total = null;
    this.pieces = null;
    this.offset = 0;
    this.lastReport = 0;
  }

  begin(total) {
    this.offset = 0;
    this.total = total;
    this.pieces = total == null ? [] : null;
    if (total == null) return;
    if (!this.target) this.target = this.claim(total);
    else if (this.target.length !== total) {
      throw cacheError('E_INTEGRITY', `model size changed from ${this.target.length} to ${total} bytes while loading`);
    }
  }

  claim(total) {
    const target = this.allocate(total);
    if (!(target instanceof Uint8Array) || target.length !== total) {
      throw cacheError('E_OPTION', `allocate(${total}) must return a Uint8Array of exactly ${total} bytes`);
    }
    return target;
  }

  write(bytes, phase) {
    if (this.pieces) {
      this.pieces.push(bytes.slice());
    } else {
      if (this.offset + bytes.length > this.total) {
        throw cacheError('E_INTEGRITY', `received more than the announced ${this.total} bytes`);
      }
      this.target.set(bytes, this.offset);
    }
    this.offset += bytes.length;
    const now = Date.now();
    if (this.onProgress && (now - this.lastReport >= PROGRESS_INTERVAL_MS || this.offset === this.total)) {
      this.lastReport = now;
      this.onProgress({ phase, loaded: this.offset, total: this.total ?? undefined });
    }
  }

  // Checks the byte count; gathers buffered pieces when the size was unknown.
  finish(url) {
    if (this.pieces) {
      this.total = this.offset;
      this.target = this.claim(this.offset);
      let at = 0;
      for (const piece of this.pieces) { this.target.set(piece, at); at += piece.length; }
      this.pieces = null;
      this.onProgress?.({ phase: 'download', loaded: this.offset, total: this.total });
    }
    if (this.offset !== this.total) {
      throw cacheError('E_NETWORK', `download of ${url} ended after ${this.offset} of ${this.total} bytes`);
    }
  }
}

// ---- loading ----------------------------------------------------------------

function checkAborted(job) {
  if (job.signal?.aborted) throw cacheError('E_ABORTED', `loading ${job.url} was aborted`);
}

async function httpGet(job, headers) {
  let response;
  try {
    // no-store: the model is kept once, in IndexedDB, not a second time in
    // the HTTP cache.
    const init = { headers, signal: job.signal };
    if (job.caching) init.cache = 'no-store';
    response = await fetch(job.url, init);
  } catch (error) {
    checkAborted(job);
    const offline = globalThis.navigator?.onLine === false ? ' (offline and not cached)' : '';
    throw cacheError('E_NETWORK', `cannot fetch ${job.url}${offline}: ${error.message}`, error);
  }
  if (!response.ok || !response.body) {
    response.body?.cancel().catch(() => {});
    throw cacheError('E_NETWORK', `HTTP ${response.status} ${response.statusText} for ${job.url}`);
  }
  return response;
}

function announcedSize(response) {
  const encoding = response.headers.get('content-encoding');
  const length = response.headers.get('content-length');
  if ((encoding && encoding !== 'identity') || !/^\d+$/.test(length ?? '')) return null;
  return Number(length);
}

// True when a 206 answer continues exactly where the partial entry stopped,
// from the same file (same ETag, else same Last-Modified). Cross-origin
// servers may hide Content-Range or ETag: that is a restart, never a mix.
function continuesPartial(response, partial, from) {
  if (response.status !== 206) return false;
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers.get('content-range') ?? '');
  if (!match || Number(match[1]) !== from || Number(match[2]) !== partial.size - 1 ||
      Number(match[3]) !== partial.size) return false;
  const etag = response.headers.get('etag');
  if (partial.etag && etag) return etag === partial.etag;
  const lastModified = response.headers.get('last-modified');
  return !!partial.lastModified && lastModified === partial.lastModified;
}

function canResume(partial) {
  return !!partial && !partial.complete && partial.size > 0 && partial.chunks > 0 &&
    !!(partial.etag || partial.lastModified);
}

function newMeta(job, response, size) {
  const etag = response.headers.get('etag');
  const now = Date.now();
  return {
    url: job.url,
    size,
    etag: etag && !etag.startsWith('W/') ? etag : null,
    lastModified: response.headers.get('last-modified'),
    sha256: job.sha256 ?? null,
    chunkSize: job.chunkSize,
    chunks: 0,
    chunkHashes: [],
    storedBytes: 0,
    complete: false,
    storedAt: now,
    lastUsed: now,
  };
}

// Copies stored chunks [0, count) into the caller's memory, checking each
// chunk's hash. Throws E_INTEGRITY naming the first bad chunk.
async function readChunks(job, meta, count, hasher) {
  for (let index = 0; index < count; index++) {
    checkAborted(job);
    const record = await getChunk(meta.url, index);
    const expected = Math.min(meta.chunkSize, meta.size - index * meta.chunkSize);
    const bytes = record && new Uint8Array(record.bytes);
    if (!bytes || bytes.length !== expected) {
      throw cacheError('E_INTEGRITY', `cached chunk ${index} of ${meta.url} is missing or truncated`);
    }
    if ((await chunkHash(bytes)) !== meta.chunkHashes[index]) {
      throw cacheError('E_INTEGRITY', `cached chunk ${index} of ${meta.url} is corrupt (sha256 mismatch)`);
    }
    hasher?.update(bytes);
    job.sink.write(bytes, 'cache');
  }
}

async function readComplete(job, meta) {
  if (!(meta.size >= 0) || meta.chunks !== Math.ceil(meta.size / meta.chunkSize) ||
      meta.chunkHashes?.length !== meta.chunks) {
    throw cacheError('E_INTEGRITY', `cached entry of ${meta.url} is inconsistent (${meta.chunks} chunks for ${meta.size} bytes)`);
  }
  job.sink.begin(meta.size);
  await readChunks(job, meta, meta.chunks, null);
  job.sink.finish(job.url);
  await putMeta({ ...meta, lastUsed: Date.now() }).catch(() => {});  // only bookkeeping
  return { size: meta.size, fromCache: true };
}

// Takes exactly n bytes from the front of a list of pieces.
function takeBytes(pending, n) {
  const out = new Uint8Array(n);
  let at = 0;
  while (at < n) {
    const piece = pending.list[0];
    const used = Math.min(piece.length, n - at);
    out.set(piece.subarray(0, used), at);
    at += used;
    if (used === piece.length) pending.list.shift();
    else pending.list[0] = piece.subarray(used);
  }
  pending.length -= n;
  return out;
}

async function readBody(job, reader) {
  try {
    return await reader.read();
  } catch (error) {
    checkAborted(job);
    throw cacheError('E_NETWORK', `download of ${job.url} broke off after ${job.sink.offset} bytes: ${error.message}`, error);
  }
}

async function streamBody(job, response, meta, hasher) {
  const reader = response.body.getReader();
  const pending = { list: [], length: 0 };
  try {
    for (;;) {
      const { done, value } = await readBody(job, reader);
      if (done) break;
      job.sink.write(value, 'download');
      hasher?.update(value);
      if (!meta) continue;
      pending.list.push(value);
      pending.length += value.length;
      while (pending.length >= meta.chunkSize) await storeChunk(meta, takeBytes(pending, meta.chunkSize));
    }
    if (meta && pending.length > 0) await storeChunk(meta, takeBytes(pending, pending.length));
  } catch (error) {
    reader.cancel().catch(() => {});
    throw error;
  }
}

// Downloads the file, continuing the partial entry with a Range request when
// the server can (206 with the matching Content-Range); else starts over.
// Only Range is sent (no If-Range), as a single "bytes=N-" range is the one
// request header a cross-origin fetch may add without a CORS preflight.
async function download(job, partial) {
  const from = canResume(partial) ? partial.chunks * partial.chunkSize : 0;
  let response;
  try {
    response = await httpGet(job, from > 0 ? { Range: `bytes=${from}-` } : {});
  } catch (error) {
    // Refused range (416, a proxy's 4xx, a failed preflight): start over.
    if (from === 0 || error.code !== 'E_NETWORK') throw error;
    return download(job, null);
  }
  const resumed = from > 0 && continuesPartial(response, partial, from);
  if (response.status === 206 && !resumed) {
    response.body.cancel().catch(() => {});
    if (from === 0) throw cacheError('E_NETWORK', `unexpected partial answer (206) for ${job.url}`);
    await deleteEntry(job.url);
    return download(job, null);
  }
  let result;
  try {
    result = await receive(job, response, resumed ? partial : null);
  } catch (error) {
    response.body.cancel().catch(() => {});  // rejects when streamBody holds it: already cancelled
    throw error;
  }
  if (result !== RESTART) return result;
  response.body.cancel().catch(() => {});
  await deleteEntry(job.url);
  return download(job, null);
}

const RESTART = Symbol('the stored part is bad: start over');

// Reads the answer into the caller's memory, after the stored chunks of the
// partial entry it continues (if any), storing new chunks as they complete.
async function receive(job, response, partial) {
  const size = partial ? partial.size : announcedSize(response);
  job.sink.begin(size);
  let meta = partial;
  if (job.caching && !partial) {
    meta = newMeta(job, response, size);
    await deleteEntry(job.url);
    await putMeta(meta);
  }
  const hasher = job.sha256 ? new Sha256() : null;
  if (partial) {
    try {
      await readChunks(job, partial, partial.chunks, hasher);
    } catch (error) {
      if (error.code === 'E_INTEGRITY') return RESTART;
      throw error;
    }
  }
  await streamBody(job, response, meta, hasher);
  job.sink.finish(job.url);
  const digest = hasher?.hex();
  if (digest && digest !== job.sha256) {
    if (meta) await deleteEntry(job.url);
    throw cacheError('E_INTEGRITY', `sha256 of ${job.url} is ${digest}, expected ${job.sha256}`);
  }
  if (meta) await putMeta({ ...meta, size: job.sink.total, complete: true, lastUsed: Date.now() });
  return { size: job.sink.total, fromCache: false };
}

async function downloadKeepingQuota(job, partial) {
  try {
    return await download(job, partial);
  } catch (error) {
    if (!isQuotaError(error)) throw error;
    await deleteEntry(job.url).catch(() => {});
    throw cacheError('E_QUOTA', `not enough storage to cache ${job.url}` +
      (job.sink.total ? ` (${mib(job.sink.total)})` : '') +
      '; the partial download was removed, other cached models are untouched', error);
  }
}

async function loadCachedOrDownload(job) {
  let meta = await getMeta(job.url);
  if (meta && job.sha256 && meta.sha256 && meta.sha256 !== job.sha256) {
    await deleteEntry(job.url);  // a different file than the one asked for
    meta = null;
  }
  if (!meta?.complete) return downloadKeepingQuota(job, meta);
  try {
    return await readComplete(job, meta);
  } catch (error) {
    if (error.code !== 'E_INTEGRITY') throw error;
    await deleteEntry(job.url);
    try {
      return await downloadKeepingQuota(job, null);
    } catch (retryError) {
      if (retryError.code !== 'E_NETWORK') throw retryError;
      throw cacheError('E_INTEGRITY', `${error.message}; the entry was removed and downloading it again failed: ${retryError.message}`, retryError);
    }
  }
}

function asCacheError(error, job) {
  // Ours, or the caller's own (allocate's E_MEMORY), pass through as they are.
  if (typeof error?.code === 'string' && error.code.startsWith('E_')) return error;
  if (job.signal?.aborted || error?.name === 'AbortError') {
    return cacheError('E_ABORTED', `loading ${job.url} was aborted`, error);
  }
  if (isQuotaError(error)) return cacheError('E_QUOTA', `not enough storage to cache ${job.url}`, error);
  return cacheError('E_IO', `model cache failed for ${job.url}: ${error?.message ?? error}`, error);
}

// Fetches one model file into memory from allocate(totalBytes); see the
// contract at the top of this file. chunkSize is for tests.
export async function fetchModel(url, { cache = true, onProgress, signal, allocate, sha256, chunkSize = CHUNK_SIZE } = {}) {
  if (typeof allocate !== 'function') throw cacheError('E_OPTION', 'fetchModel needs an allocate(totalBytes) function');
  if (sha256 != null && !/^[0-9a-fA-F]{64}$/.test(sha256)) throw cacheError('E_OPTION', `sha256 must be 64 hex digits, got ${sha256}`);
  if (!Number.isInteger(chunkSize) || chunkSize < 1024) throw cacheError('E_OPTION', `chunkSize must be an integer >= 1024, got ${chunkSize}`);
  const job = {
    url: absoluteUrl(url),
    signal,
    sha256: sha256?.toLowerCase() ?? null,
    chunkSize,
    caching: false,
    sink: new Sink(allocate, onProgress),
  };
  try {
    checkAborted(job);
    if (cache && hasIndexedDb()) {
      try {
        await openDb();
        job.caching = true;
      } catch (error) {
        console.warn(`localm: IndexedDB unavailable, downloading without cache: ${error.message}`);
      }
    }
    if (!job.caching) return await download(job, null);
    return await withUrlLock(job.url, signal, () => loadCachedOrDownload(job));
  } catch (error) {
    throw asCacheError(error, job);
  }
}

export const modelCache = {
  async list() {
    if (!hasIndexedDb()) return [];
    const metas = await allMeta();
    return metas.map(({ url, size, sha256, complete, storedAt, lastUsed, storedBytes }) =>
      ({ url, size, sha256, complete, storedAt, lastUsed, storedBytes }));
  },

  // Waits for a load of the same URL in progress (in any tab) to finish.
  async delete(url) {
    if (!hasIndexedDb()) return;
    const key = absoluteUrl(url);
    await withUrlLock(key, undefined, () => deleteEntry(key));
  },

  async clear() {
    if (!hasIndexedDb()) return;
    await transact(['meta', 'chunks'], 'readwrite', (tx) => {
      tx.objectStore('meta').clear();
      tx.objectStore('chunks').clear();
    });
  },

  async usage() {
    const estimate = (await globalThis.navigator?.storage?.estimate?.()) ?? {};
    const metas = hasIndexedDb() ? await allMeta() : [];
    const models = metas.reduce((sum, meta) => sum + meta.storedBytes, 0);
    return { usage: estimate.usage ?? null, quota: estimate.quota ?? null, models };
  },
};
