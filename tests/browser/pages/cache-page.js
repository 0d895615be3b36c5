// Test page for web/src/cache.js: the browser tests drive it through
// window.cacheTest and get plain JSON back.
import { fetchModel, modelCache } from '/src/cache.js';

async function hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (x) => x.toString(16).padStart(2, '0')).join('');
}

function openRaw() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open('localm-models');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

// Flips one byte of a stored chunk behind the cache's back.
async function corruptChunk(url, index) {
  const db = await openRaw();
  await new Promise((resolve, reject) => {
    const store = db.transaction('chunks', 'readwrite').objectStore('chunks');
    const get = store.get([new URL(url, location.href).href, index]);
    get.onsuccess = () => {
      const record = get.result;
      const bytes = new Uint8Array(record.bytes);
      bytes[7] ^= 0xff;
      const put = store.put(record);
      put.onsuccess = resolve;
      put.onerror = () => reject(put.error);
    };
    get.onerror = () => reject(get.error);
  });
  db.close();
}

window.cacheTest = {
  // abortAfterMs: abort the load after that long.
  async load(url, { abortAfterMs, ...options } = {}) {
    let target = null;
    const phases = new Set();
    const controller = new AbortController();
    if (abortAfterMs) setTimeout(() => controller.abort(), abortAfterMs);
    try {
      const result = await fetchModel(url, {
        ...options,
        signal: controller.signal,
        allocate: (n) => (target = new Uint8Array(n)),
        onProgress: (p) => phases.add(p.phase),
      });
      return { ...result, sha256: await hex(target), phases: [...phases] };
    } catch (error) {
      return { error: { code: error.code, message: error.message } };
    }
  },
  list: () => modelCache.list(),
  usage: () => modelCache.usage(),
  delete: (url) => modelCache.delete(url),
  clear: () => modelCache.clear(),
  corruptChunk,
};
document.getElementById('ready').textContent = 'ready';
