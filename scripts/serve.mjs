// Static server for the demo: serves web/ at / with the cross-origin isolation
// headers that wasm threads need (SharedArrayBuffer), byte ranges (resumable
// model downloads), and the models of ../shared/models at /models/local/.
//
//   node scripts/serve.mjs          PORT (8080), HOST (127.0.0.1), LOG_FILE,
//                                   LM_SHARED_DIR (../shared) from the env
//
// Tests import createHandler/createServer to run their own instance.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.webmanifest': 'application/manifest+json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.gguf': 'application/octet-stream',
  '.bin': 'application/octet-stream',
};

const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
};

export function defaultSharedModels() {
  const shared = process.env.LM_SHARED_DIR || path.join(REPO, '..', 'shared');
  const dir = path.join(shared, 'models');
  return fs.existsSync(dir) ? dir : null;
}

// Maps a URL path to a file below one of the mounts ({ '/prefix/': dir }, the
// longest prefix wins); null when it is outside every mount.
function resolveFile(mounts, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const prefix = Object.keys(mounts)
    .filter((p) => decoded.startsWith(p))
    .sort((a, b) => b.length - a.length)[0];
  if (!prefix) return null;
  const base = path.resolve(mounts[prefix]);
  const file = path.resolve(base, '.' + path.posix.normalize('/' + decoded.slice(prefix.length)));
  return file === base || file.startsWith(base + path.sep) ? file : null;
}

// Parses one "bytes=a-b" range (the only form resumable downloads use).
// Returns { start, end }, 'unsatisfiable', or null to send the whole file.
function parseRange(header, size) {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  let start, end;
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  return start > end || start >= size ? 'unsatisfiable' : { start, end };
}

function etagOf(stat) {
  return `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
}

// If-Range holds the ETag or the Last-Modified date the client saw.
function rangeStillValid(req, etag, lastModified) {
  const ifRange = req.headers['if-range'];
  return !ifRange || ifRange === etag || ifRange === lastModified;
}

function send(res, status, headers, body) {
  res.writeHead(status, { ...ISOLATION_HEADERS, ...headers });
  res.end(body);
}

function sendFile(req, res, file, stat) {
  const etag = etagOf(stat);
  const lastModified = stat.mtime.toUTCString();
  const headers = {
    'Content-Type': MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    ETag: etag,
    'Last-Modified': lastModified,
    'Cache-Control': 'no-cache',
  };
  if (req.headers['if-none-match'] === etag) return send(res, 304, headers);
  let range = null;
  if (req.headers.range && rangeStillValid(req, etag, lastModified)) range = parseRange(req.headers.range, stat.size);
  if (range === 'unsatisfiable') {
    return send(res, 416, { ...headers, 'Content-Range': `bytes */${stat.size}` });
  }
  const { start, end } = range ?? { start: 0, end: stat.size - 1 };
  headers['Content-Length'] = String(Math.max(0, end - start + 1));
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${stat.size}`;
  res.writeHead(range ? 206 : 200, { ...ISOLATION_HEADERS, ...headers });
  if (req.method === 'HEAD' || stat.size === 0) return res.end();
  const stream = fs.createReadStream(file, { start, end });
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
}

// The catalog the page reads: models/catalog.json, then one entry per GGUF
// file found in the shared models directory (served at /models/local/).
function buildCatalog(catalogPath, localDir) {
  const catalog = JSON.parse(fs.readFileSync(catalogPath, 'utf8'));
  const models = Array.isArray(catalog.models) ? [...catalog.models] : [];
  if (localDir) {
    for (const name of fs.readdirSync(localDir).sort()) {
      if (!name.endsWith('.gguf')) continue;
      models.push({
        id: `local/${name}`,
        name: `${name.replace(/\.gguf$/, '')} (local)`,
        url: `/models/local/${encodeURIComponent(name)}`,
        size: fs.statSync(path.join(localDir, name)).size,
        local: true,
      });
    }
  }
  return { ...catalog, models };
}

export function createHandler({
  root = path.join(REPO, 'web'),
  catalogPath = path.join(REPO, 'models', 'catalog.json'),
  localModels = defaultSharedModels(),
  mounts = {},
  log = () => {},
} = {}) {
  const allMounts = { '/': root, ...(localModels ? { '/models/local/': localModels } : {}), ...mounts };
  return (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    res.on('close', () => {
      const range = req.headers.range ? ` range=${req.headers.range}` : '';
      const cut = res.writableFinished ? '' : ' (closed early)';
      log(`${new Date().toISOString()} ${req.method} ${url.pathname}${url.search} ${res.statusCode}${range}${cut}`);
    });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }, 'method not allowed\n');
    }
    if (url.pathname === '/catalog.json') {
      try {
        const body = JSON.stringify(buildCatalog(catalogPath, localModels), null, 1);
        return send(res, 200, { 'Content-Type': MIME['.json'], 'Cache-Control': 'no-cache' }, body);
      } catch (error) {
        return send(res, 500, { 'Content-Type': 'text/plain' }, `catalog unreadable: ${error.message}\n`);
      }
    }
    let file = resolveFile(allMounts, url.pathname);
    let stat = file && statOrNull(file);
    if (stat?.isDirectory()) {
      file = path.join(file, 'index.html');
      stat = statOrNull(file);
    }
    if (!stat?.isFile()) return send(res, 404, { 'Content-Type': 'text/plain' }, `not found: ${url.pathname}\n`);
    sendFile(req, res, file, stat);
  };
}

function statOrNull(file) {
  try {
    return fs.statSync(file);
  } catch {
    return null;
  }
}

// Resolves with the listening server (port 0 picks a free port).
export function createServer({ port = 8080, host = '127.0.0.1', ...options } = {}) {
  const server = http.createServer(createHandler(options));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

function logger(file) {
  const out = file ? fs.createWriteStream(file, { flags: 'a' }) : null;
  return (line) => {
    console.log(line);
    out?.write(line + '\n');
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const port = Number(process.env.PORT || 8080);
  const host = process.env.HOST || '127.0.0.1';
  const server = await createServer({ port, host, log: logger(process.env.LOG_FILE) });
  const local = defaultSharedModels();
  console.log(`localm demo at http://${host === '0.0.0.0' ? 'localhost' : host}:${server.address().port}/` +
    (local ? ` (local models from ${local})` : ''));
}
