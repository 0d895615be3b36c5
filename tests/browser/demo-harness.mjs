// Shared by the demo and cache browser tests: Debian's headless Chromium
// through playwright-core, and a test instance of
// scripts/serve.mjs that logs every request and can cut a response short.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createHandler } from '../../scripts/serve.mjs';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED = process.env.LM_SHARED_DIR || path.join(REPO, '..', 'shared');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export function chromiumMissing() {
  return fs.existsSync(CHROMIUM) ? null : `${CHROMIUM} not found (apt-get install chromium)`;
}

// One browser per test file; each test takes a fresh context (its own
// storage, service workers and network state).
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

// Serves web/ like `npm start` does, plus extra mounts. The first request of
// a URL with ?cut=N gets its body cut after N bytes (the connection is
// dropped a moment later, once the browser has read them), as a flaky
// network would; with ?stall=N the body stops there and the connection hangs.
export async function startServer({ mounts = {}, localModels = null } = {}) {
  const log = [];
  const handler = createHandler({ mounts, localModels, log: (line) => log.push(line) });
  const cutDone = new Set();
  const server = http.createServer((req, res) => {
    const query = new URL(req.url, 'http://x').searchParams;
    const limit = Number(query.get('cut') || query.get('stall'));
    if (limit > 0 && !cutDone.has(req.url)) {
      cutDone.add(req.url);
      cutAfter(req, res, limit, log, query.has('stall'));
    }
    handler(req, res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  });
  return { server, base, log, close };
}

function cutAfter(req, res, limit, log, stall) {
  const write = res.write.bind(res);
  let sent = 0;
  let cutting = false;
  res.write = (chunk, ...rest) => {
    if (cutting) return false;
    if (sent + chunk.length < limit) {
      sent += chunk.length;
      return write(chunk, ...rest);
    }
    cutting = true;
    log.push(`${new Date().toISOString()} ${req.method} ${req.url} ${stall ? 'STALL' : 'CUT'} after ${limit} bytes`);
    write(chunk.subarray(0, limit - sent), () => stall || setTimeout(() => res.destroy(), 300));
    return false;
  };
}

// `localm serve` (the native build) on a port the kernel picks, logging every
// request with its body to a temporary file: the cloud of the edge-router
// tests. Resolves once it listens; requests() reads the log so far.
export const LOCALM_CLI = path.join(REPO, 'build', 'native', 'localm');

export function startLocalmServe(model, { cors } = {}) {
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'localm-serve-')), 'requests.jsonl');
  const args = ['serve', '-m', model, '--port', '0', '--log', log, ...(cors ? ['--cors', cors] : [])];
  const child = spawn(LOCALM_CLI, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => {
      stderr += text;
      const port = stderr.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/)?.[1];
      if (port) {
        resolve({
          url: `http://127.0.0.1:${port}`,
          requests: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []),
          stop: () => child.kill('SIGKILL'),
        });
      }
    });
    child.on('exit', (code) => reject(new Error(`localm serve exited with ${code}: ${stderr}`)));
  });
}
