/**
 * A webhook receiver on loopback for the delivery tests: records every POST it answers
 * (and every one it refuses), checks the signature, and can fail on purpose or go down
 * and come back on the same port.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature } from '../../runtime/application/webhook.ts';
import type { ApplicationEvent } from '../../runtime/application/events.ts';

export interface Received {
  event: ApplicationEvent;
  signed: boolean;
  /** The answer we gave: 2xx delivered it, anything else asked for a retry. */
  status: number;
}

export interface ReceiverOptions {
  secret?: string;
  /** The status to answer the n-th request (1-based); default 200. */
  answer?: (n: number, event: ApplicationEvent) => number;
  port?: number;
}

export class WebhookReceiver {
  readonly requests: Received[] = [];
  readonly #options: ReceiverOptions;
  #server: Server | null = null;
  #port = 0;

  constructor(options: ReceiverOptions = {}) {
    this.#options = options;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hook`;
  }

  /** Events we answered 2xx, in arrival order (duplicates included). */
  get delivered(): ApplicationEvent[] {
    return this.requests.filter((r) => r.status < 300).map((r) => r.event);
  }

  /** Listens (again, on the same port after `stop`). */
  async start(): Promise<this> {
    const server = createServer((request, response) => {
      void this.#handle(request).then(
        (status) => {
          response.writeHead(status).end();
        },
        () => response.writeHead(400).end(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port || this.#options.port || 0, '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    return this;
  }

  /** Refuses connections from now on (until `start`). */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Reserves a port now, then stops: a receiver that is down from the start. */
  async reserve(): Promise<this> {
    await this.start();
    await this.stop();
    return this;
  }

  async #handle(request: IncomingMessage): Promise<number> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString();
    const event = JSON.parse(body) as ApplicationEvent;
    const signature = request.headers['x-keepalive-signature'];
    const secret = this.#options.secret;
    const signed = typeof signature === 'string' && secret !== undefined && (await verifySignature(body, signature, secret));
    if (secret !== undefined && !signed) {
      this.requests.push({ event, signed, status: 401 });
      return 401;
    }
    const status = this.#options.answer?.(this.requests.length + 1, event) ?? 200;
    this.requests.push({ event, signed, status });
    return status;
  }
}
