// EdgeRouter (issue 7): stories260K on the wasm build answers locally; a real
// `localm serve` process on loopback is the cloud, and its request log shows
// exactly what left the device. A small Node server stands in for clouds that
// misbehave (stalls, HTTP errors, broken streams) or echo the prompt back.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { startLocalmServe } from '../browser/demo-harness.mjs';
import { errorOf, loadApi, nativeCli, needDist, needShared, serve, storiesModel } from './helpers.mjs';

const skip = needShared || needDist ||
  (!existsSync(nativeCli) && `${nativeCli} is not built (run ./build.sh native)`);

const PII = {
  email: 'jane.doe@example.com',
  phone: '+44 20 7946 0958',
  card: '4111 1111 1111 1111',
  iban: 'DE89 3704 0044 0532 0130 00',
};
const hello = [{ role: 'user', content: 'Once upon a time' }];
// stories260K answers hello greedily with a confidence near 0.4 (the geometric
// mean of its token probabilities): 0.2 keeps it local, 0.9 escalates.
const SURE = { minConfidence: 0.2 };
const UNSURE = { minConfidence: 0.9 };

let api, lm, cloud, echo;

// The fake clouds. /echo streams the last user message back three characters
// at a time (so placeholders arrive split), recording what it received.
function sse(res, events) {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const e of events) res.write(`data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`);
}

const delta = (content) => ({ choices: [{ index: 0, delta: { content }, finish_reason: null }] });

async function startFakeClouds() {
  const received = [];
  const authorizations = [];
  const body = (req) => new Promise((resolve) => {
    authorizations.push(req.headers.authorization);
    let text = '';
    req.on('data', (d) => { text += d; }).on('end', () => { received.push(text); resolve(JSON.parse(text)); });
  });
  const routes = {
    '/echo/v1/chat/completions': async (req, res) => {
      const { messages } = await body(req);
      const text = messages.findLast((m) => m.role === 'user').content;
      const chunks = text.match(/[^]{1,3}/g).map(delta);
      sse(res, [...chunks, { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }, '[DONE]']);
      res.end();
    },
    '/json/v1/chat/completions': async (req, res) => {
      await body(req);
      res.writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'in one piece' } }] }));
    },
    '/stall/v1/chat/completions': async (req, res) => {
      await body(req);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
    },
    '/deny/v1/chat/completions': async (req, res) => {
      await body(req);
      res.writeHead(401, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: 'invalid API key', type: 'invalid_request_error' } }));
    },
    '/garbage/v1/chat/completions': async (req, res) => {
      await body(req);
      sse(res, ['{not json']);
      res.end();
    },
    '/unfinished/v1/chat/completions': async (req, res) => {
      await body(req);
      sse(res, []);
      res.end();
    },
    '/huge/v1/chat/completions': async (req, res) => {
      await body(req);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${'x'.repeat(1.2 * 2 ** 20)}`);
    },
    '/tall/v1/chat/completions': async (req, res) => {
      await body(req);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${'x'.repeat(1000)}\n`.repeat(1200));
    },
    '/cut/v1/chat/completions': async (req, res) => {
      await body(req);
      sse(res, [delta('half an ans')]);
      setTimeout(() => res.destroy(), 50);
    },
  };
  const server = await serve(routes);
  return { ...server, received, authorizations };
}

