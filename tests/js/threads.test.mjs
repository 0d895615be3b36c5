// Threads split every matrix product by rows and attention by (token, head)
// pairs, and run q/k/v and gate/up (with the hidden activation) in one pool
// dispatch each; none of that may change a single logit. For synthetic
// models of the families whose products differ (fused q/k/v, fused gate+up,
// GELU and GEGLU, MPT's q/k/v clamp, Q4_K_M's mix of Q4_K and Q6_K among q/k/v),
// `localm run` with 1, 2 and 3 threads must dump the same top logits at
// every step of a prompt batch and of greedy decoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { parityPaths } from '../parity/compare.mjs';

const { localm, synth, vocab } = parityPaths;
const missing = !fs.existsSync(localm) || !fs.existsSync(synth) ? 'build/native is not built (./build.sh native)'
  : !fs.existsSync(vocab) ? `the gpt-2 vocabulary in ../shared is missing (${vocab})` : false;

const CASES = [['llama', 'Q4_K_M'], ['phi3', 'Q8_0'], ['gpt2', 'Q4_0'], ['gemma3', 'Q4_K_M'], ['mpt', 'Q8_0']];
const PROMPT = 'Once upon a time there was a little dog who liked to run in the park';

test('1, 2 and 3 threads give the same logits', { skip: missing }, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localm-threads-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [arch, type] of CASES) {
    const model = path.join(dir, `${arch}-${type}.gguf`);
    execFileSync(synth, ['--arch', arch, '--shape', 'tiny6', '--type', type, '--vocab', vocab, '-o', model],
      { stdio: 'ignore' });
    const dumps = [1, 2, 3].map((threads) => {
      const dump = path.join(dir, `${arch}-${type}-${threads}.txt`);
      execFileSync(localm, ['run', '-m', model, '-p', PROMPT, '-n', '12', '--temp', '0', '-t', String(threads),
        '--dump-logits', dump], { stdio: 'ignore' });
      return fs.readFileSync(dump, 'utf8');
    });
    assert.ok(dumps[0].length > 0, `${arch} ${type}: no logits dumped`);
    assert.equal(dumps[1], dumps[0], `${arch} ${type}: 2 threads differ from 1`);
    assert.equal(dumps[2], dumps[0], `${arch} ${type}: 3 threads differ from 1`);
  }
});
