// localm serve (issue 7): the native core as an OpenAI-compatible HTTP server
// on loopback. One real server process for the whole file, on a port the
// kernel picks (--port 0), with a request log the edge-router tests read.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = process.env.LOCALM_CLI ?? join(root, 'build', 'native', 'localm');
const shared = join(root, '..', 'shared');
const stories = join(shared, 'models', 'stories260K.gguf');
const skip = !existsSync(stories) ? 'needs ../shared/models/stories260K.gguf'
  : !existsSync(cli) ? `needs the native build (${cli}): run ./build.sh native` : false;

const logPath = join(mkdtempSync(join(tmpdir(), 'localm-serve-')), 'requests.jsonl');
const origin = 'http://localhost:5173';
let server, base, stderr = '';

// Resolves with the port once the server says where it listens.
function startServer() {
  const args = ['serve', '-m', stories, '--port', '0', '--log', logPath, '--cors', origin];
  server = spawn(cli, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    server.stderr.setEncoding('utf8');
    server.stderr.on('data', (text) => {
      stderr += text;
      const m = stderr.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    server.on('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
}

before(async () => {
  if (skip) return;
  base = `http://127.0.0.1:${await startServer()}`;
});

after(() => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
});

const hello = [{ role: 'user', content: 'Once upon a time' }];

async function chat(body) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

// The data: payloads of a server-sent event stream, in order.
function events(text) {
  assert.ok(text.endsWith('\n\n'), 'events end with a blank line');
  return text.trim().split('\n\n').map((e) => {
    assert.ok(e.startsWith('data: '), `event ${JSON.stringify(e)}`);
    return e.slice(6);
  });
}

test('GET /v1/models lists the loaded model', { skip }, async () => {
  const res = await fetch(`${base}/v1/models`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.object, 'list');
  assert.equal(body.data.length, 1);
  assert.equal(body.data[0].id, 'stories260K.gguf');
  assert.equal(body.data[0].object, 'model');
  assert.ok(body.data[0].localm.n_ctx > 0);
});

test('a greedy completion is deterministic and carries usage and confidence', { skip }, async () => {
  const request = { model: 'stories260K.gguf', messages: hello, temperature: 0, max_tokens: 24 };
  const first = await chat(request), second = await chat(request);
  assert.equal(first.status, 200, first.text);
  assert.match(first.type, /application\/json/);
  const a = JSON.parse(first.text), b = JSON.parse(second.text);
  assert.equal(a.object, 'chat.completion');
  assert.match(a.id, /^chatcmpl-/);
  assert.notEqual(a.id, b.id);
  assert.equal(a.model, 'stories260K.gguf');
  assert.equal(typeof a.created, 'number');
  assert.equal(a.choices.length, 1);
  const choice = a.choices[0];
  assert.equal(choice.index, 0);
  assert.equal(choice.message.role, 'assistant');
  assert.ok(choice.message.content.length > 0);
  assert.equal(choice.message.content, b.choices[0].message.content);
  assert.ok(['stop', 'length'].includes(choice.finish_reason));
  assert.ok(a.usage.prompt_tokens > 0);
  assert.ok(a.usage.completion_tokens > 0 && a.usage.completion_tokens <= 24);
  assert.equal(a.usage.total_tokens, a.usage.prompt_tokens + a.usage.completion_tokens);
  const c = a.localm;
  assert.ok(c.mean_logprob <= 0 && c.min_logprob <= c.mean_logprob, JSON.stringify(c));
  assert.ok(c.low_confidence_share >= 0 && c.low_confidence_share <= 1);
  assert.equal(c.low_confidence_threshold, 0.5);
  assert.ok(Math.abs(c.perplexity - Math.exp(-c.mean_logprob)) < 1e-3 * c.perplexity);
  assert.deepEqual(b.localm.mean_logprob, c.mean_logprob);
});

test('streaming sends the same text as chunks, then [DONE]', { skip }, async () => {
  const request = { messages: hello, temperature: 0, max_tokens: 24 };
  const whole = JSON.parse((await chat(request)).text);
  const res = await chat({ ...request, stream: true });
  assert.equal(res.status, 200);
  assert.match(res.type, /text\/event-stream/);
  const data = events(res.text);
  assert.equal(data.at(-1), '[DONE]');
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(c.id, chunks[0].id);
  }
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const content = chunks.filter((c) => c.choices[0].delta.content !== undefined);
  assert.ok(content.length >= 3, `only ${content.length} content chunks`);
  assert.equal(content.map((c) => c.choices[0].delta.content).join(''), whole.choices[0].message.content);
  const last = chunks.at(-1);
  assert.equal(last.choices[0].finish_reason, whole.choices[0].finish_reason);
  assert.deepEqual(last.usage, whole.usage);
  assert.equal(last.localm.mean_logprob, whole.localm.mean_logprob);
});

test('content given as text parts is joined', { skip }, async () => {
  const plain = JSON.parse((await chat({ messages: hello, temperature: 0, max_tokens: 12 })).text);
  const parts = [{ role: 'user', content: [{ type: 'text', text: 'Once upon' }, { type: 'text', text: ' a time' }] }];
  const joined = JSON.parse((await chat({ messages: parts, temperature: 0, max_tokens: 12 })).text);
  assert.equal(joined.choices[0].message.content, plain.choices[0].message.content);
  const image = [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }];
  const res = await chat({ messages: image });
  assert.equal(res.status, 400);
  assert.match(JSON.parse(res.text).error.message, /messages\[0\]\.content\[0\]: only/);
});

test('stop strings and sampling options are honoured', { skip }, async () => {
  const base = JSON.parse((await chat({ messages: hello, temperature: 0, max_tokens: 24 })).text);
  const text = base.choices[0].message.content;
  const stop = text.slice(4, 6);
  const stopped = JSON.parse((await chat({ messages: hello, temperature: 0, max_tokens: 24, stop: [stop] })).text);
  assert.equal(stopped.choices[0].message.content, text.slice(0, text.indexOf(stop)));
  assert.equal(stopped.choices[0].finish_reason, 'stop');
  const sampled = { messages: hello, temperature: 0.9, top_p: 0.95, top_k: 40, seed: 7, max_tokens: 16, stop: null };
  const x = JSON.parse((await chat(sampled)).text), y = JSON.parse((await chat(sampled)).text);
  assert.equal(x.choices[0].message.content, y.choices[0].message.content, 'same seed, same text');
});

test('bad requests get OpenAI-style errors', { skip }, async () => {
  const cases = [
    ['{"messages": [', 400, 'E_OPTION', /not valid JSON/],
    [[1, 2], 400, 'E_OPTION', /not a JSON object/],
    [{ temperature: 0 }, 400, 'E_OPTION', /messages/],
    [{ messages: hello, temperature: -1 }, 400, 'E_OPTION', /temperature/],
    [{ messages: hello, max_tokens: 'many' }, 400, 'E_OPTION', /max_tokens/],
    [{ messages: hello, logit_bias: {} }, 400, 'E_OPTION', /unknown field "logit_bias"/],
    [{ messages: hello, stream: 'yes' }, 400, 'E_OPTION', /stream/],
    [{ messages: [{ role: 'wizard', content: 'x' }] }, 400, 'E_TEMPLATE', /role/],
    [{ messages: [] }, 400, 'E_TEMPLATE', /empty/],
  ];
  for (const [body, status, code, message] of cases) {
    const res = await chat(body);
    assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.text}`);
    const { error } = JSON.parse(res.text);
    assert.equal(error.code, code);
    assert.equal(error.type, 'invalid_request_error');
    assert.match(error.message, message);
  }
  const big = await chat({ messages: [{ role: 'user', content: 'x'.repeat(1.5 * 1024 * 1024) }] });
  assert.equal(big.status, 413);
  assert.equal(JSON.parse(big.text).error.code, 'request_too_large');
});

test('response_format constrains the answer to the schema (OpenAI shape)', { skip }, async () => {
  const schema = {
    type: 'object',
    properties: { mood: { enum: ['happy', 'sad'] }, count: { type: 'integer' } },
    required: ['mood', 'count'],
    additionalProperties: false,
  };
  for (const seed of [1, 2]) {
    const res = await chat({ messages: hello, max_tokens: 60, seed,
      response_format: { type: 'json_schema', json_schema: { name: 'm', strict: true, schema } } });
    assert.equal(res.status, 200, res.text);
    const answer = JSON.parse(JSON.parse(res.text).choices[0].message.content);
    assert.ok(['happy', 'sad'].includes(answer.mood) && Number.isInteger(answer.count), JSON.stringify(answer));
    assert.deepEqual(Object.keys(answer), ['mood', 'count']);
  }
  const bad = await chat({ messages: hello, response_format: { type: 'json_schema', json_schema: { schema: { oneOf: [] } } } });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(JSON.parse(bad.text).error.code, 'E_OPTION');
  assert.match(JSON.parse(bad.text).error.message, /"oneOf" is not supported/);
});

test('unknown paths are 404, wrong methods 405', { skip }, async () => {
  const missing = await fetch(`${base}/v1/completions`, { method: 'POST', body: '{}' });
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, 'not_found');
  const wrong = await fetch(`${base}/v1/chat/completions`);
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get('allow'), 'POST');
  assert.equal((await fetch(`${base}/v1/models`, { method: 'DELETE' })).status, 405);
});

test('concurrent requests wait their turn and get the same answer', { skip }, async () => {
  const request = { messages: hello, temperature: 0, max_tokens: 32 };
  const answers = await Promise.all([chat(request), chat({ ...request, stream: true }), chat(request)]);
  for (const a of answers) assert.equal(a.status, 200);
  const streamed = events(answers[1].text).slice(0, -1).map((d) => JSON.parse(d).choices[0].delta.content ?? '').join('');
  const text = JSON.parse(answers[0].text).choices[0].message.content;
  assert.equal(JSON.parse(answers[2].text).choices[0].message.content, text);
  assert.equal(streamed, text);
});

test('the request log holds one JSON line per request with its body', { skip }, async () => {
  const marker = `jane.doe+${Date.now()}@example.com`;
  await chat({ messages: [{ role: 'user', content: `mail ${marker}` }], max_tokens: 2 });
  await fetch(`${base}/nowhere`);
  const lines = readFileSync(logPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const mine = lines.find((l) => l.body.includes(marker));
  assert.ok(mine, 'the body is logged');
  assert.equal(mine.method, 'POST');
  assert.equal(mine.path, '/v1/chat/completions');
  assert.equal(mine.status, 200);
  assert.equal(JSON.parse(mine.body).messages[0].content, `mail ${marker}`);
  assert.ok(lines.some((l) => l.path === '/nowhere' && l.status === 404));
  assert.ok(lines.some((l) => l.status === 413 && l.body_truncated === true));
});

test('--cors lets pages of that origin call the server', { skip }, async () => {
  const pre = await fetch(`${base}/v1/chat/completions`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), origin);
  assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
  assert.match(pre.headers.get('access-control-allow-headers'), /Content-Type/);
  const res = await fetch(`${base}/v1/models`, { headers: { origin } });
  assert.equal(res.headers.get('access-control-allow-origin'), origin);
});

test('a non-loopback host is refused without --public', { skip }, () => {
  const r = spawnSync(cli, ['serve', '-m', stories, '--host', '0.0.0.0', '--port', '0'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /not a loopback address.*--public/);
  const bad = spawnSync(cli, ['serve', '-m', stories, '--host', 'example.com'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--host expects/);
});

test('a full context ends the answer with finish_reason length', { skip }, async () => {
  const res = await chat({ messages: hello, temperature: 0, max_tokens: 1 << 20, ignore_eos: true });
  assert.equal(res.status, 200, res.text);
  const body = JSON.parse(res.text);
  assert.equal(body.choices[0].finish_reason, 'length');
  const models = await (await fetch(`${base}/v1/models`)).json();
  assert.ok(body.usage.total_tokens >= models.data[0].localm.n_ctx, JSON.stringify(body.usage));
  const long = await chat({ messages: [{ role: 'user', content: 'word '.repeat(2000) }] });
  assert.equal(long.status, 400);
  assert.equal(JSON.parse(long.text).error.code, 'E_CONTEXT_FULL');
});

test('a client that leaves mid-stream frees the model for the next request', { skip }, async () => {
  const ac = new AbortController();
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ messages: hello, max_tokens: 1 << 20, ignore_eos: true, stream: true }),
    signal: ac.signal,
  });
  await res.body.getReader().read();
  ac.abort();
  const next = await chat({ messages: hello, temperature: 0, max_tokens: 4 });
  assert.equal(next.status, 200);
});

test('SIGTERM stops the server cleanly, ending the answer under way', { skip }, async () => {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ messages: hello, max_tokens: 1 << 20, ignore_eos: true, stream: true }),
  });
  const reader = res.body.getReader();
  let text = new TextDecoder().decode((await reader.read()).value);
  // Handled at once: the refusal may come while the stream is still being read.
  const waiting = chat({ messages: hello, max_tokens: 4 }).catch((e) => ({ status: 0, text: e.message }));
  const exited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
  server.kill('SIGTERM');
  for (let r; !(r = await reader.read()).done;) text += new TextDecoder().decode(r.value);
  const data = events(text);
  assert.equal(data.at(-1), '[DONE]');
  // Unless it happened to fill the context first, the stream says why it ended.
  const last = JSON.parse(data.at(-2));
  if (!last.choices) assert.equal(last.error.code, 'E_ABORTED');
  // A request that arrives while stopping is refused with 503 or, when the
  // daemon closed first, by the closed connection.
  const waiter = await waiting;
  assert.ok([0, 200, 503].includes(waiter.status), waiter.text);
  if (waiter.status === 503) assert.equal(JSON.parse(waiter.text).error.code, 'E_ABORTED');
  assert.deepEqual(await exited, { code: 0, signal: null });
  assert.match(stderr, /stopping on signal 15/);
  await assert.rejects(fetch(`${base}/v1/models`));
});
