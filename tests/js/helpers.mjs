// Shared by the node:test files: where things are, and a tiny HTTP server.
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedDir = process.env.LM_SHARED_DIR || resolve(repoRoot, '../shared');
export const storiesModel = resolve(sharedDir, 'models/stories260K.gguf');
export const goldenFile = resolve(sharedDir, 'golden/stories260K-greedy.json');
export const nativeCli = resolve(repoRoot, 'build/native/localm');
export const distEntry = resolve(repoRoot, 'web/dist/localm.js');

// node:test `skip` values: false, or the reason printed in the report.
export const needShared = existsSync(storiesModel) ? false
  : `../shared is absent (looked for ${storiesModel}); this test needs stories260K`;
export const needDist = existsSync(distEntry) ? false
  : `web/dist is not built (run ./build.sh wasm)`;

export async function loadApi() {
  return import(distEntry);
}

// Serves routes: { '/path': (req, res) => void }; anything else is a 404.
export async function serve(routes) {
  const server = createServer((req, res) => {
    const route = routes[new URL(req.url, 'http://x').pathname];
    if (route) return route(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: (path) => `http://127.0.0.1:${server.address().port}${path}`,
    close: () => new Promise((done) => { server.closeAllConnections(); server.close(done); }),
  };
}

// The rejection's error, or a failure when the promise resolves.
export async function errorOf(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}
