// Parity with llama.cpp (node-llama-cpp's prebuilt CPU binaries) for the
// model families beyond llama and qwen2: for a synthetic model of each family
// in F16, Q8_0 and Q4_K, llama.cpp's 32 greedy tokens after a fixed prompt
// and its top-10 raw logits at each step must match
// `localm run --temp 0 --dump-logits`.
//
// Models are generated into BUILD/parity/ with localm-synth (see
// models/synth/families.c). BUILD is $LOCALM_BUILD_DIR or build/native.
// Skips (with the reason) when node-llama-cpp or the binaries are missing.
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { loadLlama, traceGreedy } from '../parity/llamacpp-trace.mjs';
import { compareTraces, parityPaths, runLocalm } from '../parity/compare.mjs';

const { localm, synth, modelDir, shared } = parityPaths;

const PROMPT = 'Once upon a time';
const N_PREDICT = 32;
const SEED = 7;

// The tolerances of parity.test.mjs (the same sources of difference: F16 KV
// cache and activations, Q8_0 / Q8_K activations). Measured maxima over
// these families: F16 0.010, Q8_0 0.10, Q4_K 0.13. What the F16 cases
// catch: ignoring the sliding window moves the top logits by 0.03 (gemma2)
// to 0.12 (gemma3), skipping gemma3's QK-norm or its local RoPE base by
// 0.06-0.1, gemma2's attention soft-cap by 0.04 and its final one by 1.7,
// ALiBi or learned positions by 0.17 or more, mpt's q/k/v clamp by 1.2,
// phi3's LongRoPE factors or cos/sin scale by 0.07 and 0.3.
const TOLERANCE = { F16: 0.02, Q8_0: 0.4, Q4_K: 0.4 };

// Shape tiny6 has six layers, so gemma2/3 get global layers among the
// sliding ones. Each family's tokenizer comes from a matching vocabulary
// where ../shared has one; gemma's is not there (llama-spm is the nearest,
// SentencePiece too), nor bloom's (gpt-2: byte-level BPE too).
const FAMILIES = [
    { arch: 'gemma3', shape: 'tiny6', vocab: 'llama-spm' },
    { arch: 'gemma2', shape: 'tiny6', vocab: 'llama-spm' },
    { arch: 'gemma', shape: 'tiny', vocab: 'llama-spm' },
    { arch: 'phi3', shape: 'tiny', vocab: 'phi-3' },
    // LongRoPE factors, with an original context that makes both pick the
    // long ones (the short ones instead move the top logits by 0.07).
    { arch: 'phi3', shape: 'tiny', vocab: 'phi-3', extra: ['--rope-freqs'], types: ['F16'] },
    { arch: 'gpt2', shape: 'tiny', vocab: 'gpt-2' },
    { arch: 'mpt', shape: 'tiny', vocab: 'mpt' },
    { arch: 'bloom', shape: 'tiny', vocab: 'gpt-2' },
];

function whyMissing() {
    if (!fs.existsSync(localm)) return `${localm} is not built (set LOCALM_BUILD_DIR or build build/native)`;
    if (!fs.existsSync(synth)) return `${synth} is not built`;
    if (!fs.existsSync(path.join(shared, 'vocab'))) return `${shared}/vocab is missing (set LM_SHARED_DIR)`;
    return null;
}

function generateModel({ arch, shape, vocab, extra = [] }, type) {
    fs.mkdirSync(modelDir, { recursive: true });
    const out = path.join(modelDir, `synth-${arch}-${shape}${extra.join('')}-${type}.gguf`);
    execFileSync(synth, ['--arch', arch, '--shape', shape, '--type', type, '--seed', String(SEED),
        '--vocab', path.join(shared, `vocab/ggml-vocab-${vocab}.gguf`), ...extra, '-o', out]);
    return out;
}

const missing = whyMissing();
const llama = missing ? null : await loadLlama();
const skip = missing || (!llama && 'node-llama-cpp (with its prebuilt CPU binary) is not installed');

for (const family of FAMILIES)
    for (const type of family.types || Object.keys(TOLERANCE))
        test(`parity with llama.cpp: ${[family.arch, family.shape, ...(family.extra || []), type].join(' ')}`, { skip }, async (t) => {
            const model = generateModel(family, type);
            try {
                const { steps: ref } = await traceGreedy(llama, model, PROMPT, N_PREDICT);
                const ours = runLocalm(localm, model, PROMPT, N_PREDICT);
                const worst = compareTraces(ours, ref, TOLERANCE[type]);
                t.diagnostic(`max |logit difference| ${worst.toFixed(5)} (tolerance ${TOLERANCE[type]})`);
            } finally {
                fs.rmSync(model, { force: true });
            }
        });

test('parity teardown', { skip: !llama }, async () => {
    await llama.dispose();
});
