/**
 * Hibernatable WebSockets as the hub's peers (runtime/hub/websocket-peer.ts). A socket
 * survives the object's eviction; what it must carry across is tiny: its connection id as
 * the socket's tag (set once at accept) and, in its attachment, when it last delivered a
 * frame. Its peer record does not survive: a rebuilt object makes a new one (`adopt`).
 */
import type { WebSocketPort } from '../../runtime/hub/index.ts';
import { closeReason } from '../../runtime/protocol/index.ts';
import { createLibvirtCodec, type Frame, TEXT_FRAMES } from '../../runtime/codec/index.ts';

/** Kept with the socket through hibernation (`serializeAttachment`: in memory, not storage). */
export interface SocketAttachment {
  /** When this socket last delivered a frame (ms). It may be newer than the stored snapshot. */
  seen?: number;
  /** Delivery mode's handshake was done on this socket: a rebuilt object writes DATA to it at once. */
  open?: boolean;
}

/** No `terminate`: the platform finishes a close without us. */
export const DO_PORT: WebSocketPort<WebSocket> = {
  send: (ws, frame) => ws.send(frame),
  close: (ws, code, reason) => ws.close(code, reason),
};

export function connectionIdOf(ctx: DurableObjectState, ws: WebSocket): string | undefined {
  return ctx.getTags(ws)[0];
}

export function attachmentOf(ws: WebSocket): SocketAttachment {
  return (ws.deserializeAttachment() as SocketAttachment | null) ?? {};
}

const libvirt = createLibvirtCodec({ advertise: true });

/** A keepalive PING, whichever dialect: the wake-ups the auto-response exists to avoid. */
export function isPing(frame: Frame): boolean {
  // Delivery mode's PING may carry an acknowledgement: `keepalive:PING <ack>`.
  return typeof frame === 'string' ? frame === TEXT_FRAMES.PING || frame.startsWith(`${TEXT_FRAMES.PING} `) : libvirt.decode(frame) === 'PING';
}

/** Closes without throwing: the socket may already be closing or closed. */
export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    // 1005, 1006 and 1015 are reserved for reporting and may not be sent.
    ws.close(code === 1005 || code === 1006 || code === 1015 ? 1000 : code, closeReason(reason));
  } catch {
    // Already closed.
  }
}
