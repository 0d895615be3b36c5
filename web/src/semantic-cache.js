// A local answer cache keyed by meaning: a query whose embedding is close
// enough (cosine >= threshold) to one answered before gets the stored answer
// back, so a router can skip escalating it. Entries live in IndexedDB in
// browsers (surviving reloads) or in memory (Node, or when asked), kept apart
// by namespace so that one model's vectors never meet another's.
//
// The cache must never break a chat: when IndexedDB fails (quota, blocked,
// private mode) it warns once and behaves as an empty cache from then on; a
// query that cannot be embedded (longer than the context...) is a miss with
// a warning. Only wrong arguments reject.

const DB_NAME = 'localm-semantic-cache';
const STORE = 'entries';
const OPEN_TIMEOUT_MS = 5000; // some private modes never answer an open()

function cacheError(code, message) {
  const error = new Error(message);
  error.code = code;
  return error;
}
const optionError = (message) => cacheError('E_OPTION', message);

function cosine(a, b) {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa > 0 && bb > 0 ? dot / Math.sqrt(aa * bb) : 0;
}

// ---- storage: both keep entries { id, namespace, query, answer, vector,
// storedAt, meta }, ids increasing in insertion order --------------------

// Shared by every memory cache of this page/process, like IndexedDB is.
const memoryEntries = new Map(); // namespace -> entries, oldest first
let memoryNextId = 1;

class MemoryStore {
  async all(namespace) {
    return memoryEntries.get(namespace) ?? [];
  }

  async put(entry, maxEntries) {
    const kept = (memoryEntries.get(entry.namespace) ?? []).filter((e) => e.query !== entry.query);
    kept.push({ ...entry, id: memoryNextId++ });
    memoryEntries.set(entry.namespace, kept.slice(-maxEntries));
  }

  async clear(namespace) {
    memoryEntries.delete(namespace);
  }
}

const done = (request) => new Promise((resolve, reject) => {
  request.onsuccess = () => resolve(request.result);
  request.onerror = () => reject(request.error);
});

class IndexedDbStore {
  #db = null;

  #open() {
    this.#db ??= new Promise((resolve, reject) => {
      const fail = (error) => {
        clearTimeout(timer);
        reject(error);
      };
      const timer = setTimeout(() => fail(new Error(`opening IndexedDB took over ${OPEN_TIMEOUT_MS} ms`)),
        OPEN_TIMEOUT_MS);
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        const store = request.result.createObjectStore(STORE, { keyPath: 'id', autoIncrement: true });
        store.createIndex('namespace', 'namespace');
      };
      request.onblocked = () => fail(new Error('opening IndexedDB is blocked by another tab'));
      request.onerror = () => fail(request.error);
      request.onsuccess = () => {
        clearTimeout(timer);
        const db = request.result;
        // Let another tab upgrade or delete the database; we reopen on next use.
        db.onversionchange = () => {
          db.close();
          this.#db = null;
        };
        resolve(db);
      };
    });
    return this.#db;
  }

  // Runs fn(store) in one transaction and resolves once it has committed;
  // if fn fails, nothing it did is kept.
  async #transaction(mode, fn) {
    const tx = (await this.#open()).transaction(STORE, mode);
    const finished = new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onabort = () => reject(tx.error ?? new Error('the IndexedDB transaction was aborted'));
    });
    finished.catch(() => {}); // awaited below, unless fn fails first
    let result;
    try {
      result = await fn(tx.objectStore(STORE));
    } catch (error) {
      try { tx.abort(); } catch { /* already finished */ }
      throw error;
    }
    await finished;
    return result;
  }

  all(namespace) {
    return this.#transaction('readonly', (store) => done(store.index('namespace').getAll(namespace)));
  }

  // Replaces an entry with the same query, then evicts the oldest past maxEntries.
  put(entry, maxEntries) {
    return this.#transaction('readwrite', async (store) => {
      const index = store.index('namespace');
      for (const old of await done(index.getAll(entry.namespace))) {
        if (old.query === entry.query) store.delete(old.id);
      }
      await done(store.add(entry));
      const ids = await done(index.getAllKeys(entry.namespace));
      for (const id of ids.slice(0, Math.max(0, ids.length - maxEntries))) store.delete(id);
    });
  }

  clear(namespace) {
    return this.#transaction('readwrite', async (store) => {
      for (const id of await done(store.index('namespace').getAllKeys(namespace))) store.delete(id);
    });
  }
}

