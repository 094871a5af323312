/**
 * `/connect` on a platform whose WebSockets come through Hono's upgrade helper (Node's
 * `@hono/node-ws`, `hono/deno`): the admitted request is upgraded, the socket bound once
 * open, its frames fed to the host and its close reported to the gate.
 */
import type { UpgradeWebSocket, WSContext } from 'hono/ws';
import type { Frame } from '../codec/index.ts';
import type { Host } from '../host.ts';
import { closeCode, closeReason, type PeerSocket, type SocketRegistry } from '../sockets.ts';
import type { ConnectionId } from '../store.ts';
import type { ConnectGate } from './connect.ts';
import type { AcceptSocket } from './routes.ts';

/**
 * The platform's own line to an upgraded socket, past Hono's wrapper: frames in without a
 * `MessageEvent` made for each, frames out without two wrapping calls (Node: `ws`; figure
 * 9). Without it, frames go through Hono's `onMessage` and `WSContext.send`.
 */
export interface DirectSocket {
  send(frame: Frame): void;
  /** Writes what `send` may still hold, before a close. */
  flush?(): void;
  /** Closes with this code and reason (a platform may let go of a peer it will not wait for). */
  close?(code: number, reason: string): void;
  /** Calls `onFrame` with every frame from now on (text as a string, binary as bytes). */
  listen(onFrame: (data: Frame) => void): void;
}

export interface HonoSocketOptions {
  host: Host;
  sockets: SocketRegistry;
  gate: ConnectGate;
  upgradeWebSocket: UpgradeWebSocket;
  direct?: ((ws: WSContext) => DirectSocket) | undefined;
}

export function honoAcceptor(options: HonoSocketOptions): AcceptSocket {
  const { host, sockets, gate, direct } = options;
  return (c, ticket) => {
    let id: ConnectionId | undefined;
    let mine: PeerSocket | undefined;
    const receive = (data: Frame) => {
      if (id === undefined || sockets.get(id) !== mine) return;
      host.receive(id, data);
    };
    // Not ours (any more): refused, already closed by the host, replaced by a resume, or let go on a restart.
    const ours = () => id !== undefined && sockets.get(id) === mine;
    const upgrade = options.upgradeWebSocket(() => ({
      onOpen(_event, ws) {
        const line = direct?.(ws);
        line?.listen(receive);
        mine = socketOf(ws, line);
        const bound = gate.attach(ticket, mine);
        if (typeof bound === 'string') id = bound;
        else ws.close(bound.code, bound.error);
      },
      // Left out when the platform hands frames over directly: Hono then makes no event per frame.
      ...(direct
        ? {}
        : {
            onMessage(event: MessageEvent, ws: WSContext) {
              const data: unknown = event.data;
              if (typeof data === 'string') receive(data);
              else if (data instanceof ArrayBuffer) receive(new Uint8Array(data));
              else if (ArrayBuffer.isView(data)) receive(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
              else ws.close(1003, 'unsupported frame');
            },
          }),
      onClose(event) {
        if (ours()) gate.socketGone(id!, event.code, event.reason ? `peer closed: ${event.reason}` : undefined);
      },
      onError() {
        if (ours()) gate.socketGone(id!, 1006, 'socket error');
      },
    }));
    return upgrade(c, async () => {}) as Promise<Response>;
  };
}

/** Frames out through the platform's direct line when it has one (which writes what it holds before a close), else through Hono's. */
function socketOf(ws: WSContext, line?: DirectSocket): PeerSocket {
  const close = (reason: string) => ws.close(closeCode(reason), closeReason(reason));
  if (!line) return { send: (frame) => ws.send(typeof frame === 'string' ? frame : (frame as Uint8Array<ArrayBuffer>)), close };
  return {
    send: (frame) => line.send(frame),
    close: (reason) => {
      line.flush?.();
      if (line.close) line.close(closeCode(reason), closeReason(reason));
      else close(reason);
    },
  };
}
