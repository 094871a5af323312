/**
 * Webhooks as GitHub and Stripe send them: a JSON body, signed with HMAC-SHA256 of the raw
 * body (`x-keepalive-signature: sha256=<hex>`), one stable `id` per event that stays the
 * same on every retry, so a receiver de-duplicates by id. Web Crypto and `fetch` only, so
 * every runtime shares this.
 */
import { DEFAULTS } from '../protocol/index.ts';
import type { ApplicationEvent } from './events.ts';

export const SIGNATURE_HEADER = 'x-keepalive-signature';
export const EVENT_ID_HEADER = 'x-keepalive-event';

export interface WebhookOptions {
  /** Where each event is POSTed. */
  url: string;
  /** Signs every body; without one the requests are unsigned (the server logs a warning). */
  secret?: string;
  /** Backoff between failed tries, ms: doubling from `min` to `max`, each jittered down to half. Default 1000 and 60000. */
  retry?: { min?: number; max?: number };
  /** ms before a request counts as failed. Default 10000. */
  timeout?: number;
}

export type WebhookResult = { ok: true; status: number } | { ok: false; error: string };

/** KEEPALIVE_WEBHOOK_RETRY_MS: the first delay; later ones double up to 60 times it (the default 1 s gives 60 s). */
export function retryDelays(first: number): { min: number; max: number } {
  return { min: first, max: first * 60 };
}

/** `sha256=` and the hex HMAC-SHA256 of `body` with `secret`. */
export async function signBody(body: string, secret: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body));
  return `sha256=${Array.from(new Uint8Array(mac), (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

/** For receivers: whether `signature` is the one `secret` gives `body` (compared in constant time). */
export async function verifySignature(body: string, signature: string, secret: string): Promise<boolean> {
  const expected = await signBody(body, secret);
  if (expected.length !== signature.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ signature.charCodeAt(i);
  return diff === 0;
}

export class WebhookSender {
  readonly url: string;
  readonly #secret: string | undefined;
  readonly #min: number;
  readonly #max: number;
  readonly #timeout: number;

  constructor(options: WebhookOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new TypeError(`webhook URL "${options.url}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`webhook URL must be http(s), got ${options.url}`);
    this.url = url.toString();
    this.#secret = options.secret || undefined;
    const defaults = retryDelays(DEFAULTS.webhookRetryMs);
    this.#min = options.retry?.min ?? defaults.min;
    this.#max = Math.max(this.#min, options.retry?.max ?? defaults.max);
    this.#timeout = options.timeout ?? 10_000;
  }

  get signed(): boolean {
    return this.#secret !== undefined;
  }

  /** One try. Any 2xx is delivered; anything else (or no answer in time) is retried. */
  async send(event: ApplicationEvent): Promise<WebhookResult> {
    const body = JSON.stringify(webhookBody(event));
    const headers: Record<string, string> = { 'content-type': 'application/json', [EVENT_ID_HEADER]: event.id };
    if (this.#secret !== undefined) headers[SIGNATURE_HEADER] = await signBody(body, this.#secret);
    // A timer cleared as soon as the try ends, not AbortSignal.timeout: a timer left pending
    // keeps a Durable Object from hibernating (and an eviction waiting) for its whole length.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`no answer within ${this.#timeout} ms`)), this.#timeout);
    try {
      const response = await fetch(this.url, { method: 'POST', headers, body, signal: abort.signal });
      // Read (and drop) the body so the connection can be reused.
      await response.arrayBuffer().catch(() => undefined);
      return response.ok ? { ok: true, status: response.status } : { ok: false, error: `answered ${response.status}` };
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** ms to wait before try `attempts + 1`, after `attempts` failures. */
  backoff(attempts: number): number {
    const ceiling = Math.min(this.#max, this.#min * 2 ** Math.min(attempts - 1, 30));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }
}

/**
 * What a receiver is sent of an event: all of it, but for delivery mode's unacknowledged
 * messages only their count and sequence range (the hooks get the messages themselves).
 */
export function webhookBody(event: ApplicationEvent): ApplicationEvent | (Omit<ApplicationEvent, 'undelivered'> & { undelivered: { count: number; first: number; last: number } }) {
  if (event.type === 'open' || event.undelivered === undefined) return event;
  const { count, first, last } = event.undelivered;
  return { ...event, undelivered: { count, first, last } };
}
