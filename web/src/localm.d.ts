// Type declarations for localm (web/src/localm.js).

/** Error.code values the API rejects with. */
export type LocalLMErrorCode =
  | 'E_FORMAT' | 'E_UNSUPPORTED' | 'E_NETWORK' | 'E_MEMORY' | 'E_ABORTED'
  | 'E_CONTEXT_FULL' | 'E_OPTION' | 'E_TEMPLATE' | 'E_QUOTA' | 'E_INTEGRITY'
  | 'E_ARGUMENT' | 'E_STATE' | 'E_IO' | 'E_INTERNAL'
  /** EdgeRouter: the cloud failed and no local answer could stand in. */
  | 'E_CLOUD';

export interface LocalLMError extends Error {
  code: LocalLMErrorCode;
}

export interface LoadProgress {
  phase: 'download' | 'cache' | 'load';
  loaded: number;
  /** Bytes expected so far (split models: grows as parts are reached). */
  total: number;
  /** Index of the part being read (split models). */
  part?: number;
}

/**
 * A URL (string or URL), several URLs (the parts of a split GGUF, in order),
 * a Blob/File, an ArrayBuffer or typed array (transferred to the worker:
 * detached afterwards), or in Node a file path.
 */
export type ModelSource =
  | string | URL | Blob | ArrayBuffer | ArrayBufferView
  | Array<string | URL> | Blob[] | ArrayBuffer[];

export interface LoadOptions {
  /** Context size in tokens (0 or absent: the model's, capped at 4096). */
  contextSize?: number;
  /**
   * Threads for the matrix products (default 1). More than one needs a
   * cross-origin isolated page (COOP/COEP headers) and runs the threaded
   * build; elsewhere, and in Node, the model runs on one thread. 'auto': one
   * per core (navigator.hardwareConcurrency) where threads are possible.
   */
  threads?: number | 'auto';
  /** Refuse (E_MEMORY) a model whose weights + KV cache + scratch exceed this many bytes (0: only the 4 GiB of wasm32). */
  memoryBudget?: number;
  /** Expected SHA-256 (hex) of a URL source, one per part: a mismatch is E_INTEGRITY. */
  sha256?: string | string[];
  /** Keep downloaded weights in IndexedDB (browsers; default true). */
  cache?: boolean;
  onProgress?: (progress: LoadProgress) => void;
  signal?: AbortSignal;
}

/** Supported schema keywords: type (one or a list), properties, required, additionalProperties (false), items,
 * minItems, maxItems, minLength, maxLength, minimum, maximum, enum, const; others are E_OPTION. */
export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; schema: object }
  | { type: 'json_schema'; json_schema: { name?: string; description?: string; strict?: boolean; schema: object } };

export interface GenerateOptions {
  maxTokens?: number;
  /** <= 0: greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  repeatLastN?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  seed?: number;
  /** Generation ends before any of these strings. */
  stop?: string | string[];
  ignoreEos?: boolean;
  /** Default: the model's own setting. */
  addBos?: boolean;
  /** Constrains sampling so the text is compact JSON: any object, or a value matching a schema
   * (OpenAI's { type: 'json_schema', json_schema: { name, schema } } is accepted too). */
  responseFormat?: ResponseFormat;
  /** Stops the generation within one token; the model stays usable. */
  signal?: AbortSignal;
}

export interface Piece {
  /** Never splits a UTF-8 character. */
  text: string;
  token: number;
  /** Log-probability of the token under the model. */
  logprob: number;
  /** Entropy (nats) of the model's distribution at this step: high means unsure. */
  entropy: number;
}

export interface GenerationStats {
  promptTokens: number;
  promptMs: number;
  genTokens: number;
  genMs: number;
  prefillTokPerSec: number;
  decodeTokPerSec: number;
  /** Why the last generation ended; 'context_full' keeps the text produced so far. */
  finishReason: 'length' | 'eos' | 'stop' | 'aborted' | 'context_full';
  /** Over the generated tokens; lowConfidenceShare counts tokens with probability < 0.5. */
  confidence: { meanLogprob: number; minLogprob: number; lowConfidenceShare: number; perplexity: number };
  wasmMemoryBytes: number;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

export interface CachedModel {
  url: string;
  size: number;
  sha256?: string;
  complete: boolean;
  storedAt: number;
  lastUsed: number;
}

export interface ModelCache {
  list(): Promise<CachedModel[]>;
  delete(url: string): Promise<void>;
  clear(): Promise<void>;
  usage(): Promise<{ usage: number; quota: number; models: number }>;
}

export declare const modelCache: ModelCache;

export declare class LocalLM {
  static cache: ModelCache;
  static load(source: ModelSource, options?: LoadOptions): Promise<LocalLM>;

