// EdgeRouter: answers on the device when the local model is sure of itself,
// and escalates to an OpenAI-compatible endpoint (localm serve, llama.cpp's
// server, vLLM, hosted APIs) when it is not, with personal data replaced by
// placeholders before anything leaves the device.
//
//   const router = new EdgeRouter({ local: lm, cloud: { url, model, headers } });
//   const answer = router.chat(messages);
//   for await (const { text, route } of answer) ...
//   const { route, reason, fallback, confidence } = await answer.result;
//
// The route of one call is decided in this order:
//   1. prompt tokens (the chat template applied) > maxLocalPromptTokens:
//      escalate ('prompt_over_budget') without running the local model;
//   2. the local attempt (greedy unless the caller sets sampling) fails:
//      escalate ('local_error');
//   3. its confidence exp(meanLogprob), the geometric mean of its token
//      probabilities, is below minConfidence, its share of tokens with
//      probability < 0.5 above maxLowConfidenceShare, or it is empty:
//      escalate ('low_confidence'); otherwise it is the answer ('confident');
//   4. before escalating, the optional cache is asked ('cache_hit');
//   5. onBeforeSend may decline ('declined': the local answer);
//   6. the cloud answers, or fails before its first piece of text: then the
//      local answer is used with fallback: true and cloudError. Without a
//      local answer yet (case 1) the local model runs after all; if that
//      fails too, the call rejects with E_CLOUD naming both failures. A cloud
//      failing after its first text rejects with E_CLOUD too: text already
//      shown is never swapped for another answer.
// Without a cache every step depends only on the input, so the same input
// takes the same route.

import { findNamesWithModel } from './names.js';
import { redactAll, restore } from './redact.js';

const DEFAULT_POLICY = {
  minConfidence: 0.5,
  maxLowConfidenceShare: 1,   // 1: the share alone never escalates
  maxLocalTokens: 256,
  maxLocalPromptTokens: null, // null: half the local model's context
  timeoutMs: 30_000,
};
const OPTION_KEYS = new Set(['local', 'cloud', 'policy', 'redact', 'modelNames', 'cache', 'onBeforeSend']);
const CLOUD_KEYS = new Set(['url', 'model', 'headers']);
// Per-call options: sampling for the local attempt; the standard ones also go
// to the cloud under their OpenAI names.
const CLOUD_FIELDS = { maxTokens: 'max_tokens', temperature: 'temperature', topP: 'top_p', seed: 'seed', stop: 'stop' };
const CALL_KEYS = new Set([...Object.keys(CLOUD_FIELDS), 'topK', 'minP', 'repeatPenalty', 'signal']);
const MAX_EVENT_CHARS = 1 << 20; // one server-sent event larger than this is a broken stream
const MAX_PENDING_PLACEHOLDER = 64;

function routerError(code, message, extra) {
  return Object.assign(new Error(message), { code }, extra);
}

const optionError = (message) => routerError('E_OPTION', message);
const isPlainObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

// ---- options ----------------------------------------------------------------------

function checkKeys(object, allowed, what) {
  if (!isPlainObject(object)) throw optionError(`${what} must be an object`);
  for (const key of Object.keys(object)) {
    if (!allowed.has(key)) throw optionError(`unknown ${what} key "${key}"`);
  }
}

