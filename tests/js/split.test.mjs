// A split GGUF (-0000k-of-0000N.gguf) loads as one model from every kind of
// source, and gives the same text as the whole file.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';

import { splitGguf } from './gguf-split.mjs';
import { errorOf, loadApi, needDist, needShared, serve, storiesModel } from './helpers.mjs';

const skip = needShared || needDist;
const greedy = { maxTokens: 32, temperature: 0 };

test('split GGUF parts load as one model from paths, URLs, Blobs and buffers', { skip }, async () => {
  const { LocalLM } = await loadApi();
  const dir = mkdtempSync(join(tmpdir(), 'localm-split-'));
  const parts = splitGguf(readFileSync(storiesModel), 3);
  const names = parts.map((_, i) => `stories-0000${i + 1}-of-00003.gguf`);
  names.forEach((name, i) => writeFileSync(join(dir, name), parts[i]));
  const routes = Object.fromEntries(names.map((name, i) => [`/${name}`, (req, res) => {
    res.writeHead(200, { 'content-length': parts[i].length }).end(parts[i]);
  }]));
  const server = await serve(routes);
  const expectText = async (source, what) => {
    const lm = await LocalLM.load(source);
    try {
      assert.equal((await lm.complete('Once upon a time', greedy)).text, expected, what);
    } finally {
      await lm.unload();
    }
  };
  let expected;
  try {
    const whole = await LocalLM.load(storiesModel);
    expected = (await whole.complete('Once upon a time', greedy)).text;
    await whole.unload();
    await expectText(join(dir, names[0]), 'the first part\'s path names them all');
    await expectText(names.map((name) => join(dir, name)), 'a list of paths');
    await expectText(server.url(`/${names[0]}`), 'the first part\'s URL names them all');
    await expectText(names.map((name) => server.url(`/${name}`)), 'a list of URLs');
    await expectText(parts.map((p) => new Blob([p])), 'Blobs');
    await expectText(parts.map((p) => new Uint8Array(p)), 'buffers');
    const missing = await errorOf(LocalLM.load(names.slice(0, 2).map((name) => join(dir, name))));
    assert.equal(missing.code, 'E_FORMAT', 'a part missing');
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
