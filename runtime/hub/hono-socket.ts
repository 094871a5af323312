/**
 * `/connect` on a platform whose WebSockets come through Hono's upgrade helper (`hono/deno`):
 * the admitted request is upgraded, the socket bound once open, its frames fed to the host
 * and its close reported to the gate.
 */
import type { UpgradeWebSocket, WSContext } from 'hono/ws';
import type { Frame } from '../codec/index.ts';
import type { Host } from '../host.ts';
import { closeCode, closeReason, type PeerSocket, type SocketRegistry } from '../sockets.ts';
import type { ConnectionId } from '../store.ts';
import type { ConnectGate } from './connect.ts';
import type { AcceptSocket } from './routes.ts';

export interface HonoSocketOptions {
  host: Host;
  sockets: SocketRegistry;
  gate: ConnectGate;
  upgradeWebSocket: UpgradeWebSocket;
}

export function honoAcceptor(options: HonoSocketOptions): AcceptSocket {
  const { host, sockets, gate } = options;
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
        mine = socketOf(ws);
        const bound = gate.attach(ticket, mine);
        if (typeof bound === 'string') id = bound;
        else ws.close(bound.code, bound.error);
      },
      onMessage(event: MessageEvent, ws: WSContext) {
        const data: unknown = event.data;
        if (typeof data === 'string') receive(data);
        else if (data instanceof ArrayBuffer) receive(new Uint8Array(data));
        else if (ArrayBuffer.isView(data)) receive(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        else ws.close(1003, 'unsupported frame');
      },
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

function socketOf(ws: WSContext): PeerSocket {
  return {
    send: (frame) => ws.send(typeof frame === 'string' ? frame : (frame as Uint8Array<ArrayBuffer>)),
    close: (reason) => ws.close(closeCode(reason), closeReason(reason)),
  };
}
