// The demo page: pick or drop a model, watch it download, chat with it, and
// manage the models kept in this browser. Everything runs through the
// LocalLM module in dist/ (built by `./build.sh wasm`). Edge-first mode routes
// chat through an EdgeRouter: unsure answers go to a cloud model, after the
// user has seen the exact (redacted) request.

const $ = (id) => document.getElementById(id);
const ui = {
  banner: $('banner'),
  tagline: $('tagline'),
  modelSelect: $('model-select'),
  modelUrl: $('model-url'),
  load: $('load'),
  cancelLoad: $('cancel-load'),
  drop: $('drop'),
  file: $('file'),
  progressBox: $('progress-box'),
  progress: $('progress'),
  progressText: $('progress-text'),
  modelStatus: $('model-status'),
  messages: $('messages'),
  composer: $('composer'),
  prompt: $('prompt'),
  send: $('send'),
  stop: $('stop'),
  newChat: $('new-chat'),
  stats: $('stats'),
  mode: $('mode'),
  temperature: $('temperature'),
  topK: $('top-k'),
  topP: $('top-p'),
  maxTokens: $('max-tokens'),
  system: $('system'),
  storage: $('storage'),
  persist: $('persist'),
  clearCache: $('clear-cache'),
  cacheList: $('cache-list'),
  edgeFirst: $('edge-first'),
  cloudUrl: $('cloud-url'),
  cloudModel: $('cloud-model'),
  cloudKey: $('cloud-key'),
  minConfidence: $('min-confidence'),
  remember: $('edge-remember'),
  usageEndpoint: $('usage-endpoint'),
  usageConsent: $('usage-consent'),
  usageView: $('usage-view'),
  usageSend: $('usage-send'),
  usageErase: $('usage-erase'),
  usageStatus: $('usage-status'),
  usageEvents: $('usage-events'),
  edgePreview: $('edge-preview'),
  edgePreviewWhy: $('edge-preview-why'),
  edgePreviewBody: $('edge-preview-body'),
  edgeSend: $('edge-send'),
  edgeKeep: $('edge-keep'),
};

const state = {
  LocalLM: null,      // the module's class, once imported
  EdgeRouter: null,
  SemanticCache: null,
  Telemetry: null,
  telemetry: null,    // usage statistics, kept in localStorage
  answers: null,      // SemanticCache of cloud answers for the loaded model
  cache: null,        // LocalLM.cache
  lm: null,           // the loaded model
  modelName: '',
  loading: null,      // AbortController of the load in progress
  generating: null,   // AbortController of the generation in progress
  history: [],        // chat messages so far
  catalog: [],
};

// ---- formatting -------------------------------------------------------------

