// Telemetry with explicit consent. Events (latency, tokens/s, route, error
// codes, memory) are kept on the device; flush() sends them only when the user
// said yes (consent === true) AND an endpoint was given. Prompt and output text
// can never be recorded: events are rebuilt from an allowlist of numeric and
// short identifier fields, so free text has nowhere to go.
//
//   const telemetry = new Telemetry({ consent: false, storage: localStorage });
//   telemetry.record({ name: 'generate', latencyMs: 812, tokensPerSecond: 41.5, route: 'local' });
//   telemetry.view(); telemetry.erase(); await telemetry.flush();

const STORAGE_KEY = 'localm.telemetry.v1';
const MAX_EVENTS = 1000;

// Field -> what a value must look like to be kept.
const NUMBER_FIELDS = [
  'latencyMs', 'firstTokenMs', 'tokensPerSecond', 'promptTokens', 'outputTokens',
  'memoryBytes', 'contextSize', 'threads', 'meanLogprob', 'minLogprob',
];
const IDENTIFIER = /^[A-Za-z0-9_.:-]{1,64}$/; // no spaces: a sentence cannot pass
const FIELD_PATTERNS = {
  name: IDENTIFIER,
  route: /^(?:local|cloud|cache)$/,
  reason: IDENTIFIER,
  errorCode: /^E_[A-Z0-9_]{1,40}$/,
  model: IDENTIFIER,
  backend: IDENTIFIER,
};

// The stored form of an event: allowed fields with valid values, plus the
// time in whole seconds. Anything else (prompt, output, messages...) is dropped.
function sanitize(event, now) {
  const clean = { at: Math.floor(now / 1000) * 1000 };
  for (const key of NUMBER_FIELDS) {
    const value = event[key];
    if (typeof value === 'number' && Number.isFinite(value)) clean[key] = value;
  }
  for (const [key, pattern] of Object.entries(FIELD_PATTERNS)) {
    const value = event[key];
    if (typeof value === 'string' && pattern.test(value)) clean[key] = value;
  }
  if (Number.isFinite(event.at)) clean.at = Math.floor(event.at / 1000) * 1000;
  return clean;
}

// The default store when no localStorage-like object is passed in.
function memoryStorage() {
  const items = new Map();
  return {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => { items.set(key, String(value)); },
    removeItem: (key) => { items.delete(key); },
  };
}

function checkStorage(storage) {
  for (const method of ['getItem', 'setItem', 'removeItem']) {
    if (typeof storage?.[method] !== 'function') {
      throw new TypeError(`Telemetry: storage must have getItem, setItem and removeItem (missing ${method})`);
    }
  }
  return storage;
}

export class Telemetry {
  #consent;
  #endpoint;
  #storage;
  #fetch;
  #maxEvents;
  #flushing = null;

  constructor({ consent = false, endpoint, storage, fetch, maxEvents = MAX_EVENTS } = {}) {
    if (endpoint !== undefined && !/^https?:\/\//.test(String(endpoint))) {
      throw new TypeError('Telemetry: endpoint must be an http(s) URL');
    }
    if (!Number.isInteger(maxEvents) || maxEvents < 1) throw new TypeError('Telemetry: maxEvents must be a positive integer');
    if (fetch !== undefined && typeof fetch !== 'function') throw new TypeError('Telemetry: fetch must be a function');
    this.#consent = consent === true; // only a literal true counts as consent
    this.#endpoint = endpoint;
    this.#storage = storage === undefined ? memoryStorage() : checkStorage(storage);
    this.#fetch = fetch;
    this.#maxEvents = maxEvents;
  }

  get consent() { return this.#consent; }

  // Granting or withdrawing consent; withdrawing does not erase (erase() does).
  setConsent(consent) { this.#consent = consent === true; }

  // Stores the sanitized event (the oldest go once maxEvents is reached) and returns it.
  record(event) {
    if (event === null || typeof event !== 'object' || Array.isArray(event)) {
      throw new TypeError('Telemetry.record: event must be an object');
    }
    const clean = sanitize(event, Date.now());
    this.#save([...this.#load(), clean].slice(-this.#maxEvents));
    return clean;
  }

  // Exactly what is stored (and what flush would send), as copies.
  view() { return this.#load(); }

  erase() { this.#storage.removeItem(STORAGE_KEY); }

  // Sends the stored events in one POST and drops them once the endpoint
  // accepted them. Without consent and an endpoint nothing leaves the device.
  // Calls made while a flush is under way share it, so nothing is sent twice.
  flush() {
    this.#flushing ??= this.#send().finally(() => { this.#flushing = null; });
    return this.#flushing;
  }

  async #send() {
    if (!this.#consent) return { sent: 0, reason: 'no-consent' };
    if (!this.#endpoint) return { sent: 0, reason: 'no-endpoint' };
    const events = this.#load();
    if (events.length === 0) return { sent: 0, reason: 'empty' };
    const send = this.#fetch ?? globalThis.fetch;
    let response;
    try {
      response = await send(this.#endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ events }),
      });
    } catch (error) {
      return { sent: 0, reason: 'network', error: String(error?.message ?? error) };
    }
    if (!response.ok) return { sent: 0, reason: 'http', status: response.status };
    // Keep whatever was recorded while the request was in flight.
    this.#save(this.#load().slice(events.length));
    return { sent: events.length };
  }

  // Stored data is untrusted too (another tab, an old version): re-sanitize it.
  #load() {
    let parsed;
    try {
      parsed = JSON.parse(this.#storage.getItem(STORAGE_KEY) ?? '[]');
    } catch {
      return [];
    }
    if (!Array.isArray(parsed)) return [];
    return parsed.filter((e) => e && typeof e === 'object' && !Array.isArray(e)).map((e) => sanitize(e, 0));
  }

  // A full or failing store must not break the app that records: the event is lost.
  #save(events) {
    try {
      if (events.length === 0) this.#storage.removeItem(STORAGE_KEY);
      else this.#storage.setItem(STORAGE_KEY, JSON.stringify(events));
    } catch {
      // QuotaExceededError or a storage the user disabled.
    }
  }
}