// "https://host", "https://host/v1" and ".../v1/chat/completions" all name
// the same endpoint.
function completionsUrl(url) {
  let parsed;
  try {
    parsed = new URL(String(url));
  } catch {
    throw optionError(`cloud.url is not an absolute URL: ${String(url).slice(0, 200)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw optionError(`cloud.url must be http: or https:, got ${parsed.protocol}`);
  }
  const path = parsed.pathname.replace(/\/+$/, '');
  parsed.pathname = path.endsWith('/chat/completions') ? path
    : path.endsWith('/v1') ? `${path}/chat/completions` : `${path}/v1/chat/completions`;
  return parsed.href;
}

function checkCloud(cloud) {
  checkKeys(cloud, CLOUD_KEYS, 'cloud option');
  const { url, model, headers = {} } = cloud;
  if (model !== undefined && (typeof model !== 'string' || !model)) throw optionError('cloud.model must be a non-empty string');
  if (!isPlainObject(headers)) throw optionError('cloud.headers must be an object of strings');
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') throw optionError(`cloud.headers["${name}"] must be a string`);
  }
  return { endpoint: completionsUrl(url), model, headers: { ...headers } };
}

function checkNumber(policy, key, { min, max = Infinity, integer = false }) {
  const value = policy[key];
  if (value === undefined) return DEFAULT_POLICY[key];
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max ||
      (integer && !Number.isInteger(value))) {
    throw optionError(`policy.${key} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function checkPolicy(policy = {}) {
  checkKeys(policy, new Set(Object.keys(DEFAULT_POLICY)), 'policy');
  return {
    minConfidence: checkNumber(policy, 'minConfidence', { min: 0, max: 1 }),
    maxLowConfidenceShare: checkNumber(policy, 'maxLowConfidenceShare', { min: 0, max: 1 }),
    maxLocalTokens: checkNumber(policy, 'maxLocalTokens', { min: 1, max: 2 ** 31 - 1, integer: true }),
    maxLocalPromptTokens: checkNumber(policy, 'maxLocalPromptTokens', { min: 0, max: 2 ** 31 - 1, integer: true }),
    timeoutMs: checkNumber(policy, 'timeoutMs', { min: 1, max: 2 ** 31 - 1 }),
  };
}

function checkMethods(object, methods, what) {
  if (object === null || typeof object !== 'object' || methods.some((m) => typeof object[m] !== 'function')) {
    throw optionError(`${what} must be an object with ${methods.map((m) => `${m}()`).join(', ')}`);
  }
}

function checkMessages(messages) {
  if (!Array.isArray(messages) || messages.length === 0 ||
      !messages.every((m) => isPlainObject(m) && typeof m.role === 'string' && typeof m.content === 'string')) {
    throw routerError('E_ARGUMENT', 'chat() takes a non-empty array of { role, content } messages with string values');
  }
}

function checkCallOptions(options) {
  checkKeys(options, CALL_KEYS, 'chat option');
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw optionError('signal must be an AbortSignal');
  }
  return options;
}

// ---- redaction ----------------------------------------------------------------------

// Restores a streamed reply. A placeholder may arrive split over two chunks
// ("[EMA" + "IL_1]"), so a tail that could still become one waits.
class StreamRestorer {
  #entities;
  #pending = '';

  constructor(entities) {
    this.#entities = entities;
  }

  push(text) {
    const all = this.#pending + text;
    const open = all.lastIndexOf('[');
    const cut = open >= 0 && all.length - open <= MAX_PENDING_PLACEHOLDER &&
      /^\[\s*[A-Z]*(?:_\d*)?\s*$/.test(all.slice(open)) ? open : all.length;
    this.#pending = all.slice(cut);
    return restore(all.slice(0, cut), this.#entities);
  }

  flush() {
    const rest = restore(this.#pending, this.#entities);
    this.#pending = '';
    return rest;
  }
}

// ---- the cloud ------------------------------------------------------------------------

const cloudError = (message, extra) => routerError('E_CLOUD', message, extra);

// The data of each server-sent event, in order; calls onBytes per chunk read.
async function* sseData(body, onBytes) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let data = [];
  let eventChars = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onBytes();
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split('\n');
      buffer = lines.pop();
      if (buffer.length > MAX_EVENT_CHARS) throw cloudError('the stream sent a line longer than 1 MB');
      for (const line of lines.map((l) => l.replace(/\r$/, ''))) {
        if (line === '') {
          if (data.length) yield data.join('\n');
          data = [];
          eventChars = 0;
        } else if (line.startsWith('data:')) {
          data.push(line.slice(5).replace(/^ /, ''));
          eventChars += line.length;
          if (eventChars > MAX_EVENT_CHARS) throw cloudError('the stream sent an event longer than 1 MB');
        } // comments (":") and the fields event:, id:, retry: carry no text
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

function parseEvent(data) {
  try {
    return JSON.parse(data);
  } catch {
    throw cloudError(`the stream sent an event that is not JSON: ${data.slice(0, 100)}`);
  }
}

function describeHttpError(status, text) {
  let detail = text.slice(0, 200);
  try {
    detail = JSON.parse(text).error.message ?? detail;
  } catch { /* not the OpenAI error shape: the text itself */ }
  return cloudError(`the cloud answered HTTP ${status}${detail ? `: ${detail}` : ''}`, { status });
}

// The text of the cloud's answer as it streams; E_CLOUD on any failure. A
// server that ignores stream: true and answers in one JSON object is read too.
async function* cloudText(response, onBytes) {
  if (!response.ok) throw describeHttpError(response.status, await response.text());
  if (!response.body) throw cloudError('the cloud answered without a body');
  if (/application\/json/i.test(response.headers.get('content-type') ?? '')) {
    const content = parseEvent(await response.text())?.choices?.[0]?.message?.content;
    if (typeof content !== 'string') throw cloudError('the cloud answered JSON without choices[0].message.content');
    yield content;
    return;
  }
  let finished = false;
  for await (const data of sseData(response.body, onBytes)) {
    if (data === '[DONE]') return;
    const event = parseEvent(data);
    if (event?.error) throw cloudError(`the cloud reported an error: ${event.error.message ?? JSON.stringify(event.error).slice(0, 200)}`);
    const choice = event?.choices?.[0];
    const content = choice?.delta?.content;
    if (typeof content === 'string' && content) yield content;
    if (choice?.finish_reason) finished = true;
  }
  if (!finished) throw cloudError('the stream ended before the answer did (no finish_reason or [DONE])');
}

// ---- the router -------------------------------------------------------------------------

function lastUserText(messages) {
  return messages.findLast((m) => m.role === 'user')?.content;
}

export class EdgeRouter {
  #local;
  #cloud;
  #policy;
  #redact;
  #modelNames;
  #cache;
  #onBeforeSend;

  constructor(options) {
    checkKeys(options, OPTION_KEYS, 'EdgeRouter option');
    const { local, cloud, policy, redact: redactOption = true, modelNames = false, cache, onBeforeSend } = options;
    checkMethods(local, ['chat', 'stats', 'tokenize', 'formatChat'], 'local (a LocalLM)');
    if (typeof redactOption !== 'boolean') throw optionError('redact must be true or false');
    if (typeof modelNames !== 'boolean') throw optionError('modelNames must be true or false');
    if (cache !== undefined) checkMethods(cache, ['lookup', 'store'], 'cache');
    if (onBeforeSend !== undefined && typeof onBeforeSend !== 'function') throw optionError('onBeforeSend must be a function');
    this.#local = local;
    this.#cloud = checkCloud(cloud);
    this.#policy = checkPolicy(policy);
    if (this.#policy.maxLocalPromptTokens === null) {
      this.#policy.maxLocalPromptTokens = Number.isInteger(local.contextSize) ? Math.floor(local.contextSize / 2) : Infinity;
    }
    this.#redact = redactOption;
    this.#modelNames = modelNames;
    this.#cache = cache;
    this.#onBeforeSend = onBeforeSend;
  }

  /** The policy in force, defaults filled in. */
  get policy() {
    return { ...this.#policy };
  }

  /** The endpoint requests go to (…/v1/chat/completions). */
  get endpoint() {
    return this.#cloud.endpoint;
  }

  // An async iterator of pieces, each tagged with its route, like lm.chat();
  // .result resolves with the summary once the answer is complete (and
  // rejects like the iteration does).
  chat(messages, options = {}) {
    checkMessages(messages);
    checkCallOptions(options);
    let settle;
    const result = new Promise((resolve, reject) => { settle = { resolve, reject }; });
    result.catch(() => {}); // a caller that only iterates sees the error there
    const stream = this.#settled(this.#answer(messages, options), settle);
    // Leaving early (a break, or return() before the first piece) ends the
    // call; after the end, rejecting a settled promise changes nothing.
    const close = stream.return.bind(stream);
    stream.return = (value) => {
      settle.reject(routerError('E_ABORTED', 'the caller stopped reading the answer'));
      return close(value);
    };
    stream.result = result;
    return stream;
  }

  async* #settled(answer, settle) {
    try {
      settle.resolve(yield* answer);
    } catch (error) {
      settle.reject(error);
      throw error;
    }
  }

  async* #answer(messages, options) {
    if (options.signal?.aborted) throw routerError('E_ABORTED', 'generation was aborted');
    const promptTokens = await this.#countPromptTokens(messages, options.signal);
    let local = null;
    let reason = 'prompt_over_budget';
    if (promptTokens.error) {
      local = { pieces: [], text: '', error: promptTokens.error, confidence: null };
      reason = 'local_error';
    } else if (promptTokens.count <= this.#policy.maxLocalPromptTokens) {
      local = await this.#runLocal(messages, options);
      reason = this.#judge(local);
    }
    const summary = { promptTokens: promptTokens.count ?? null, confidence: local?.confidence ?? null, redactions: 0, reason };
    // The local answer was buffered until judged, so nothing shown is ever
    // taken back: a small model answers in moments, and an answer replaced
    // mid-way by another would be worse than a short wait.
    if (reason === 'confident') return yield* this.#localAnswer(local, summary);
    return yield* this.#escalate(messages, options, local, summary);
  }

  // Cache, consent, cloud, and the local answer when the cloud fails.
  async* #escalate(messages, options, local, summary) {
    const hit = await this.#lookup(messages);
    if (hit) {
      yield { text: hit.answer, route: 'local' };
      return { ...summary, route: 'local', reason: 'cache_hit', fallback: false, similarity: hit.similarity, text: hit.answer };
    }
    const request = await this.#cloudRequest(messages, options);
    summary.redactions = new Set(request.entities.map((e) => e.placeholder)).size;
    const approved = !this.#onBeforeSend || await this.#onBeforeSend(JSON.parse(request.body),
      { reason: summary.reason, confidence: summary.confidence, redactions: summary.redactions, endpoint: this.endpoint });
    if (options.signal?.aborted) throw routerError('E_ABORTED', 'generation was aborted');
    if (!approved) {
      local ??= await this.#runLocal(messages, options);
      if (!local.text && local.error) throw local.error;
      return yield* this.#localAnswer(local, { ...summary, reason: 'declined', confidence: local.confidence });
    }
    let text = '';
    try {
      for await (const piece of this.#streamCloud(request, options.signal)) {
        text += piece;
        yield { text: piece, route: 'cloud' };
      }
    } catch (error) {
      if (error.code !== 'E_CLOUD' || text) throw error; // shown cloud text cannot be taken back
      return yield* this.#fallback(local, messages, options, error, summary);
    }
    await this.#store(messages, text);
    return { ...summary, route: 'cloud', fallback: false, text, ...(local?.error && { localError: errorInfo(local.error) }) };
  }

  async* #localAnswer(local, summary) {
    for (const piece of local.pieces) yield { ...piece, route: 'local' };
    return {
      ...summary, route: 'local', fallback: false, text: local.text,
      ...(local.error && { localError: errorInfo(local.error) }),
    };
  }

  async* #fallback(local, messages, options, cloudFailure, summary) {
    local ??= await this.#runLocal(messages, options);
    if (!local.text && local.error) {
      throw cloudError(`${cloudFailure.message}; the local model failed too (${local.error.code}: ${local.error.message})`,
        { status: cloudFailure.status, localError: local.error });
    }
    const answer = yield* this.#localAnswer(local, { ...summary, confidence: local.confidence });
    return { ...answer, fallback: true, cloudError: errorInfo(cloudFailure) };
  }

  // Tokens of the prompt chat() would read; { error } when the local model
  // cannot even format it (it will not answer either).
  async #countPromptTokens(messages, signal) {
    try {
      const prompt = await this.#local.formatChat(messages);
      return { count: (await this.#local.tokenize(prompt, { special: true })).length };
    } catch (error) {
      if (signal?.aborted) throw routerError('E_ABORTED', 'generation was aborted');
      return { error };
    }
  }

  // The local attempt, collected: { pieces, text, confidence, stats } or,
  // when it failed, { pieces, text, error } with what came before the error.
  async #runLocal(messages, { signal, maxTokens, ...sampling }) {
    const options = {
      temperature: 0, // deterministic unless the caller chooses otherwise
      ...sampling,
      maxTokens: Math.min(maxTokens ?? Infinity, this.#policy.maxLocalTokens),
      signal,
    };
    const pieces = [];
    const textOf = () => pieces.map((p) => p.text).join('');
    try {
      for await (const piece of this.#local.chat(messages, options)) pieces.push(piece);
    } catch (error) {
      // The caller's own mistakes and aborts are not the model's failures.
      if (['E_ABORTED', 'E_OPTION', 'E_ARGUMENT'].includes(error.code)) throw error;
      return { pieces, text: textOf(), error, confidence: null };
    }
    const stats = this.#local.stats();
    const meanLogprob = stats.genTokens > 0 ? stats.confidence.meanLogprob : -Infinity;
    const confidence = Number.isFinite(meanLogprob) ? Math.exp(meanLogprob) : 0;
    return { pieces, text: textOf(), stats, confidence };
  }

  #judge(local) {
    if (local.error) return 'local_error';
    const { minConfidence, maxLowConfidenceShare } = this.#policy;
    if (!local.text.trim() || local.confidence < minConfidence ||
        local.stats.confidence.lowConfidenceShare > maxLowConfidenceShare) return 'low_confidence';
    return 'confident';
  }

  // A cache that fails, stalls past timeoutMs or answers nonsense is a miss:
  // it only saves a trip.
  async #lookup(messages) {
    const query = lastUserText(messages);
    if (!this.#cache || query === undefined) return null;
    const hit = await this.#withinTimeout(() => this.#cache.lookup(query));
    if (!hit || typeof hit.answer !== 'string' || !hit.answer) return null;
    return { answer: hit.answer, similarity: Number.isFinite(hit.similarity) ? hit.similarity : null };
  }

  async #store(messages, answer) {
    const query = lastUserText(messages);
    if (this.#cache && query !== undefined && answer) await this.#withinTimeout(() => this.#cache.store(query, answer));
  }

  // What call() resolves with, or null when it throws, rejects or takes longer than timeoutMs.
  async #withinTimeout(call) {
    let timer;
    const expired = new Promise((resolve) => { timer = setTimeout(resolve, this.#policy.timeoutMs, null); });
    try {
      return await Promise.race([Promise.resolve().then(call), expired]);
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  // { body: the exact JSON sent, entities: what restore() needs }.
  async #cloudRequest(messages, options) {
    const contents = messages.map((m) => m.content);
    const { texts, entities } = this.#redact
      ? redactAll(contents, { nameDetector: await this.#nameDetector(messages, options.signal) })
      : { texts: contents, entities: [] };
    const body = {
      ...(this.#cloud.model && { model: this.#cloud.model }),
      messages: messages.map((m, i) => ({ role: m.role, content: texts[i] })),
      stream: true,
    };
    for (const [key, field] of Object.entries(CLOUD_FIELDS)) {
      if (options[key] !== undefined) body[field] = options[key];
    }
    return { body: JSON.stringify(body), entities };
  }

  // With modelNames, the local model lists the people named in each message
  // the user or system wrote (one at a time: it runs one request at a time);
  // the rules of redact() apply either way.
  async #nameDetector(messages, signal) {
    if (!this.#modelNames) return undefined;
    const found = new Map();
    for (const { role, content } of messages) {
      if (role !== 'assistant' && !found.has(content)) found.set(content, await findNamesWithModel(this.#local, content, { signal }));
    }
    return (text) => found.get(text) ?? [];
  }

  // Restored text as it streams. timeoutMs bounds the wait for the response
  // and for each chunk after it; the caller's signal aborts with E_ABORTED.
  async* #streamCloud({ body, entities }, signal) {
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let timer;
    let timedOut = false;
    const restartTimer = () => {
      clearTimeout(timer);
      timer = setTimeout(() => { timedOut = true; controller.abort(); }, this.#policy.timeoutMs);
    };
    const restorer = new StreamRestorer(entities);
    try {
      if (signal?.aborted) throw routerError('E_ABORTED', 'generation was aborted');
      restartTimer();
      const response = await fetch(this.#cloud.endpoint, {
        method: 'POST',
        headers: { ...this.#cloud.headers, 'content-type': 'application/json', accept: 'text/event-stream' },
        body,
        signal: controller.signal,
      });
      for await (const chunk of cloudText(response, restartTimer)) {
        const text = restorer.push(chunk);
        if (text) yield text;
      }
      const rest = restorer.flush();
      if (rest) yield rest;
    } catch (error) {
      if (signal?.aborted) throw routerError('E_ABORTED', 'generation was aborted');
      if (timedOut) throw cloudError(`the cloud sent nothing for ${this.#policy.timeoutMs} ms`);
      if (error.code === 'E_CLOUD') throw error;
      const cause = error.cause?.code ?? error.cause?.message;
      throw cloudError(`the connection to the cloud failed (${error.message}${cause ? `: ${cause}` : ''})`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      controller.abort(); // a caller that stopped reading closes the connection
    }
  }
}

function errorInfo(error) {
  return { code: error.code ?? 'E_INTERNAL', message: error.message, ...(error.status && { status: error.status }) };
}
