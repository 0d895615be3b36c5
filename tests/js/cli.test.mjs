// node web/cli.mjs mirrors the native CLI: same output for run and tokenize,
// a JSON line from bench, "error: ..." and a non-zero exit on failure.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { promisify } from 'node:util';

import { nativeCli, needDist, needShared, repoRoot, storiesModel } from './helpers.mjs';

const exec = promisify(execFile);
const cli = join(repoRoot, 'web/cli.mjs');
const skip = needShared || needDist;
const skipNative = skip || (!existsSync(nativeCli) && `${nativeCli} is not built (./build.sh native)`);

const wasm = (...args) => exec(process.execPath, [cli, ...args]);

async function failure(...args) {
  try {
    await wasm(...args);
  } catch (error) {
    return error;
  }
  throw new Error(`node web/cli.mjs ${args.join(' ')} succeeded`);
}

test('run prints the same text as the native CLI, greedy and seeded', { skip: skipNative }, async () => {
  const greedy = ['run', '-m', storiesModel, '-p', 'Once upon a time', '-n', '40', '--temp', '0'];
  const seeded = ['run', '-m', storiesModel, '-p', 'Lily', '-n', '40', '--temp', '0.8', '--top-k', '40',
    '--top-p', '0.9', '--seed', '7'];
  for (const args of [greedy, seeded]) {
    const [ours, native] = await Promise.all([wasm(...args), exec(nativeCli, args)]);
    assert.equal(ours.stdout, native.stdout, args.join(' '));
    assert.match(ours.stderr, /prompt: \d+ tokens .* generated: 40 tokens/);
  }
});

test('run takes sampling flags and --config; sampling with a seed replays', { skip }, async () => {
  const args = ['run', '-m', storiesModel, '-p', 'Lily', '-n', '20', '--temp', '0.8', '--top-k', '40',
    '--top-p', '0.9', '--min-p', '0.05', '--repeat-penalty', '1.1', '--seed', '42'];
  const [a, b] = await Promise.all([wasm(...args), wasm(...args)]);
  assert.equal(a.stdout, b.stdout);
  const config = await wasm('run', '-m', storiesModel, '-p', 'Lily', '--config', '{"max_tokens": 3}');
  assert.match(config.stderr, /generated: 3 tokens/);
  const chat = await wasm('run', '-m', storiesModel, '-p', 'Hi', '--chat', '-n', '4');
  assert.match(chat.stderr, /generated: \d+ tokens/);
});

test('tokenize prints the native CLI\'s JSON array', { skip: skipNative }, async () => {
  for (const extra of [[], ['--no-bos']]) {
    const args = ['tokenize', '-m', storiesModel, ...extra, 'Hello world, once upon a time'];
    const [ours, native] = await Promise.all([wasm(...args), exec(nativeCli, args)]);
    assert.equal(ours.stdout, native.stdout);
    assert.ok(Array.isArray(JSON.parse(ours.stdout)));
  }
});

test('bench prints one JSON line with prefill and decode speed', { skip }, async () => {
  const { stdout } = await wasm('bench', '-m', storiesModel, '-p', '32', '-n', '16', '-r', '1');
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const result = JSON.parse(lines[0]);
  assert.ok(result.prefill_tok_s > 0 && result.decode_tok_s > 0);
  assert.ok(result.prefill_tokens >= 32);
  assert.equal(result.decode_tokens, 16);
});

test('errors print "error: ..." and exit non-zero', { skip }, async () => {
  const cases = [
    [['run', '-m', storiesModel], /error: no prompt given/],
    [['run', '-p', 'x'], /error: no model given/],
    [['run', '-m', storiesModel, '-p', 'x', '--temp', 'hot'], /error: --temp expects a number/],
    [['run', '-m', storiesModel, '-p', 'x', '--config', '{"top_p": 7}'], /error: .*top_p.*E_OPTION/],
    [['run', '-m', storiesModel, '-p', 'x', '--bogus', '1'], /error: unknown option '--bogus'/],
    [['run', '-m', join(repoRoot, 'package.json'), '-p', 'x'], /error: .*E_FORMAT/],
    [['tokenize', '-m', storiesModel], /error: no text given/],
    [['frobnicate'], /error: usage/],
  ];
  for (const [args, pattern] of cases) {
    const error = await failure(...args);
    assert.equal(error.code, 1, args.join(' '));
    assert.match(error.stderr, pattern);
  }
});