  /** The context size the model was loaded with. */
  readonly contextSize: number;
  /** The threads actually in use (see LoadOptions.threads). */
  readonly threads: number;

  generate(prompt: string, options?: GenerateOptions): AsyncGenerator<Piece, void, undefined>;
  complete(prompt: string, options?: GenerateOptions): Promise<{ text: string; stats: GenerationStats }>;
  /** Formats the messages with the model's chat template and generates the reply. */
  chat(messages: ChatMessage[], options?: GenerateOptions): AsyncGenerator<Piece, void, undefined>;
  /** addBos defaults to the model's setting; special parses "<|im_start|>"-like text as special tokens. */
  tokenize(text: string, options?: { addBos?: boolean; special?: boolean }): Promise<number[]>;
  /** The prompt chat() generates from (the model's chat template applied); tokenize it with special: true. */
  formatChat(messages: ChatMessage[]): Promise<string>;
  detokenize(ids: ArrayLike<number>): Promise<string>;
  /**
   * Mean-pooled final hidden states (after the output norm), L2-normalised, so
   * the cosine of two texts is their dot product. Rejects with E_CONTEXT_FULL
   * when a text has more tokens than the context. Resets the context.
   */
  embed(text: string): Promise<Float32Array>;
  embed(texts: string[]): Promise<Float32Array[]>;
  /** GGUF metadata, hyper-parameters and tensor summary. */
  info(): Record<string, unknown>;
  /** Statistics of the last generation. */
  stats(): GenerationStats;
  unload(): Promise<void>;
}

/** On-device PII redaction: placeholders like [EMAIL_1] replace personal data. */
export type PiiType = 'EMAIL' | 'IBAN' | 'CARD' | 'SSN' | 'IP' | 'DOB' | 'PHONE' | 'ADDRESS' | 'NAME';
export interface PiiEntity { type: PiiType; placeholder: string; value: string; start: number; end: number; }
export interface RedactOptions {
  types?: PiiType[];
  nameDetector?: (text: string) => { start: number; end: number }[];
}
export function redact(text: string, options?: RedactOptions): { text: string; entities: PiiEntity[] };
/** Several texts (a conversation) with one numbering: a value keeps one placeholder in all of them. */
export function redactAll(texts: string[], options?: RedactOptions): {
  texts: string[];
  entities: (PiiEntity & { /** index of the text the offsets are in */ text: number })[];
};
export function restore(text: string, entities: PiiEntity[]): string;
/** Spans of the people the model names in text (only names the text contains, capitalised). */
export function findNamesWithModel(lm: Pick<LocalLM, 'chat'>, text: string,
  options?: { signal?: AbortSignal; maxTokens?: number }): Promise<{ start: number; end: number }[]>;

/** Local-only telemetry: nothing is sent without consent === true and an endpoint. */
export interface TelemetryEvent {
  name?: string; route?: 'local' | 'cloud' | 'cache'; reason?: string; errorCode?: string; model?: string;
  backend?: string; latencyMs?: number; firstTokenMs?: number; tokensPerSecond?: number; promptTokens?: number;
  outputTokens?: number; memoryBytes?: number; contextSize?: number; threads?: number; meanLogprob?: number;
  minLogprob?: number; at?: number;
}
export class Telemetry {
  constructor(options?: {
    consent?: boolean; endpoint?: string; fetch?: typeof fetch; maxEvents?: number;
    storage?: { getItem(k: string): string | null; setItem(k: string, v: string): void; removeItem(k: string): void };
  });
  readonly consent: boolean;
  setConsent(consent: boolean): void;
  record(event: Record<string, unknown>): TelemetryEvent;
  view(): TelemetryEvent[];
  erase(): void;
  flush(): Promise<{ sent: number; reason?: 'no-consent' | 'no-endpoint' | 'empty' | 'network' | 'http'; status?: number; error?: string }>;
}

/** A local answer cache keyed by embedding similarity (IndexedDB in browsers). */
export interface SemanticCacheHit {
  answer: string;
  /** Cosine similarity of the query to the stored one, in [-1, 1]. */
  similarity: number;
  /** The stored query that matched. */
  query: string;
  /** When the entry was stored (ms since the epoch). */
  storedAt: number;
  meta: Record<string, unknown>;
}
export class SemanticCache {
  constructor(options: {
    embed: (text: string) => Promise<Float32Array>;
    /** Keeps the entries of different models apart (e.g. the model name or sha256). */
    namespace: string;
    /** Lowest cosine similarity that counts as a hit (default 0.95). */
    threshold?: number;
    /** Oldest entries are evicted past this many (default 500). */
    maxEntries?: number;
    /** Default 'indexeddb' where indexedDB exists, else 'memory'. */
    storage?: 'indexeddb' | 'memory';
  });
  /** The most similar stored entry at or above the threshold, or null. */
  lookup(query: string): Promise<SemanticCacheHit | null>;
  store(query: string, answer: string, meta?: Record<string, unknown>): Promise<void>;
  clear(): Promise<void>;
  size(): Promise<number>;
}

/** Local first, escalating to an OpenAI-compatible endpoint (see README "Edge-first"). */
export interface EdgeRouterPolicy {
  /** Escalate when exp(meanLogprob) of the local answer (geometric-mean token probability) is below this. Default 0.5. */
  minConfidence?: number;
  /** Escalate when more than this share of the local tokens had probability < 0.5. Default 1 (never). */
  maxLowConfidenceShare?: number;
  /** Prompt tokens (chat template applied) above this go to the cloud without a local attempt. Default: half the local context. */
  maxLocalPromptTokens?: number;
  /** maxTokens of the local attempt. Default 256. */
  maxLocalTokens?: number;
  /** Longest wait for the cloud's response and between two of its chunks. Default 30000. */
  timeoutMs?: number;
}

export interface SemanticCache {
  lookup(query: string): Promise<{ answer: string; similarity: number } | null>;
  store(query: string, answer: string): Promise<void>;
}

/** The JSON body of POST {url}/v1/chat/completions, exactly as it will be sent. */
export interface CloudRequest {
  model?: string;
  messages: { role: string; content: string }[];
  stream: true;
  max_tokens?: number; temperature?: number; top_p?: number; seed?: number; stop?: string | string[];
}

export interface EdgeRouterOptions {
  /** A loaded LocalLM (or an object with the same chat, stats, tokenize, formatChat). */
  local: Pick<LocalLM, 'chat' | 'stats' | 'tokenize' | 'formatChat'> & { contextSize?: number };
  /** url: a base URL with or without /v1; headers: e.g. { Authorization: 'Bearer …' }. */
  cloud: { url: string; model?: string; headers?: Record<string, string> };
  policy?: EdgeRouterPolicy;
  /** Replace personal data by placeholders before sending; restore them in the reply. Default true. */
  redact?: boolean;
  /**
   * With redact: also ask the local model (JSON output under a schema) for the people named in
   * each user and system message, and redact those names too. Default false (the rules alone).
   */
  modelNames?: boolean;
  /** Consulted before escalating; cloud answers are stored in it. */
  cache?: SemanticCache;
  /** Sees the body before it is sent (and why); false keeps the local answer (reason 'declined'). */
  onBeforeSend?: (request: CloudRequest, context: {
    reason: RouteReason; confidence: number | null; redactions: number; endpoint: string;
  }) => boolean | Promise<boolean>;
}

export type RouteReason =
  | 'confident' | 'low_confidence' | 'prompt_over_budget' | 'local_error' | 'cache_hit' | 'declined';

export interface RoutedPiece extends Partial<Piece> {
  text: string;
  route: 'local' | 'cloud';
}

export interface RouteResult {
  route: 'local' | 'cloud';
  /** Why: 'confident', or why the local answer was not enough ('cache_hit' and 'declined' end local). */
  reason: RouteReason;
  /** The cloud failed (cloudError) and the local answer stands in. */
  fallback: boolean;
  /** exp(meanLogprob) of the local answer; null when the local model did not answer. */
  confidence: number | null;
  /** Prompt tokens with the chat template applied; null when the local model could not format it. */
  promptTokens: number | null;
  /** Distinct personal values replaced by placeholders in the cloud request. */
  redactions: number;
  /** The whole answer, as yielded (placeholders restored). */
  text: string;
  /** cache_hit: the similarity the cache reported (null when it gave none). */
  similarity?: number | null;
  cloudError?: { code: 'E_CLOUD'; message: string; status?: number };
  localError?: { code: string; message: string };
}

export type RouterChatOptions = Pick<GenerateOptions,
  'maxTokens' | 'temperature' | 'topK' | 'topP' | 'minP' | 'repeatPenalty' | 'seed' | 'stop' | 'signal'>;

export type RoutedStream = AsyncGenerator<RoutedPiece, void, undefined> & {
  /** Resolves when the answer is complete; rejects as the iteration does (E_ABORTED if it was left early). */
  result: Promise<RouteResult>;
};

export declare class EdgeRouter {
  constructor(options: EdgeRouterOptions);
  /** The policy in force, defaults filled in. */
  readonly policy: Required<EdgeRouterPolicy>;
  /** Where escalations go: …/v1/chat/completions. */
  readonly endpoint: string;
  /**
   * Streams the answer like LocalLM.chat. A local answer is judged before any of it is yielded;
   * cloud answers stream. Options: the local attempt's sampling (greedy by default); maxTokens,
   * temperature, topP, seed and stop also go to the cloud.
   */
  chat(messages: ChatMessage[], options?: RouterChatOptions): RoutedStream;
}

export default LocalLM;
