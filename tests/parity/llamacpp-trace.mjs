#!/usr/bin/env node
// llama.cpp's side of the parity test: greedy decoding through node-llama-cpp's
// prebuilt CPU binaries, printing one JSON line per generated token in the
// format of `localm run --dump-logits`:
//   {"step": i, "token": id, "top": [[id, logit], ...10 entries]}
// with the raw logits (before sampling) that chose the token.
//
//   node tests/parity/llamacpp-trace.mjs MODEL.gguf PROMPT [N_PREDICT=32]
//
// The prompt is tokenized by llama.cpp, with BOS when the model asks for it
// (as `localm run` does). Exit 77 when node-llama-cpp cannot be loaded.

export const TOP_N = 10;

/* Loads node-llama-cpp without ever building or downloading anything;
 * null when it is not installed or its prebuilt binary does not load. */
export async function loadLlama() {
    let lib;
    try {
        lib = await import('node-llama-cpp');
    } catch {
        return null;
    }
    try {
        return await lib.getLlama({
            gpu: false,
            build: 'never',
            skipDownload: true,
            usePrebuiltBinaries: true,
            progressLogs: false,
            logLevel: lib.LlamaLogLevel.error,
        });
    } catch {
        return null;
    }
}

/* The n highest [token, logit] pairs of a logits Map sorted high to low. */
function topPairs(logits, n) {
    const top = [];
    for (const [token, logit] of logits) {
        if (top.length === n) break;
        top.push([token, logit]);
    }
    return top;
}

/* Greedy decoding of nPredict tokens after prompt; returns the trace steps.
 * Single-threaded, one sequence, so the run is reproducible. */
export async function traceGreedy(llama, modelPath, prompt, nPredict) {
    const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
    const context = await model.createContext({ contextSize: 512, threads: 1, sequences: 1 });
    try {
        const sequence = context.getSequence();
        const tokens = model.tokenize(prompt, false);
        if (model.tokens.shouldPrependBosToken && model.tokens.bos != null) tokens.unshift(model.tokens.bos);
        const wantLogits = { generateNext: { logits: true } };
        let input = [...tokens.slice(0, -1), [tokens[tokens.length - 1], wantLogits]];
        const steps = [];
        for (let step = 0; step < nPredict; step++) {
            const out = await sequence.controlledEvaluate(input);
            const logits = out[out.length - 1].next.logits;
            const top = topPairs(logits, TOP_N);
            const token = top[0][0];
            steps.push({ step, token, top });
            input = [[token, wantLogits]];
        }
        return { promptTokens: tokens, steps };
    } finally {
        await context.dispose();
        await model.dispose();
    }
}

async function main() {
    const [modelPath, prompt, n = '32'] = process.argv.slice(2);
    if (!modelPath || prompt === undefined) {
        console.error('usage: llamacpp-trace.mjs MODEL.gguf PROMPT [N_PREDICT]');
        process.exit(2);
    }
    const llama = await loadLlama();
    if (!llama) {
        console.error('SKIP: node-llama-cpp (with a prebuilt CPU binary) is not available');
        process.exit(77);
    }
    const { steps } = await traceGreedy(llama, modelPath, prompt, Number(n));
    for (const s of steps) process.stdout.write(JSON.stringify(s) + '\n');
    await llama.dispose();
}

if (import.meta.url === `file://${process.argv[1]}`) {
    main().catch((e) => {
        console.error(`error: ${e.message}`);
        process.exit(1);
    });
}
