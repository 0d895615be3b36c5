// Type declarations for localm (web/src/localm.js).

/** Error.code values the API rejects with. */
export type LocalLMErrorCode =
  | 'E_FORMAT' | 'E_UNSUPPORTED' | 'E_NETWORK' | 'E_MEMORY' | 'E_ABORTED'
  | 'E_CONTEXT_FULL' | 'E_OPTION' | 'E_TEMPLATE' | 'E_QUOTA' | 'E_INTEGRITY'
  | 'E_ARGUMENT' | 'E_STATE' | 'E_IO' | 'E_INTERNAL';

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
   * build; elsewhere, and in Node, the model runs on one thread.
   */
  threads?: number;
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
  detokenize(ids: ArrayLike<number>): Promise<string>;
  /** GGUF metadata, hyper-parameters and tensor summary. */
  info(): Record<string, unknown>;
  /** Statistics of the last generation. */
  stats(): GenerationStats;
  unload(): Promise<void>;
}

/** On-device PII redaction: placeholders like [EMAIL_1] replace personal data. */
export type PiiType = 'EMAIL' | 'IBAN' | 'CARD' | 'SSN' | 'IP' | 'DOB' | 'PHONE' | 'ADDRESS' | 'NAME';
export interface PiiEntity { type: PiiType; placeholder: string; value: string; start: number; end: number; }
export function redact(text: string, options?: {
  types?: PiiType[];
  nameDetector?: (text: string) => { start: number; end: number }[];
}): { text: string; entities: PiiEntity[] };
export function restore(text: string, entities: PiiEntity[]): string;

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

export default LocalLM;
