/**
 * The WebSocket text dialect: one fixed string per keepalive message, so a platform can
 * match a PING byte for byte without parsing (Cloudflare's `setWebSocketAutoResponse`).
 * Any other message, text or binary, is application traffic and counts as a sign of life:
 * keepalive messages are always text frames.
 */
import type { KeepaliveMessage } from '../../actors/keepalive.ts';
import type { Codec, Frame, Inbound } from './codec.ts';
import { FrameError } from './frame-error.ts';

export const TEXT_PREFIX = 'keepalive:';
export const TEXT_FRAMES = {
  ADVERTISE: `${TEXT_PREFIX}ADVERTISE`,
  PING: `${TEXT_PREFIX}PING`,
  PONG: `${TEXT_PREFIX}PONG`,
} as const satisfies Record<KeepaliveMessage, string>;

export const DEFAULT_MAX_TEXT_BYTES = 64 * 1024;

export function createTextCodec(maxBytes = DEFAULT_MAX_TEXT_BYTES): Codec {
  return {
    name: 'text',
    encode: (message) => TEXT_FRAMES[message],
    decode(frame: Frame): Inbound | FrameError {
      if (typeof frame !== 'string') {
        return frame.length > maxBytes ? new FrameError('oversized', `binary frame larger than ${maxBytes} bytes`) : 'MESSAGE';
      }
      // UTF-16 length is a lower bound on UTF-8 bytes; 3x bounds it from above.
      if (frame.length > maxBytes || (frame.length * 3 > maxBytes && new TextEncoder().encode(frame).length > maxBytes)) {
        return new FrameError('oversized', `text frame larger than ${maxBytes} bytes`);
      }
      if (frame === TEXT_FRAMES.PING) return 'PING';
      if (frame === TEXT_FRAMES.PONG) return 'PONG';
      if (frame === TEXT_FRAMES.ADVERTISE) return 'ADVERTISE';
      if (frame.startsWith(TEXT_PREFIX)) {
        return new FrameError('unknown-procedure', `unknown keepalive message "${frame.slice(0, 40)}"`);
      }
      return 'MESSAGE';
    },
  };
}

/**
 * Text frames starting with `keepalive:` are the protocol's own; an application frame that
 * looked like one would be taken for a PING or refused by the peer.
 */
export function assertApplicationFrame(data: Frame): void {
  if (typeof data === 'string' && data.startsWith(TEXT_PREFIX)) {
    throw new TypeError(`application frames may not start with "${TEXT_PREFIX}": that prefix is the keepalive protocol's own`);
  }
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw new TypeError('an application frame is a string or a Uint8Array');
}
