// Service worker: keeps the app shell (page, code, wasm, icons) so the demo
// opens with no network at all. Model files are not kept here: the LocalLM
// cache holds them in IndexedDB, chunked and verified.
//
// Network first, the cache as the fallback: a server that is up always gives
// the current files, and every successful answer refreshes the copy.

const VERSION = 'v2';
const CACHE = `localm-shell-${VERSION}`;
const SHELL = ['./', 'index.html', 'app.js', 'app.css', 'manifest.webmanifest',
  'icons/icon-192.png', 'icons/icon-512.png'];
// Present only behind scripts/serve.mjs: cached when there, skipped when not.
const OPTIONAL = ['catalog.json'];
// Written by build.sh: every file of the built module (JS, wasm, threaded build).
const DIST_LIST = 'dist/files.json';

async function distFiles() {
  try {
    const response = await fetch(DIST_LIST, { cache: 'no-store' });
    return response.ok ? await response.json() : [];
  } catch {
    return [];
  }
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL);
    await Promise.all([...OPTIONAL, ...await distFiles()].map((url) => cache.add(url).catch(() => {})));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((n) => n.startsWith('localm-shell-') && n !== CACHE).map((n) => caches.delete(n)));
    await self.clients.claim();
  })());
});

function isModelRequest(request, url) {
  return request.headers.has('range') || /\.gguf$/i.test(url.pathname) || url.pathname.includes('/models/');
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin || isModelRequest(request, url)) return;
  event.respondWith(networkFirst(event, request));
});

async function networkFirst(event, request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === 'basic') event.waitUntil(cache.put(request, response.clone()));
    return response;
  } catch (error) {
    const cached = await cache.match(request, { ignoreSearch: request.mode === 'navigate' });
    if (cached) return cached;
    throw error;
  }
}
