/**
 * A client line over the web-standard `WebSocket` (browsers, Web Workers, Deno, Node 22+),
 * which shows neither an upgrade's status nor why a connection failed: a refusal is code
 * 1006, like a cut.
 */
import type { ClientLine, LineEvents, LineTarget } from './keepalive-client.ts';

export function webSocketLine(target: LineTarget, events: LineEvents): ClientLine {
  if (target.kind !== 'ws') throw new TypeError(`a WebSocket cannot open ${target.url}: use ws:// or wss://`);
  const ws = new WebSocket(target.url, target.protocols ?? []);
  ws.binaryType = 'arraybuffer';
  let error: string | undefined;
  ws.addEventListener('open', () => events.open('ws', ws.protocol));
  ws.addEventListener('message', (event: MessageEvent) => {
    const data = event.data as string | ArrayBuffer;
    events.frame(typeof data === 'string' ? data : new Uint8Array(data));
  });
  // 'close' always follows 'error'; Deno's error event says why.
  ws.addEventListener('error', (event: Event) => {
    const message = (event as { message?: unknown }).message;
    error ??= message ? String(message) : undefined;
  });
  ws.addEventListener('close', (event: CloseEvent) => events.close({ code: event.code, reason: event.reason, ...(error !== undefined ? { error } : {}) }));
  return {
    send: (frame) => ws.send(frame as string | Uint8Array<ArrayBuffer>),
    close: (code, reason) => {
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
  };
}
