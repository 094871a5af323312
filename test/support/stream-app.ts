/**
 * The server side of the delivery tests' stream, written once for any hub: it sends
 * numbered messages (`s0`, `s1`, ...: `prefix` then a count from 0) to the first connection
 * it has, `rate` a second, and records every application message that arrives, with its
 * sequence number (and tells `heard`, so a server process can print it as it happens: what a
 * process killed with SIGKILL handed to `onMessage` is then known). Served as
 * routes on the hub's own app, so a test drives a server in another process (Deno, wrangler
 * dev) over HTTP as it drives one in its own:
 *
 *   POST /stream/start?rate=N   start sending
 *   POST /stream/stop           stop; answers how many were sent (every one accepted)
 *   GET  /stream/sent           how many were sent so far
 *   GET  /stream/received       what arrived, in order: { data: string[], seqs: number[] }
 */
import type { Hono } from 'hono';
import type { AppData, Hub, MessageInfo } from '../../runtime/application/index.ts';

export class StreamApp {
  readonly received: string[] = [];
  readonly seqs: number[] = [];
  sent = 0;
  refused = 0;
  readonly #prefix: string;
  readonly #heard: ((data: string, seq: number | undefined) => void) | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: { prefix?: string; heard?: (data: string, seq: number | undefined) => void } = {}) {
    this.#prefix = options.prefix ?? 's';
    this.#heard = options.heard;
  }

  /** The hub's `onMessage`. */
  readonly onMessage = (_conn: unknown, data: AppData, _hub: unknown, message: MessageInfo): void => {
    const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
    this.received.push(text);
    if (message.seq !== undefined) this.seqs.push(message.seq);
    this.#heard?.(text, message.seq);
  };

  start(hub: Pick<Hub, 'connections'>, rate: number): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => {
      const conn = hub.connections()[0];
      if (!conn) return;
      if (conn.send(`${this.#prefix}${this.sent}`)) this.sent++;
      else this.refused++;
    }, 1000 / rate);
  }

  stop(): number {
    clearInterval(this.#timer);
    return this.sent;
  }

  routes(app: Hono, hub: () => Pick<Hub, 'connections'>): void {
    app.post('/stream/start', (c) => {
      this.start(hub(), Number(c.req.query('rate') ?? '500'));
      return c.json({ ok: true });
    });
    app.post('/stream/stop', (c) => c.json({ sent: this.stop(), refused: this.refused }));
    app.get('/stream/sent', (c) => c.json({ sent: this.sent, refused: this.refused }));
    app.get('/stream/received', (c) => c.json({ data: this.received, seqs: this.seqs }));
  }
}

/** The stream's server side, driven over HTTP (`base`: the server's http://host:port). */
export function remoteStream(base: string) {
  return {
    async start(rate: number) {
      await fetch(`${base}/stream/start?rate=${rate}`, { method: 'POST' });
    },
    async stop() {
      const { sent } = (await (await fetch(`${base}/stream/stop`, { method: 'POST' })).json()) as { sent: number };
      return sent;
    },
    async received() {
      return ((await (await fetch(`${base}/stream/received`)).json()) as { data: string[] }).data;
    },
  };
}
