#!/usr/bin/env node
// Runs `localm run --temp 0 --dump-logits` and llama.cpp's greedy trace on
// one model and compares them: the same tokens, and the top-10 logits within
// a tolerance. Shared by tests/js/parity*.test.mjs; also a tool:
//
//   node tests/parity/compare.mjs LOCALM_BIN MODEL.gguf PROMPT [N=32] [TOL=0.25]
//
// prints the largest logit difference, or the first mismatch (exit 1).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadLlama, traceGreedy } from './llamacpp-trace.mjs';

/* localm's greedy trace (the dump goes to a temporary directory: the model
 * may sit in a read-only one). */
// Where the parity tests find the builds and ../shared (both overridable, so
// a build directory of one's own can be checked).
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = path.resolve(root, process.env.LOCALM_BUILD_DIR || 'build/native');
const shared = path.resolve(root, process.env.LM_SHARED_DIR || '../shared');
export const parityPaths = {
    root,
    buildDir,
    localm: path.join(buildDir, 'localm'),
    synth: path.join(buildDir, 'localm-synth'),
    modelDir: path.join(buildDir, 'parity'),
    shared,
    stories: path.join(shared, 'models/stories260K.gguf'),
    vocab: path.join(shared, 'vocab/ggml-vocab-gpt-2.gguf'),
};

export function runLocalm(localm, model, prompt, nPredict) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localm-parity-'));
    try {
        const dump = path.join(dir, 'logits.jsonl');
        execFileSync(localm, ['run', '-m', model, '-p', prompt, '-n', String(nPredict), '--temp', '0',
            '--dump-logits', dump], { stdio: ['ignore', 'ignore', 'pipe'] });
        return fs.readFileSync(dump, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/* Compares one step's top lists. Entries are matched by token id; a token in
 * only one list must sit at its edge (within tol of the other list's lowest
 * logit), since near-ties there may order differently. Returns the largest
 * difference seen, or throws an Error naming the first mismatch. */
export function compareTop(ours, ref, tol, where) {
    const ourMap = new Map(ours), refMap = new Map(ref);
    const ourMin = ours[ours.length - 1][1], refMin = ref[ref.length - 1][1];
    let worst = 0;
    for (const [id, logit] of ref) {
        if (ourMap.has(id)) {
            const d = Math.abs(ourMap.get(id) - logit);
            worst = Math.max(worst, d);
            if (d > tol) throw new Error(`${where}: token ${id} logit ${ourMap.get(id)} vs llama.cpp ${logit} (tolerance ${tol})`);
        } else if (logit > ourMin + tol) {
            throw new Error(`${where}: llama.cpp's top token ${id} (${logit}) is missing from ours (lowest ${ourMin})`);
        }
    }
    for (const [id, logit] of ours)
        if (!refMap.has(id) && logit > refMin + tol)
            throw new Error(`${where}: our top token ${id} (${logit}) is missing from llama.cpp's (lowest ${refMin})`);
    return worst;
}

/* Compares whole traces; returns the largest logit difference. */
export function compareTraces(ours, ref, tol) {
    if (ours.length !== ref.length) throw new Error(`localm made ${ours.length} steps, llama.cpp ${ref.length}`);
    const ourTokens = ours.map((s) => s.token), refTokens = ref.map((s) => s.token);
    const first = ourTokens.findIndex((t, i) => t !== refTokens[i]);
    if (first >= 0)
        throw new Error(`greedy tokens differ from step ${first}: ours ${ourTokens.slice(first, first + 4)}..., llama.cpp ${refTokens.slice(first, first + 4)}...`);
    let worst = 0;
    for (let i = 0; i < ref.length; i++) {
        if (ours[i].top.length !== ref[i].top.length)
            throw new Error(`step ${i}: localm dumped ${ours[i].top.length} top entries, llama.cpp ${ref[i].top.length}`);
        worst = Math.max(worst, compareTop(ours[i].top, ref[i].top, tol, `step ${i}`));
    }
    return worst;
}

async function main() {
    const [localm, model, prompt, n = '32', tol = '0.25'] = process.argv.slice(2);
    if (!localm || !model || prompt === undefined) {
        console.error('usage: compare.mjs LOCALM_BIN MODEL.gguf PROMPT [N=32] [TOL=0.25]');
        process.exit(2);
    }
    const llama = await loadLlama();
    if (!llama) {
        console.error('SKIP: node-llama-cpp (with a prebuilt CPU binary) is not available');
        process.exit(77);
    }
    const { steps: ref } = await traceGreedy(llama, model, prompt, Number(n));
    await llama.dispose();
    const ours = runLocalm(localm, model, prompt, Number(n));
    console.log(`${model}: ${n} tokens match, max |logit difference| ${compareTraces(ours, ref, Number(tol)).toFixed(5)}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
    main().catch((e) => {
        console.error(`error: ${e.message}`);
        process.exit(1);
    });
}
