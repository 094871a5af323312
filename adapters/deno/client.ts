/**
 * The keepalive client on Deno: the client every runtime shares (an `EventTarget`, with
 * reconnect and resume: runtime/client/keepalive-client.ts) over the web `WebSocket`
 * (`ws://`, text dialect) or `Deno.connect` (`tcp://`, libvirt frames).
 */
import { type ClientLine, type ConnectOptions, KeepaliveClient, type LineEvents, type LineTarget, webSocketLine } from '../../runtime/client/index.ts';
import { closeQuietly, ConnWriter } from './conn.ts';
import { createCodec } from '../../runtime/codec/index.ts';

export { KeepaliveClient, type ReadyState } from '../../runtime/client/index.ts';
export type { ConnectOptions } from '../../runtime/client/index.ts';

/** Connects to a keepalive server at `ws://host:port/connect` or `tcp://host:port`. */
export function connect(url: string | URL, options: ConnectOptions = {}): KeepaliveClient {
  return new KeepaliveClient(url, options, denoLine, { codecs: createCodec });
}

export function denoLine(target: LineTarget, events: LineEvents): ClientLine {
  if (target.kind === 'ws') return webSocketLine(target, events);
  if (target.dialect === 'libvirt') throw new TypeError('the libvirt dialect needs the Node client (keepalive-actors/node)');
  return tcpLine(new URL(target.url), events);
}

function tcpLine(url: URL, events: LineEvents): ClientLine {
  let conn: Deno.TcpConn | null = null;
  let writer: ConnWriter | null = null;
  let closed = false;
  void (async () => {
    let error: string | undefined;
    try {
      conn = await Deno.connect({ hostname: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port), transport: 'tcp' });
      if (closed) return closeQuietly(conn);
      conn.setNoDelay(true);
      writer = new ConnWriter(conn);
      events.open('tcp');
      // Each chunk is a fresh buffer, so the client's frame reader may keep views into it.
      for await (const chunk of conn.readable) events.frame(chunk);
    } catch (e) {
      // We closed it ourselves (a dead server), or it failed or was reset: say which.
      if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted)) error = e instanceof Error ? e.message : String(e);
    } finally {
      if (conn) closeQuietly(conn);
      // TCP carries no close code or reason; each side logs its own.
      events.close({ code: 1006, reason: '', ...(error !== undefined ? { error } : {}) });
    }
  })();
  return {
    send: (frame) => writer?.write(frame),
    close: () => {
      closed = true;
      if (conn) closeQuietly(conn);
    },
    bufferedAmount: 0,
  };
}
