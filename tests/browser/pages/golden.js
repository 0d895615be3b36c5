// Runs the golden prompts in the page (the model runs in the Web Worker) and
// publishes { info, threads, cases: [{ prompt, text, expected, pieces }],
// progress } as window.goldenResult, or { error: { code, message } }.
// ?threads=N loads the model with N threads (?threads=auto: one per core).
import { LocalLM } from '/dist/localm.js';

async function run() {
  const golden = await (await fetch('/golden/stories260K-greedy.json')).json();
  const progress = [];
  const asked = new URLSearchParams(location.search).get('threads') || '1';
  const threads = asked === 'auto' ? asked : Number(asked);
  const lm = await LocalLM.load('/models/stories260K.gguf', {
    threads,
    onProgress: ({ phase, loaded, total }) => progress.push({ phase, loaded, total }),
  });
  const cases = [];
  for (const { prompt, n_predict: maxTokens, expected_continuation: expected } of golden.cases) {
    let text = '';
    let pieces = 0;
    for await (const piece of lm.generate(prompt, { maxTokens, temperature: 0 })) {
      text += piece.text;
      pieces++;
    }
    cases.push({ prompt, text, expected, pieces, stats: lm.stats() });
  }
  const info = lm.info();
  const { threads: used } = lm;
  await lm.unload();
  return { info: { architecture: info.architecture }, threads: used, cores: navigator.hardwareConcurrency,
    cases, progress };
}

window.goldenResult = run().catch((error) => ({ error: { code: error.code, message: error.message } }));