// A stand-in for a store that failed: an empty cache that accepts nothing.
const NO_STORE = {
  all: async () => [],
  put: async () => {},
  clear: async () => {},
};

// ---- the cache ----------------------------------------------------------

export class SemanticCache {
  #embed;
  #namespace;
  #threshold;
  #maxEntries;
  #store;
  #last = null; // { query, vector }: store() after a missed lookup() of the same query

  constructor({ embed, namespace, threshold = 0.95, maxEntries = 500, storage } = {}) {
    if (typeof embed !== 'function') throw optionError('SemanticCache needs an embed(text) function');
    if (typeof namespace !== 'string' || namespace === '') throw optionError('SemanticCache needs a namespace string');
    if (typeof threshold !== 'number' || !(threshold >= -1 && threshold <= 1)) {
      throw optionError(`threshold must be a cosine similarity from -1 to 1, got ${threshold}`);
    }
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw optionError(`maxEntries must be a positive integer, got ${maxEntries}`);
    }
    const hasIndexedDb = typeof indexedDB !== 'undefined';
    storage ??= hasIndexedDb ? 'indexeddb' : 'memory';
    if (storage !== 'indexeddb' && storage !== 'memory') {
      throw optionError(`storage must be 'indexeddb' or 'memory', got ${storage}`);
    }
    this.#embed = embed;
    this.#namespace = namespace;
    this.#threshold = threshold;
    this.#maxEntries = maxEntries;
    this.#store = storage === 'memory' ? new MemoryStore() : hasIndexedDb ? new IndexedDbStore() : NO_STORE;
    if (this.#store === NO_STORE) this.#warn('IndexedDB is not available here', null);
  }

  // The most similar entry at or above the threshold, or null.
  async lookup(query) {
    if (this.#store === NO_STORE) return null; // no embedding work for nothing
    const vector = await this.#vector(query);
    if (!vector) return null;
    let best = null;
    let bestSimilarity = -Infinity;
    for (const entry of await this.#use('read', (store) => store.all(this.#namespace), [])) {
      if (entry.vector?.length !== vector.length) continue; // from another embedding
      const similarity = cosine(vector, entry.vector);
      if (similarity > bestSimilarity) {
        best = entry;
        bestSimilarity = similarity;
      }
    }
    if (!best || bestSimilarity < this.#threshold) return null;
    return { answer: best.answer, similarity: bestSimilarity, query: best.query, storedAt: best.storedAt,
      meta: best.meta ?? {} };
  }

  async store(query, answer, meta = {}) {
    if (typeof answer !== 'string') throw cacheError('E_ARGUMENT', 'store() takes the answer as a string');
    if (this.#store === NO_STORE) return;
    const vector = await this.#vector(query);
    if (!vector) return;
    const entry = { namespace: this.#namespace, query, answer, vector, storedAt: Date.now(), meta };
    await this.#use('write', (store) => store.put(entry, this.#maxEntries), undefined);
  }

  async clear() {
    await this.#use('clear', (store) => store.clear(this.#namespace), undefined);
  }

  async size() {
    return (await this.#use('read', (store) => store.all(this.#namespace), [])).length;
  }

  // The query's embedding as a Float32Array, or null when it cannot be made
  // (too long for the context, the model unloaded...): such a query is a miss.
  // The last one is kept: a router stores the answer to the query it just
  // looked up, and embedding it again would cost a second forward pass.
  async #vector(query) {
    if (typeof query !== 'string') throw cacheError('E_ARGUMENT', 'the query must be a string');
    if (this.#last?.query === query) return this.#last.vector;
    try {
      const vector = await this.#embed(query);
      if (!(vector instanceof Float32Array) && !Array.isArray(vector)) throw new Error('embed() returned no vector');
      this.#last = { query, vector: Float32Array.from(vector) };
      return this.#last.vector;
    } catch (error) {
      console.warn(`localm SemanticCache: cannot embed the query, treating it as a miss: ${error.message}`);
      return null;
    }
  }

  // Runs a storage operation; when it fails the cache turns into an empty
  // one for the rest of its life, so a broken IndexedDB costs one warning.
  async #use(what, fn, fallback) {
    try {
      return await fn(this.#store);
    } catch (error) {
      this.#store = NO_STORE;
      this.#warn(`IndexedDB failed to ${what}`, error);
      return fallback;
    }
  }

  #warn(what, error) {
    console.warn(`localm SemanticCache: ${what}${error ? ` (${error.name}: ${error.message})` : ''}; ` +
      'continuing without a cache');
  }
}
