/**
 * What a step emitted, carried out: frames out through the `Transport`, and a verdict or a
 * close reported to the listeners (with its cause, and the text derived from it) and the
 * socket closed. The machine only says what;
 * this is the one place that touches the transport.
 */
import type { KeepaliveEmitted, KeepaliveMessage } from '../../actors/keepalive.ts';
import { endText, type EndCause } from '../protocol/index.ts';
import type { Connection } from './connection.ts';
import type { HostListeners } from './listeners.ts';
import type { Transport } from './types.ts';

export class Effects {
  readonly #transport: Transport;
  readonly #listeners: HostListeners;

  constructor(transport: Transport, listeners: HostListeners) {
    this.#transport = transport;
    this.#listeners = listeners;
  }

  /** One emitted effect of a step taken at `stepAt`. */
  carryOut(conn: Connection, effect: KeepaliveEmitted, stepAt: number): void {
    switch (effect.type) {
      case 'send':
        this.send(conn, effect.message, stepAt);
        return;
      case 'dead': {
        const cause: EndCause = { cause: 'dead', silentFor: effect.silentFor, unanswered: effect.unanswered };
        this.#listeners.emit({ type: 'dead', id: conn.id, at: effect.at, silentFor: effect.silentFor, unanswered: effect.unanswered, cause, reason: endText(cause), meta: conn.meta });
        this.closeTransport(conn, cause);
        return;
      }
      case 'closed':
        this.#listeners.emit({ type: 'closed', id: conn.id, at: effect.at, cause: effect.cause, reason: endText(effect.cause), meta: conn.meta });
        if (!conn.peerGone) this.closeTransport(conn, effect.cause);
        return;
    }
  }

  /** A keepalive message out; a transport that throws has lost the socket, which is closed. */
  send(conn: Connection, message: KeepaliveMessage, at: number): void {
    try {
      this.#transport.send(conn.id, conn.codec.encode(message));
    } catch (error) {
      this.closeTransport(conn, { cause: 'send-failed', error: String(error) });
      return;
    }
    if (this.#listeners.wantFrames) this.#listeners.emitFrame({ type: 'sent', id: conn.id, at, message });
  }

  closeTransport(conn: Connection, cause: EndCause): void {
    conn.markPeerGone();
    try {
      this.#transport.close(conn.id, cause);
    } catch {
      // The socket is already gone; the connection is forgotten either way.
    }
  }
}
