/**
 * Many live peers at little cost: raw WebSockets that send ADVERTISE and answer every PING
 * (as figure 9's client processes do), named by `?peer=`. A close the test did not ask for
 * is counted: a server gave up on a live peer, or died.
 */
import WebSocket from 'ws';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';

export class AnsweringPeers {
  readonly #sockets = new Map<string, WebSocket>();
  /** Peers whose socket closed without `close` asking. */
  readonly dropped: string[] = [];

  /** Opens one peer per name on `url` (a process's ws:// URL), a few handshakes at a time. */
  async open(url: string, names: readonly string[]): Promise<void> {
    const queue = [...names];
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let name = queue.shift(); name !== undefined; name = queue.shift()) await this.#one(url, name);
      }),
    );
  }

  get size(): number {
    return this.#sockets.size;
  }

  names(): string[] {
    return [...this.#sockets.keys()];
  }

  /** Closes these peers for good (1000): each is a close, not a death, on its server. */
  close(names: readonly string[]): void {
    for (const name of names) {
      const ws = this.#sockets.get(name);
      this.#sockets.delete(name);
      ws?.close(1000);
    }
  }

  closeAll(): void {
    this.close(this.names());
  }

  #one(url: string, name: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url}${url.includes('?') ? '&' : '?'}peer=${encodeURIComponent(name)}`, { perMessageDeflate: false });
      ws.once('open', () => {
        this.#sockets.set(name, ws);
        ws.send(TEXT_FRAMES.ADVERTISE);
        resolve();
      });
      ws.on('message', (data) => {
        if (data.toString() === TEXT_FRAMES.PING) ws.send(TEXT_FRAMES.PONG);
      });
      ws.on('error', (error) => (this.#sockets.has(name) ? undefined : reject(error)));
      ws.once('close', () => {
        if (this.#sockets.get(name) === ws) {
          this.#sockets.delete(name);
          this.dropped.push(name);
        }
      });
    });
  }
}
