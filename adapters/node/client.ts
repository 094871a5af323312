/**
 * The keepalive client on Node: the client every runtime shares (an `EventTarget`, with
 * reconnect and resume: runtime/client/keepalive-client.ts) over Node's sockets. A
 * WebSocket (`ws://`, text dialect) comes from `ws`, which shows an upgrade's refusal
 * status; a byte stream (`tcp://` to our servers, libvirt frames; or with
 * `dialect: 'libvirt'` a libvirt daemon over TCP or its UNIX socket) from `node:net`.
 */
import { connect as netConnect, type NetConnectOpts } from 'node:net';
import WebSocket from 'ws';
import { type ClientLine, type ConnectOptions, KeepaliveClient, type LineEvents, type LineTarget } from '../../runtime/client/index.ts';
import { libvirtTarget } from './libvirt-client.ts';
import { startLibvirtHandshake } from '../../runtime/protocol/index.ts';
import { createCodec } from '../../runtime/codec/index.ts';

export { KeepaliveClient, type ReadyState } from '../../runtime/client/index.ts';
export type { ConnectOptions } from '../../runtime/client/index.ts';

/** Connects to a keepalive server at `ws://host:port/connect` or `tcp://host:port`, or (`dialect: 'libvirt'`) to a libvirt daemon. */
export function connect(url: string | URL, options: ConnectOptions = {}): KeepaliveClient {
  return new KeepaliveClient(url, options, nodeLine, { handshake: startLibvirtHandshake, codecs: createCodec });
}

export function nodeLine(target: LineTarget, events: LineEvents): ClientLine {
  return target.kind === 'ws' ? wsLine(target.url, target.protocols ?? [], events) : streamLine(target, events);
}

function wsLine(url: string, protocols: string[], events: LineEvents): ClientLine {
  let ws = open(protocols);

  function open(offered: string[]): WebSocket {
    const socket = new WebSocket(url, offered);
    let status: number | undefined;
    let error: string | undefined;
    // A server that selects none of what we offered (one that does not speak delivery mode)
    // is fine by the WebSocket spec, but \`ws\` aborts such a handshake: we see the answer
    // first, and open again without offering anything.
    let declined = false;
    socket.on('upgrade', (response) => (declined = offered.length > 0 && response.headers['sec-websocket-protocol'] === undefined));
    socket.on('open', () => events.open('ws', socket.protocol));
    socket.on('message', (data, isBinary) => {
      if (!isBinary) events.frame(data.toString());
      else events.frame(Array.isArray(data) ? Buffer.concat(data) : new Uint8Array(data as ArrayBuffer | Buffer));
    });
    socket.on('unexpected-response', (_request, response) => {
      status = response.statusCode ?? 0;
      socket.terminate();
    });
    // 'close' always follows 'error'; the error says why.
    socket.on('error', (e) => (error ??= e.message));
    socket.on('close', (code, reason) => {
      if (declined && socket === ws) return void (ws = open([]));
      events.close({ code, reason: reason.toString(), ...(status !== undefined ? { status } : {}), ...(error !== undefined ? { error } : {}) });
    });
    return socket;
  }

  return {
    send: (frame) => ws.send(frame),
    close: (code, reason) => {
      if (ws.readyState === WebSocket.CONNECTING) return ws.terminate();
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.close(code, reason);
      // A dead or misbehaving server will not finish the close handshake; do not wait ws's
      // 30 s for it. The close frame is already on its way.
      if (code !== 1000) ws.terminate();
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
  };
}

/** TCP or a UNIX socket; libvirt frames either way. */
function streamLine(target: LineTarget, events: LineEvents): ClientLine {
  const options: NetConnectOpts = target.dialect === 'libvirt' ? libvirtTarget(target.url) : ourTcp(target.url);
  const unix = 'path' in options;
  const socket = netConnect(unix ? options : { ...options, noDelay: true });
  let error: string | undefined;
  socket.on('connect', () => events.open(unix ? 'unix' : 'tcp'));
  socket.on('data', (chunk) => events.frame(chunk));
  socket.on('error', (e) => (error ??= e.message));
  // TCP carries no close code or reason; each side logs its own.
  socket.on('close', () => events.close({ code: 1006, reason: '', ...(error !== undefined ? { error } : {}) }));
  return {
    send: (frame) => void socket.write(frame),
    close: () => socket.destroy(),
    get bufferedAmount() {
      return socket.writableLength;
    },
  };
}

/** tcp://host:port: our servers' libvirt-framed TCP. */
function ourTcp(url: string): NetConnectOpts {
  const parsed = new URL(url);
  if (parsed.protocol !== 'tcp:' || !parsed.port) throw new TypeError(`unsupported URL ${url}: use ws://host:port/connect or tcp://host:port`);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port) };
}