// A port nothing listens on.
async function deadUrl() {
  const probe = createServer();
  await new Promise((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address();
  await new Promise((done) => probe.close(done));
  return `http://127.0.0.1:${port}`;
}

function router(options = {}) {
  return new api.EdgeRouter({ local: lm, cloud: { url: cloud.url, model: 'stories260K.gguf' }, ...options });
}

// Everything one chat() call yields, and its summary.
async function run(stream) {
  const pieces = [];
  for await (const piece of stream) pieces.push(piece);
  return { pieces, text: pieces.map((p) => p.text).join(''), result: await stream.result };
}

// What reached localm serve during fn().
async function newRequests(fn) {
  const before = cloud.requests().length;
  const value = await fn();
  return { value, requests: cloud.requests().slice(before) };
}

describe('EdgeRouter', { skip, timeout: 120_000 }, () => {
  before(async () => {
    api = await loadApi();
    lm = await api.LocalLM.load(storiesModel);
    cloud = await startLocalmServe(storiesModel);
    echo = await startFakeClouds();
  });

  after(async () => {
    await lm?.unload();
    cloud?.stop();
    await echo?.close();
  });

  test('formatChat gives the prompt chat() reads; its tokens are what the budget counts', async () => {
    const prompt = await lm.formatChat(hello);
    assert.match(prompt, /Once upon a time/);
    for await (const piece of lm.chat(hello, { maxTokens: 1, temperature: 0 })) assert.ok(piece);
    assert.equal((await lm.tokenize(prompt, { special: true })).length, lm.stats().promptTokens);
  });

  test('a confident prompt stays local, greedy, and nothing reaches the server', async () => {
    const { value, requests } = await newRequests(() => run(router({ policy: SURE }).chat(hello, { maxTokens: 24 })));
    assert.deepEqual(requests, []);
    const { pieces, text, result } = value;
    assert.ok(pieces.length > 0 && pieces.every((p) => p.route === 'local' && Number.isFinite(p.logprob)));
    assert.equal(result.route, 'local');
    assert.equal(result.reason, 'confident');
    assert.equal(result.fallback, false);
    assert.equal(result.text, text);
    assert.ok(result.confidence > 0.2 && result.confidence < 1, `confidence ${result.confidence}`);
    assert.equal(result.confidence, Math.exp(lm.stats().confidence.meanLogprob));
    let direct = '';
    for await (const piece of lm.chat(hello, { maxTokens: 24, temperature: 0 })) direct += piece.text;
    assert.equal(text, direct);
  });

  test('a low-confidence answer escalates; the cloud streams the answer', async () => {
    const { value, requests } = await newRequests(() => run(router({ policy: UNSURE }).chat(hello, { maxTokens: 12 })));
    assert.equal(requests.length, 1);
    assert.equal(requests[0].status, 200);
    const sent = JSON.parse(requests[0].body);
    assert.deepEqual(sent, { model: 'stories260K.gguf', messages: hello, stream: true, max_tokens: 12 });
    const { pieces, text, result } = value;
    assert.ok(pieces.length > 1 && pieces.every((p) => p.route === 'cloud'));
    assert.ok(text.length > 0);
    assert.deepEqual({ route: result.route, reason: result.reason, fallback: result.fallback, text: result.text },
      { route: 'cloud', reason: 'low_confidence', fallback: false, text });
    assert.ok(result.confidence > 0 && result.confidence < 0.9);
  });

  test('the lowConfidenceShare limit escalates too', async () => {
    const { result } = await run(router({ policy: { ...SURE, maxLowConfidenceShare: 0 } }).chat(hello, { maxTokens: 12 }));
    assert.equal(result.route, 'cloud');
    assert.equal(result.reason, 'low_confidence');
  });

  test('an over-budget prompt goes to the cloud without running locally', async () => {
    let localRuns = 0;
    const spy = {
      contextSize: lm.contextSize,
      chat: (m, o) => { localRuns++; return lm.chat(m, o); },
      stats: () => lm.stats(),
      tokenize: (t, o) => lm.tokenize(t, o),
      formatChat: (m) => lm.formatChat(m),
    };
    const r = new api.EdgeRouter({ local: spy, cloud: { url: cloud.url }, policy: { ...SURE, maxLocalPromptTokens: 10 } });
    const { value, requests } = await newRequests(() => run(r.chat(hello, { maxTokens: 8 })));
    assert.equal(localRuns, 0);
    assert.equal(requests.length, 1);
    assert.equal(value.result.route, 'cloud');
    assert.equal(value.result.reason, 'prompt_over_budget');
    assert.equal(value.result.confidence, null);
    assert.ok(value.result.promptTokens > 10);
    // The default budget is half the local context.
    assert.equal(router().policy.maxLocalPromptTokens, lm.contextSize / 2);
  });

  test('personal data never reaches the server: the request log holds placeholders only', async () => {
    // Short enough for stories260K's 128-token context with the placeholders.
    const messages = [{ role: 'user', content: `${PII.email}, call ${PII.phone}, card ${PII.card}, ${PII.iban}` }];
    const { value, requests } = await newRequests(() => run(router({ policy: UNSURE }).chat(messages, { maxTokens: 4 })));
    assert.equal(requests.length, 1);
    assert.equal(requests[0].status, 200);
    const body = requests[0].body;
    for (const [kind, value] of Object.entries(PII)) {
      assert.ok(!body.includes(value) && !body.includes(value.replace(/ /g, '')), `the ${kind} reached the server`);
    }
    assert.equal(JSON.parse(body).messages[0].content, '[EMAIL_1], call [PHONE_1], card [CARD_1], [IBAN_1]');
    assert.equal(value.result.redactions, 4);
    assert.equal(value.result.route, 'cloud');
  });

  test('modelNames: names the local model finds in the text are redacted too, and restored', async () => {
    // A scripted local model: unsure answers, and a JSON list of names when asked under a schema.
    const calls = [];
    const local = {
      async* chat(messages, options) {
        calls.push(options.responseFormat?.type ?? 'text');
        yield { text: options.responseFormat ? '{"names":["Okonkwo","Nobody Here"]}' : 'hmm' };
      },
      stats: () => ({ genTokens: 1, confidence: { meanLogprob: -3, lowConfidenceShare: 1 } }),
      tokenize: async (text) => [...text].map((_, i) => i),
      formatChat: async (messages) => messages.map((m) => m.content).join('\n'),
    };
    const question = `Tell my landlord Okonkwo (${PII.email}) that Okonkwo will pay.`;
    const options = { local, cloud: { url: echo.url('/echo') }, policy: UNSURE };
    const { text, result } = await run(new api.EdgeRouter({ ...options, modelNames: true }).chat([{ role: 'user', content: question }]));
    assert.equal(JSON.parse(echo.received.at(-1)).messages[0].content, 'Tell my landlord [NAME_1] ([EMAIL_1]) that [NAME_1] will pay.');
    assert.equal(text, question);
    assert.equal(result.redactions, 2);
    assert.deepEqual(calls, ['text', 'json_schema']);
    // Without it the rules alone apply: the unusual name goes out as it is.
    await run(new api.EdgeRouter(options).chat([{ role: 'user', content: question }]));
    assert.equal(JSON.parse(echo.received.at(-1)).messages[0].content, 'Tell my landlord Okonkwo ([EMAIL_1]) that Okonkwo will pay.');
    assert.throws(() => new api.EdgeRouter({ ...options, modelNames: 'yes' }), { code: 'E_OPTION', message: /modelNames/ });
  });

  test('the reply is restored on the device, even with placeholders split across chunks', async () => {
    const r = new api.EdgeRouter({ local: lm, cloud: { url: echo.url('/echo') }, policy: UNSURE });
    const question = `Write to ${PII.email} or ${PII.email}; card ${PII.card}; [ not a placeholder`;
    const messages = [
      { role: 'system', content: `The user is ${PII.email}, phone ${PII.phone}.` },
      { role: 'user', content: question },
    ];
    const { text, result } = await run(r.chat(messages));
    const sent = JSON.parse(echo.received.at(-1)).messages;
    // One value, one placeholder, across the messages.
    assert.equal(sent[0].content, 'The user is [EMAIL_1], phone [PHONE_1].');
    assert.equal(sent[1].content, 'Write to [EMAIL_1] or [EMAIL_1]; card [CARD_1]; [ not a placeholder');
    assert.equal(text, question);
    assert.equal(result.text, question);
    assert.equal(result.redactions, 3);
  });

  test('redact: false sends the messages as they are; headers go along', async () => {
    const r = new api.EdgeRouter({
      local: lm, policy: UNSURE, redact: false,
      cloud: { url: echo.url('/echo/v1'), headers: { Authorization: 'Bearer test-key' } },
    });
    const content = `Mail ${PII.email}`;
    const { result } = await run(r.chat([{ role: 'user', content }]));
    assert.equal(JSON.parse(echo.received.at(-1)).messages[0].content, content);
    assert.equal(echo.authorizations.at(-1), 'Bearer test-key');
    assert.equal(result.redactions, 0);
  });

  test('a dead server falls back to the local answer, flagged', async () => {
    const r = new api.EdgeRouter({ local: lm, cloud: { url: await deadUrl() }, policy: UNSURE });
    const { pieces, text, result } = await run(r.chat(hello, { maxTokens: 16 }));
    const local = await run(router({ policy: SURE }).chat(hello, { maxTokens: 16 }));
    assert.ok(pieces.every((p) => p.route === 'local'));
    assert.equal(text, local.text);
    assert.equal(result.route, 'local');
    assert.equal(result.reason, 'low_confidence');
    assert.equal(result.fallback, true);
    assert.equal(result.cloudError.code, 'E_CLOUD');
    assert.match(result.cloudError.message, /connection to the cloud failed.*ECONNREFUSED/);
  });

  test('a cloud that stalls times out and falls back', async () => {
    const r = new api.EdgeRouter({ local: lm, cloud: { url: echo.url('/stall') }, policy: { ...UNSURE, timeoutMs: 300 } });
    const { result } = await run(r.chat(hello, { maxTokens: 8 }));
    assert.equal(result.fallback, true);
    assert.equal(result.route, 'local');
    assert.match(result.cloudError.message, /nothing for 300 ms/);
  });

  test('HTTP errors, broken and unfinished streams fall back, naming the problem', async () => {
    const cases = {
      '/deny': /HTTP 401: invalid API key/, '/garbage': /not JSON/, '/unfinished': /ended before/, '/huge': /line longer than 1 MB/,
      '/tall': /event longer than 1 MB/,
    };
    for (const [path, message] of Object.entries(cases)) {
      const r = new api.EdgeRouter({ local: lm, cloud: { url: echo.url(path) }, policy: UNSURE });
      const { result } = await run(r.chat(hello, { maxTokens: 8 }));
      assert.equal(result.fallback, true, path);
      assert.match(result.cloudError.message, message);
    }
    assert.equal((await run(router({ policy: UNSURE, cloud: { url: echo.url('/deny') } }).chat(hello))).result.cloudError.status, 401);
  });

  test('a local error escalates; when the cloud fails as well, E_CLOUD names both', async () => {
    const long = [{ role: 'user', content: 'Once upon a time '.repeat(40) }];
    const policy = { maxLocalPromptTokens: 1000 };
    const echoed = await run(router({ policy, cloud: { url: echo.url('/echo') } }).chat(long));
    assert.deepEqual([echoed.result.route, echoed.result.reason], ['cloud', 'local_error']);
    assert.equal(echoed.result.localError.code, 'E_CONTEXT_FULL');
    assert.equal(echoed.text, long[0].content);
    // The real server refuses the same prompt with a 400: its context is as small.
    const error = await errorOf(run(router({ policy }).chat(long, { maxTokens: 4 })));
    assert.equal(error.code, 'E_CLOUD');
    assert.equal(error.status, 400);
    assert.equal(error.localError.code, 'E_CONTEXT_FULL');
    assert.match(error.message, /HTTP 400: context full.*the local model failed too/);
  });

  test('a server answering in one JSON object is read too', async () => {
    const r = new api.EdgeRouter({ local: lm, cloud: { url: echo.url('/json') }, policy: UNSURE });
    const { text, result } = await run(r.chat(hello));
    assert.equal(text, 'in one piece');
    assert.equal(result.route, 'cloud');
  });

  test('a cloud failing after its first text rejects with E_CLOUD (shown text is not taken back)', async () => {
    const r = new api.EdgeRouter({ local: lm, cloud: { url: echo.url('/cut') }, policy: UNSURE });
    const stream = r.chat(hello, { maxTokens: 8 });
    const seen = [];
    const error = await errorOf((async () => { for await (const p of stream) seen.push(p); })());
    assert.equal(error.code, 'E_CLOUD');
    assert.deepEqual(seen.map((p) => [p.route, p.text]), [['cloud', 'half an ans']]);
    assert.equal((await errorOf(stream.result)).code, 'E_CLOUD');
  });

  test('over budget with a dead cloud runs locally after all; if that fails too, E_CLOUD names both', async () => {
    const dead = await deadUrl();
    const over = new api.EdgeRouter({ local: lm, cloud: { url: dead }, policy: { maxLocalPromptTokens: 1 } });
    const { result } = await run(over.chat(hello, { maxTokens: 8 }));
    assert.deepEqual([result.route, result.reason, result.fallback], ['local', 'prompt_over_budget', true]);
    assert.ok(result.text.length > 0 && result.confidence > 0);
    const long = [{ role: 'user', content: 'Once upon a time '.repeat(40) }];
    const error = await errorOf(run(over.chat(long)));
    assert.equal(error.code, 'E_CLOUD');
    assert.match(error.message, /connection to the cloud failed.*the local model failed too \(E_CONTEXT_FULL/);
  });

  test('the same input takes the same route twice', async () => {
    for (const policy of [SURE, UNSURE]) {
      const r = router({ policy });
      const first = await run(r.chat(hello, { maxTokens: 12 }));
      const second = await run(r.chat(hello, { maxTokens: 12 }));
      assert.equal(second.result.route, first.result.route);
      assert.equal(second.result.reason, first.result.reason);
      assert.equal(second.text, first.text);
    }
  });

  test('a cache hit short-circuits the escalation; cloud answers are stored', async () => {
    const stored = [];
    const lookups = [];
    const cache = {
      async lookup(query) {
        lookups.push(query);
        return query === 'cached?' ? { answer: 'from the cache', similarity: 0.97 } : null;
      },
      async store(query, answer) { stored.push([query, answer]); },
    };
    const r = router({ policy: UNSURE, cache });
    const { value, requests } = await newRequests(() => run(r.chat([{ role: 'user', content: 'cached?' }])));
    assert.deepEqual(requests, []);
    assert.deepEqual(value.pieces, [{ text: 'from the cache', route: 'local' }]);
    assert.deepEqual([value.result.route, value.result.reason, value.result.similarity], ['local', 'cache_hit', 0.97]);
    const miss = await run(r.chat(hello, { maxTokens: 6 }));
    assert.equal(miss.result.route, 'cloud');
    assert.deepEqual(stored, [['Once upon a time', miss.text]]);
    // A confident answer never asks the cache; a failing cache is a miss.
    await run(router({ policy: SURE, cache }).chat(hello, { maxTokens: 4 }));
    assert.deepEqual(lookups, ['cached?', 'Once upon a time']);
    const broken = { lookup: () => { throw new Error('db closed'); }, store: async () => { throw new Error('db closed'); } };
    assert.equal((await run(router({ policy: UNSURE, cache: broken }).chat(hello, { maxTokens: 4 }))).result.route, 'cloud');
    const stalled = { lookup: () => new Promise(() => {}), store: () => new Promise(() => {}) };
    const patient = router({ policy: { ...UNSURE, timeoutMs: 200 }, cache: stalled });
    assert.equal((await run(patient.chat(hello, { maxTokens: 4 }))).result.route, 'cloud');
    const nonsense = { lookup: async () => ({ answer: 42 }), store: async () => {} };
    assert.equal((await run(router({ policy: UNSURE, cache: nonsense }).chat(hello, { maxTokens: 4 }))).result.route, 'cloud');
  });

  test('a SemanticCache over lm.embed answers a repeated question without a second request', async () => {
    const cache = new api.SemanticCache({ embed: (text) => lm.embed(text), namespace: 'stories260K',
      storage: 'memory', threshold: 0.99 });
    const r = router({ policy: UNSURE, cache });
    const question = [{ role: 'user', content: 'Where did the little dog go?' }];
    const first = await newRequests(() => run(r.chat(question, { maxTokens: 6 })));
    assert.equal(first.value.result.route, 'cloud');
    assert.equal(first.requests.length, 1);
    const again = await newRequests(() => run(r.chat(question, { maxTokens: 6 })));
    assert.deepEqual(again.requests, [], 'answered from the cache');
    assert.deepEqual([again.value.result.route, again.value.result.reason], ['local', 'cache_hit']);
    assert.equal(again.value.text, first.value.text);
    const other = await newRequests(() => run(r.chat(hello, { maxTokens: 6 })));
    assert.equal(other.requests.length, 1, 'a different question still escalates');
  });

  test('onBeforeSend sees exactly the body sent; false keeps the local answer', async () => {
    const seen = [];
    const contexts = [];
    const declining = router({
      policy: UNSURE,
      onBeforeSend: (body, context) => { seen.push(body); contexts.push(context); return false; },
    });
    const messages = [{ role: 'user', content: `Mail ${PII.email}` }];
    const { value, requests } = await newRequests(() => run(declining.chat(messages, { maxTokens: 8 })));
    assert.deepEqual(requests, []);
    assert.deepEqual([value.result.route, value.result.reason, value.result.fallback], ['local', 'declined', false]);
    assert.ok(value.pieces.every((p) => p.route === 'local'));
    assert.equal(seen[0].messages[0].content, 'Mail [EMAIL_1]');
    assert.deepEqual(contexts[0], {
      reason: 'low_confidence', confidence: value.result.confidence, redactions: 1, endpoint: `${cloud.url}/v1/chat/completions`,
    });

    const approving = router({ policy: UNSURE, onBeforeSend: async (body) => { seen.push(body); return true; } });
    const sent = await newRequests(() => run(approving.chat(messages, { maxTokens: 8 })));
    assert.deepEqual(JSON.parse(sent.requests[0].body), seen[1]);
    assert.equal(sent.value.result.route, 'cloud');
  });

  test('an aborted call rejects with E_ABORTED; stopping early closes the stream', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await errorOf(run(router().chat(hello, { signal: controller.signal })));
    assert.equal(error.code, 'E_ABORTED');
    const stream = router({ policy: UNSURE }).chat(hello, { maxTokens: 20 });
    for await (const piece of stream) { assert.equal(piece.route, 'cloud'); break; }
    assert.equal((await errorOf(stream.result)).code, 'E_ABORTED');
    const unread = router().chat(hello);
    await unread.return();
    assert.equal((await errorOf(unread.result)).code, 'E_ABORTED');
    assert.equal((await run(router({ policy: SURE }).chat(hello, { maxTokens: 4 }))).result.route, 'local');
  });

  test('bad options are E_OPTION, bad messages E_ARGUMENT', () => {
    const local = lm;
    const cloudOk = { url: 'http://127.0.0.1:1' };
    const bad = [
      {},
      { local, cloud: cloudOk, extra: 1 },
      { local: {}, cloud: cloudOk },
      { local, cloud: { url: 'ftp://x' } },
      { local, cloud: { url: 'not a url' } },
      { local, cloud: { ...cloudOk, key: 'x' } },
      { local, cloud: { ...cloudOk, headers: { Authorization: 5 } } },
      { local, cloud: { ...cloudOk, model: '' } },
      { local, cloud: cloudOk, policy: { minConfidence: 2 } },
      { local, cloud: cloudOk, policy: { minConfidence: Number.NaN } },
      { local, cloud: cloudOk, policy: { maxLocalTokens: 1.5 } },
      { local, cloud: cloudOk, policy: { timeoutMs: 0 } },
      { local, cloud: cloudOk, policy: { speed: 1 } },
      { local, cloud: cloudOk, redact: 'yes' },
      { local, cloud: cloudOk, cache: { lookup() {} } },
      { local, cloud: cloudOk, onBeforeSend: true },
    ];
    for (const options of bad) {
      assert.throws(() => new api.EdgeRouter(options), { code: 'E_OPTION' }, JSON.stringify(options));
    }
    assert.throws(() => new api.EdgeRouter(), { code: 'E_OPTION' });
    const r = new api.EdgeRouter({ local, cloud: cloudOk });
    assert.throws(() => r.chat(hello, { temperatur: 0 }), { code: 'E_OPTION' });
    assert.throws(() => r.chat(hello, { signal: 'stop' }), { code: 'E_OPTION' });
    for (const messages of [[], 'hi', [{ role: 'user' }], [{ role: 'user', content: 5 }], [null]]) {
      assert.throws(() => r.chat(messages), { code: 'E_ARGUMENT' });
    }
  });

  test('the endpoint accepts a base URL with or without /v1', () => {
    for (const url of ['http://h:1', 'http://h:1/', 'http://h:1/v1', 'http://h:1/v1/', 'http://h:1/v1/chat/completions']) {
      assert.equal(new api.EdgeRouter({ local: lm, cloud: { url } }).endpoint, 'http://h:1/v1/chat/completions');
    }
    assert.equal(new api.EdgeRouter({ local: lm, cloud: { url: 'https://api.example.com/openai' } }).endpoint,
      'https://api.example.com/openai/v1/chat/completions');
  });
});