function formatBytes(n) {
  if (!Number.isFinite(n)) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i && n < 100 ? 1 : 0)} ${units[i]}`;
}

function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function formatAgo(time) {
  const seconds = (Date.now() - time) / 1000;
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(time).toLocaleDateString();
}

const fileName = (url) => decodeURIComponent(new URL(url, location.href).pathname.split('/').pop() || url);

function errorText(error) {
  const hints = {
    E_QUOTA: 'Delete cached models below, or ask the browser to keep more (persist).',
    E_NETWORK: 'Check the URL and the connection.',
    E_MEMORY: 'Try a smaller model or a smaller quantization.',
    E_INTEGRITY: 'The broken copy was removed; load the model again when online.',
    E_CONTEXT_FULL: 'Start a new chat or ask for fewer tokens.',
  };
  const code = error?.code ?? 'Error';
  return `${code}: ${error?.message ?? error}${hints[code] ? `\n${hints[code]}` : ''}`;
}

function showBanner(text) {
  ui.banner.textContent = text;
  ui.banner.hidden = !text;
}

// ---- the module -----------------------------------------------------------------

async function importModule() {
  try {
    const module = await import('./dist/localm.js');
    state.LocalLM = module.LocalLM;
    state.EdgeRouter = module.EdgeRouter;
    state.SemanticCache = module.SemanticCache;
    state.Telemetry = module.Telemetry;
    state.cache = module.LocalLM.cache;
  } catch (error) {
    showBanner(`The LocalLM module could not be loaded (${error.message}).\nBuild it with ./build.sh wasm (npm start does).`);
    ui.load.disabled = true;
  }
}

// ---- models: catalog, loading, progress ---------------------------------------

async function loadCatalog() {
  try {
    const response = await fetch('catalog.json');
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    state.catalog = (await response.json()).models ?? [];
  } catch {
    state.catalog = [];
  }
  ui.modelSelect.replaceChildren();
  const groups = [
    ['Models to download', state.catalog.filter((m) => !m.local)],
    ['On this server', state.catalog.filter((m) => m.local)],
  ];
  for (const [label, models] of groups) {
    if (!models.length) continue;
    const group = document.createElement('optgroup');
    group.label = label;
    for (const model of models) {
      const size = model.size ? ` · ${model.sizeApprox ? '~' : ''}${formatBytes(model.size)}` : '';
      group.append(new Option(`${model.name ?? fileName(model.url)}${size}`, model.url));
    }
    ui.modelSelect.append(group);
  }
  if (!state.catalog.length) ui.modelSelect.append(new Option('(no catalog: enter a URL)', ''));
  ui.modelUrl.value = ui.modelSelect.value;
}

function progressReporter() {
  const samples = [];
  ui.progressBox.hidden = false;
  ui.progress.value = 0;
  return ({ phase, loaded, total }) => {
    if (phase === 'load') {
      ui.progress.removeAttribute('value');
      ui.progressText.textContent = 'Preparing the model…';
      return;
    }
    const now = performance.now();
    samples.push([now, loaded]);
    while (samples.length > 2 && now - samples[0][0] > 3000) samples.shift();
    const [t0, l0] = samples[0];
    const speed = now - t0 > 200 ? ((loaded - l0) * 1000) / (now - t0) : 0;
    if (total) {
      ui.progress.max = total;
      ui.progress.value = loaded;
    }
    const parts = [`${phase === 'cache' ? 'From this browser' : 'Downloading'}: ${formatBytes(loaded)}` +
      (total ? ` of ${formatBytes(total)}` : '')];
    if (speed > 0) parts.push(`${formatBytes(speed)}/s`);
    if (speed > 0 && total) parts.push(`${formatDuration((total - loaded) / speed)} left`);
    ui.progressText.textContent = parts.join(' · ');
  };
}

function setLoading(loading) {
  ui.load.disabled = loading || !state.LocalLM;
  ui.cancelLoad.hidden = !loading;
  ui.drop.classList.toggle('disabled', loading);
  updateComposer();
}

async function loadModel(source, name) {
  if (!state.LocalLM || state.loading) return;
  state.generating?.abort();
  const previous = state.lm;
  state.lm = null;
  await previous?.unload().catch(() => {});
  showBanner('');
  state.loading = new AbortController();
  setLoading(true);
  ui.modelStatus.textContent = `Loading ${name}…`;
  const started = performance.now();
  let fromCache = false;
  let bytes = 0;
  const report = progressReporter();
  try {
    state.lm = await state.LocalLM.load(source, {
      threads: 'auto', // one per core when the page is cross-origin isolated (npm start serves it so)
      signal: state.loading.signal,
      onProgress: (p) => {
        if (p.phase === 'cache') fromCache = true;
        if (p.phase !== 'load') bytes = p.loaded;
        report(p);
      },
    });
    state.modelName = name;
    // Cloud answers are remembered per model: another model's vectors do not
    // compare. A high threshold: a wrong cached answer is worse than a new
    // request.
    const lm = state.lm;
    state.answers = new state.SemanticCache({ embed: (text) => lm.embed(text), namespace: name, threshold: 0.97 });
    const info = state.lm.info();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    ui.progress.value = ui.progress.max;
    ui.progressText.textContent = source instanceof Blob
      ? `Read ${formatBytes(source.size)} from the file.`
      : `${fromCache ? 'Read from this browser' : 'Downloaded'}: ${formatBytes(bytes)}.`;
    ui.modelStatus.textContent = `${name} is ready: ${info.architecture ?? 'model'}, ` +
      `${formatBytes(info.weight_bytes)} of weights, context ${state.lm.contextSize}, ` +
      `${state.lm.threads} thread${state.lm.threads === 1 ? '' : 's'}, ` +
      `loaded in ${seconds} s${fromCache ? ' from this browser' : ''}.`;
    ui.mode.value = info.chat_template_known ? 'chat' : 'complete';
    ui.maxTokens.max = state.lm.contextSize;
    ui.prompt.placeholder = 'Type here (Enter sends, Shift+Enter for a new line)';
    resetChat();
  } catch (error) {
    ui.modelStatus.textContent = error.code === 'E_ABORTED' ? 'Loading cancelled.' : `Could not load ${name}.`;
    if (error.code !== 'E_ABORTED') showBanner(errorText(error));
    ui.progressBox.hidden = true;
  } finally {
    state.loading = null;
    setLoading(false);
    refreshCache();
  }
}

// Shows the catalog entry of the URL in the box, or none.
function syncModelSelect() {
  const url = ui.modelUrl.value.trim();
  const known = state.catalog.find((m) => m.url === url || new URL(m.url, location.href).href === url);
  if (known) ui.modelSelect.value = known.url;
  else ui.modelSelect.selectedIndex = -1;
}

function loadFromUrl() {
  const url = ui.modelUrl.value.trim();
  if (!url) {
    showBanner('Enter the URL of a .gguf file, or choose a model.');
    return;
  }
  syncModelSelect();
  const known = state.catalog.find((m) => m.url === ui.modelSelect.value);
  loadModel(url, known?.name ?? fileName(url));
}

function loadFile(file) {
  if (!file) return;
  if (!/\.gguf$/i.test(file.name)) {
    showBanner(`${file.name} is not a .gguf file.`);
    return;
  }
  loadModel(file, file.name);
}

// ---- chat -------------------------------------------------------------------------

function addMessage(role, text) {
  ui.messages.querySelector('.empty')?.remove();
  const element = document.createElement('div');
  element.className = `message ${role}`;
  element.textContent = text;
  ui.messages.append(element);
  ui.messages.scrollTop = ui.messages.scrollHeight;
  return element;
}

function resetChat() {
  state.history = [];
  const hint = document.createElement('p');
  hint.className = 'empty';
  hint.textContent = state.lm
    ? (ui.mode.value === 'chat' ? 'Say something.' : 'Type the beginning of a text; the model continues it.')
    : 'Load a model to start.';
  ui.messages.replaceChildren(hint);
  ui.stats.textContent = '\u00a0';
}

function updateComposer() {
  ui.send.disabled = !state.lm || !!state.generating || !!state.loading;
  ui.stop.disabled = !state.generating;
}

function readNumber(input, fallback) {
  const value = Number(input.value);
  return input.value !== '' && Number.isFinite(value) ? value : fallback;
}

function generationOptions(signal) {
  return {
    temperature: readNumber(ui.temperature, 0.7),
    topK: Math.round(readNumber(ui.topK, 40)),
    topP: readNumber(ui.topP, 0.95),
    maxTokens: Math.min(state.lm.contextSize, Math.max(1, Math.round(readNumber(ui.maxTokens, 256)))),
    signal,
  };
}

function showStats(tokens, started, final) {
  const parts = [];
  if (final) {
    parts.push(`${final.genTokens} tokens`, `${final.decodeTokPerSec.toFixed(1)} tok/s`,
      `prompt ${final.promptTokens} tokens at ${final.prefillTokPerSec.toFixed(0)} tok/s`);
  } else {
    const seconds = (performance.now() - started) / 1000;
    parts.push(`${tokens} tokens`, `${seconds > 0 ? (tokens / seconds).toFixed(1) : '0'} tok/s`);
  }
  const memory = state.lm?.stats().wasmMemoryBytes;
  if (memory) parts.push(`memory ${formatBytes(memory)}`);
  ui.stats.textContent = parts.join(' · ');
}

async function send(event) {
  event.preventDefault();
  const text = ui.prompt.value;
  if (!state.lm || state.generating || !text.trim()) return;
  const mode = ui.mode.value;
  state.generating = new AbortController();
  updateComposer();
  showBanner('');
  ui.prompt.value = '';
  addMessage('user', text);
  const reply = addMessage('assistant', '');
  reply.dataset.state = 'generating';
  const options = generationOptions(state.generating.signal);
  const edge = mode === 'chat' && ui.edgeFirst.checked;
  let output = '';
  let tokens = 0;
  let route = null;
  const started = performance.now();
  let lastStats = 0;
  let failure = null;
  try {
    let stream;
    if (mode === 'chat') {
      state.history.push({ role: 'user', content: text });
      const system = ui.system.value.trim();
      const messages = system ? [{ role: 'system', content: system }, ...state.history] : state.history;
      // The router's local attempt is greedy, so the same question takes the same route.
      stream = edge ? edgeRouter().chat(messages, { maxTokens: options.maxTokens, signal: options.signal })
        : state.lm.chat(messages, options);
    } else {
      stream = state.lm.generate(text, options);
    }
    for await (const piece of stream) {
      output += piece.text;
      tokens++;
      reply.textContent = output;
      ui.messages.scrollTop = ui.messages.scrollHeight;
      if (performance.now() - lastStats > 250) {
        lastStats = performance.now();
        showStats(tokens, started);
      }
    }
    if (edge) {
      route = await stream.result;
      showRoute(reply, route);
    }
    reply.dataset.state = 'done';
  } catch (error) {
    failure = error;
    // A context that fills up after some output ends the reply like a stop.
    const soft = error.code === 'E_ABORTED' || (error.code === 'E_CONTEXT_FULL' && output);
    reply.dataset.state = error.code === 'E_ABORTED' ? 'stopped' : soft ? 'full' : 'error';
    if (!soft) addMessage('error', errorText(error));
  } finally {
    if (mode === 'chat') state.history.push({ role: 'assistant', content: output });
    state.generating = null;
    updateComposer();
    // After a cloud answer the model's statistics are those of the local attempt.
    const final = reply.dataset.state === 'done' && route?.route !== 'cloud';
    const stats = final && state.lm ? state.lm.stats() : null;
    if (state.lm) showStats(tokens, started, stats);
    recordUsage({ mode, reply, route, stats, tokens, started, errorCode: failure?.code });
  }
}

// ---- edge-first ---------------------------------------------------------------------

const EDGE_SETTINGS = 'localm.edge'; // localStorage: the cloud settings, API key included
const REASONS = {
  confident: 'confident',
  low_confidence: 'low confidence',
  prompt_over_budget: 'prompt too long for this model',
  local_error: 'the local model failed',
  cache_hit: 'cached answer',
  declined: 'kept local',
};

function loadEdgeSettings() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(EDGE_SETTINGS)) ?? {};
  } catch { /* none yet, or not ours: start empty */ }
  const text = (value) => (typeof value === 'string' ? value : '');
  ui.edgeFirst.checked = saved.on === true;
  ui.cloudUrl.value = text(saved.url);
  ui.cloudModel.value = text(saved.model);
  ui.cloudKey.value = text(saved.key);
  if (Number.isFinite(saved.minConfidence)) ui.minConfidence.value = String(saved.minConfidence);
  ui.remember.checked = saved.remember !== false;
  showPrivacy();
}

// The promise in the header holds only while edge-first is off.
function showPrivacy() {
  ui.tagline.textContent = ui.edgeFirst.checked
    ? 'Small language models, running on this device. Edge-first: you approve each question sent to a cloud, redacted.'
    : 'Small language models, running on this device. Nothing you type leaves it.';
}

function saveEdgeSettings() {
  showPrivacy();
  localStorage.setItem(EDGE_SETTINGS, JSON.stringify({
    on: ui.edgeFirst.checked,
    url: ui.cloudUrl.value.trim(),
    model: ui.cloudModel.value.trim(),
    key: ui.cloudKey.value,
    minConfidence: readNumber(ui.minConfidence, 0.5),
    remember: ui.remember.checked,
  }));
}

// A router for one question, from the settings as they are now.
function edgeRouter() {
  const model = ui.cloudModel.value.trim();
  const key = ui.cloudKey.value.trim();
  return new state.EdgeRouter({
    local: state.lm,
    cloud: {
      url: ui.cloudUrl.value.trim(),
      ...(model && { model }),
      headers: key ? { Authorization: `Bearer ${key}` } : {},
    },
    policy: { minConfidence: Math.min(1, Math.max(0, readNumber(ui.minConfidence, 0.5))) },
    onBeforeSend: confirmEscalation,
    ...(ui.remember.checked && state.answers && { cache: state.answers }),
  });
}

// Shows exactly what would leave the device (the API key travels in a header
// and is not shown) and waits for Send or Keep local; Stop keeps it local.
function confirmEscalation(body, { reason, confidence, redactions, endpoint }) {
  const why = [`Why: ${REASONS[reason] ?? reason}`];
  if (confidence !== null) why.push(`local confidence ${Math.round(confidence * 100)}%`);
  why.push(`to ${endpoint}`, `${redactions} personal value${redactions === 1 ? '' : 's'} replaced`);
  ui.edgePreviewWhy.textContent = why.join(' · ');
  ui.edgePreviewBody.textContent = JSON.stringify(body, null, 2);
  ui.edgePreview.hidden = false;
  ui.edgeSend.focus();
  const { signal } = state.generating;
  return new Promise((resolve) => {
    const answer = (send) => {
      ui.edgePreview.hidden = true;
      ui.edgeSend.onclick = ui.edgeKeep.onclick = null;
      signal.removeEventListener('abort', keep);
      resolve(send);
    };
    const keep = () => answer(false);
    ui.edgeSend.onclick = () => answer(true);
    ui.edgeKeep.onclick = keep;
    signal.addEventListener('abort', keep, { once: true });
  });
}

// Under the answer: where it came from, why, and how sure the local model was.
function showRoute(reply, result) {
  const parts = [result.route === 'cloud' ? 'cloud' : 'on this device', REASONS[result.reason] ?? result.reason];
  if (result.confidence !== null) parts.push(`local confidence ${Math.round(result.confidence * 100)}%`);
  if (result.redactions) parts.push(`${result.redactions} redacted`);
  if (result.fallback) parts.push(`cloud failed: ${result.cloudError.message}`);
  const badge = document.createElement('p');
  badge.className = 'route';
  badge.dataset.route = result.route;
  badge.dataset.reason = result.reason;
  badge.textContent = parts.join(' · ');
  reply.after(badge);
}

// ---- usage statistics -----------------------------------------------------------

const USAGE_SETTINGS = 'localm.usage'; // localStorage: { endpoint, consent }

// The recorder for the settings as they are now; the events themselves stay in
// localStorage across changes.
function setUpUsage() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(USAGE_SETTINGS)) ?? {};
  } catch { /* none yet */ }
  ui.usageEndpoint.value = typeof saved.endpoint === 'string' ? saved.endpoint : '';
  ui.usageConsent.checked = saved.consent === true;
  applyUsageSettings();
}

function applyUsageSettings() {
  const endpoint = ui.usageEndpoint.value.trim();
  const valid = /^https?:\/\//.test(endpoint);
  localStorage.setItem(USAGE_SETTINGS, JSON.stringify({ endpoint, consent: ui.usageConsent.checked }));
  state.telemetry = new state.Telemetry({ storage: localStorage, consent: ui.usageConsent.checked,
    ...(valid && { endpoint }) });
  ui.usageStatus.textContent = endpoint && !valid ? 'The endpoint must be an http(s) URL.' : '\u00a0';
}

// One event per answer: numbers and short identifiers only (Telemetry drops
// anything else), sent at once when the user agreed.
function recordUsage({ mode, reply, route, stats, tokens, started, errorCode }) {
  if (!state.telemetry) return;
  const seconds = (performance.now() - started) / 1000;
  state.telemetry.record({
    name: mode,
    route: route?.reason === 'cache_hit' ? 'cache' : route?.route ?? 'local',
    reason: route?.reason ?? reply.dataset.state,
    errorCode,
    model: state.modelName,
    latencyMs: Math.round(seconds * 1000),
    tokensPerSecond: stats ? stats.decodeTokPerSec : seconds > 0 ? tokens / seconds : 0,
    promptTokens: stats?.promptTokens,
    outputTokens: tokens,
    meanLogprob: stats?.confidence.meanLogprob,
    memoryBytes: state.lm?.stats().wasmMemoryBytes,
    contextSize: state.lm?.contextSize,
    threads: state.lm?.threads,
  });
  if (state.telemetry.consent) sendUsage();
  if (!ui.usageEvents.hidden) viewUsage();
}

function viewUsage() {
  const events = state.telemetry?.view() ?? [];
  ui.usageEvents.textContent = events.length ? JSON.stringify(events, null, 2) : '(nothing recorded)';
  ui.usageEvents.hidden = false;
}

async function sendUsage() {
  const outcome = await state.telemetry.flush();
  const why = { 'no-consent': 'not sent: tick the box first', 'no-endpoint': 'not sent: no endpoint',
    empty: 'nothing to send', network: `not sent: ${outcome.error}`, http: `not sent: HTTP ${outcome.status}` };
  ui.usageStatus.textContent = outcome.sent ? `Sent ${outcome.sent} event${outcome.sent === 1 ? '' : 's'}.` : why[outcome.reason];
  if (!ui.usageEvents.hidden) viewUsage();
}

function eraseUsage() {
  state.telemetry?.erase();
  ui.usageStatus.textContent = 'Erased.';
  if (!ui.usageEvents.hidden) viewUsage();
}

// ---- cached models and storage ------------------------------------------------

async function refreshCache() {
  if (!state.cache) return;
  try {
    const [entries, usage] = await Promise.all([state.cache.list(), state.cache.usage()]);
    entries.sort((a, b) => b.lastUsed - a.lastUsed);
    ui.cacheList.replaceChildren(...entries.map(cacheRow));
    if (!entries.length) {
      const empty = document.createElement('li');
      empty.className = 'meta';
      empty.textContent = 'None yet: downloaded models are kept here for offline use.';
      ui.cacheList.append(empty);
    }
    const quota = usage.quota ? ` of ${formatBytes(usage.quota)} available to this site` : '';
    const persisted = await navigator.storage?.persisted?.();
    ui.storage.textContent = `Models: ${formatBytes(usage.models)}. Site storage used: ` +
      `${formatBytes(usage.usage ?? 0)}${quota}.${persisted ? ' Storage is persistent.' : ''}`;
    ui.persist.disabled = !navigator.storage?.persist || persisted;
  } catch (error) {
    ui.storage.textContent = `Storage unavailable: ${error.message}`;
  }
}

function cacheRow(entry) {
  const item = document.createElement('li');
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = fileName(entry.url);
  name.title = entry.url;
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = entry.complete
    ? `${formatBytes(entry.size)} · used ${formatAgo(entry.lastUsed)}`
    : `partial: ${formatBytes(entry.storedBytes)} of ${formatBytes(entry.size)} (resumes on next load)`;
  const actions = document.createElement('span');
  actions.className = 'actions';
  const load = document.createElement('button');
  load.type = 'button';
  load.textContent = entry.complete ? 'Load' : 'Resume';
  load.addEventListener('click', () => {
    ui.modelUrl.value = entry.url;
    loadFromUrl();
  });
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.textContent = 'Delete';
  remove.setAttribute('aria-label', `Delete ${fileName(entry.url)}`);
  remove.addEventListener('click', async () => {
    remove.disabled = true;
    await state.cache.delete(entry.url);
    refreshCache();
  });
  actions.append(load, remove);
  item.append(name, actions, meta);
  return item;
}

// A returning visitor starts from the model used last (already downloaded)
// instead of the catalog's default.
async function preselectRecentModel() {
  const entries = (await state.cache?.list().catch(() => [])) ?? [];
  const recent = entries.filter((e) => e.complete).sort((a, b) => b.lastUsed - a.lastUsed)[0];
  if (!recent) return;
  ui.modelUrl.value = recent.url;
  syncModelSelect();
}

async function persistStorage() {
  const granted = await navigator.storage.persist();
  if (!granted) showBanner('The browser declined to make storage persistent (it may still keep it).');
  refreshCache();
}

async function clearCache() {
  if (!state.cache || !confirm('Delete every downloaded model from this browser?')) return;
  await state.cache.clear();
  refreshCache();
}

// ---- wiring -----------------------------------------------------------------------

function wireDrop() {
  const target = ui.drop;
  for (const type of ['dragenter', 'dragover']) {
    target.addEventListener(type, (e) => { e.preventDefault(); target.classList.add('over'); });
  }
  for (const type of ['dragleave', 'drop']) {
    target.addEventListener(type, () => target.classList.remove('over'));
  }
  target.addEventListener('drop', (e) => {
    e.preventDefault();
    loadFile(e.dataTransfer?.files?.[0]);
  });
  ui.file.addEventListener('change', () => {
    loadFile(ui.file.files[0]);
    ui.file.value = '';
  });
}

function wire() {
  ui.modelSelect.addEventListener('change', () => { ui.modelUrl.value = ui.modelSelect.value; });
  ui.load.addEventListener('click', loadFromUrl);
  ui.modelUrl.addEventListener('keydown', (e) => { if (e.key === 'Enter') loadFromUrl(); });
  ui.modelUrl.addEventListener('input', syncModelSelect);
  ui.cancelLoad.addEventListener('click', () => state.loading?.abort());
  ui.composer.addEventListener('submit', send);
  ui.prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) send(e);
  });
  ui.stop.addEventListener('click', () => state.generating?.abort());
  ui.newChat.addEventListener('click', () => { state.generating?.abort(); resetChat(); });
  ui.mode.addEventListener('change', resetChat);
  ui.persist.addEventListener('click', persistStorage);
  ui.clearCache.addEventListener('click', clearCache);
  for (const input of [ui.usageEndpoint, ui.usageConsent]) input.addEventListener('input', applyUsageSettings);
  ui.usageView.addEventListener('click', viewUsage);
  ui.usageSend.addEventListener('click', sendUsage);
  ui.usageErase.addEventListener('click', eraseUsage);
  for (const input of [ui.edgeFirst, ui.cloudUrl, ui.cloudModel, ui.cloudKey, ui.minConfidence, ui.remember]) {
    input.addEventListener('input', saveEdgeSettings);
  }
  wireDrop();
}

function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.register('sw.js').catch((error) => {
    console.warn(`localm: no offline support (${error.message})`);
  });
}

async function main() {
  loadEdgeSettings();
  wire();
  resetChat();
  registerServiceWorker();
  await Promise.all([importModule(), loadCatalog()]);
  if (state.Telemetry) setUpUsage();
  setLoading(false);
  await refreshCache();
  await preselectRecentModel();
  document.body.dataset.ready = 'true';
}

main();
