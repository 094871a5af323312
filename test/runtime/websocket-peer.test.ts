/**
 * The one WebSocket peer (runtime/hub/websocket-peer.ts) on a fake port: what each of a
 * platform's socket events means, decided once for Node, Deno and the Durable Object.
 */
import { describe, expect, it } from 'vitest';
import { assembleHub, bindPeer, type ConnectTicket, frameOf, type PeerHub, peerOf, WebSocketPeer, type WebSocketPort } from '../../runtime/hub/index.ts';
import type { HostEvent } from '../../runtime/host/index.ts';
import { isResponse } from '../../runtime/application/index.ts';
import { TEXT_FRAMES } from '../../runtime/codec/index.ts';

interface FakeSocket {
  name: string;
}

/** A port that records what the peer asked of the platform. */
function fakePort(terminates = true) {
  const calls: string[] = [];
  const port: WebSocketPort<FakeSocket> = {
    send: (socket, frame) => void calls.push(`${socket.name} send ${String(frame)}`),
    close: (socket, code, reason) => void calls.push(`${socket.name} close ${code} ${reason}`),
    ...(terminates ? { terminate: (socket: FakeSocket) => void calls.push(`${socket.name} terminate`) } : {}),
  };
  return { port, calls };
}

async function setup(options: { maxConnections?: number; terminates?: boolean } = {}) {
  const assembled = assembleHub(
    { interval: 1000, count: 2, ...(options.maxConnections ? { maxConnections: options.maxConnections } : {}) },
    { accept: () => () => new Response(null, { status: 500 }), onNextWake: () => {}, openWithoutToken: true },
  );
  const { port, calls } = fakePort(options.terminates ?? true);
  const hub: PeerHub<FakeSocket> = { port, host: assembled.host, sockets: assembled.sockets, gate: assembled.gate, delivery: assembled.delivery };
  const events: HostEvent[] = [];
  assembled.host.subscribe((event) => events.push(event));
  const ticket = async (): Promise<ConnectTicket> => {
    const admitted = await assembled.gate.admit(new Request('http://hub/connect', { headers: { upgrade: 'websocket' } }));
    if (isResponse(admitted)) throw new Error(`refused: ${admitted.status}`);
    return admitted;
  };
  const open = async (name: string) => {
    const peer = new WebSocketPeer({ name }, hub);
    expect(peer.open(await ticket())).toBe(true);
    return peer;
  };
  return { ...assembled, hub, calls, events, ticket, open };
}

describe('the WebSocket peer', () => {
  it('binds an open socket to a new connection, and the host speaks through the port', async () => {
    const { host, open, calls } = await setup();
    const peer = await open('a');
    expect(peer.current).toBe(true);
    expect(host.has(peer.id!)).toBe(true);
    expect(peer.message(TEXT_FRAMES.ADVERTISE)).toBe(true);
    expect(host.view(peer.id!)?.advertised).toBe(true);
    expect(peer.message(TEXT_FRAMES.PING)).toBe(true);
    expect(calls).toEqual([`a send ${TEXT_FRAMES.PONG}`]);
  });

  it('closes a socket the hub cannot take after all with the refusal (1013 when full)', async () => {
    const { open, ticket, hub, calls } = await setup({ maxConnections: 1 });
    const late = await ticket();
    await open('a');
    const refused = new WebSocketPeer({ name: 'b' }, hub);
    expect(refused.open(late)).toBe(false);
    expect(refused.id).toBeUndefined();
    expect(calls).toEqual(['b close 1013 connection limit reached']);
  });

  it('turns a close into the peer\'s close and an error into a lost socket, each carrying its cause', async () => {
    const { host, open, events } = await setup();
    const closing = await open('a');
    const failing = await open('b');
    expect(closing.closed(1000, 'bye')).toBe(true);
    expect(failing.failed('reset')).toBe(true);
    expect(host.size).toBe(0);
    const ends = events.filter((e) => e.type === 'closed').map((e) => [e.id, e.cause]);
    expect(ends).toEqual([
      [closing.id, { cause: 'peer-closed', code: 1000, said: 'bye' }],
      [failing.id, { cause: 'socket-lost', error: 'reset' }],
    ]);
  });

  it('ignores every event of a socket that is no longer its connection\'s', async () => {
    const { host, sockets, open, calls } = await setup();
    const peer = await open('a');
    const id = peer.id!;
    // Let go of, as a restart that keeps its connections does: the connection stays.
    sockets.detach(id);
    expect(peer.current).toBe(false);
    expect(peer.message(TEXT_FRAMES.ADVERTISE)).toBe(false);
    expect(peer.closed(1000, '')).toBe(false);
    expect(peer.failed()).toBe(false);
    expect(host.has(id)).toBe(true);
    expect(host.view(id)?.advertised).toBe(false);
    expect(calls).toEqual([]);
  });

  it('lets a dead peer\'s socket go after its close frame where the platform can, and waits for an orderly close', async () => {
    const { open, calls } = await setup();
    const dead = await open('a');
    dead.close({ cause: 'dead', silentFor: 3000, unanswered: 2 });
    const done = await open('b');
    done.close({ cause: 'shutdown', signal: 'SIGTERM' });
    expect(calls).toEqual(['a close 4000 peer dead: silent for 3000 ms, 2 keepalive PING(s) unanswered', 'a terminate', 'b close 1000 server shutting down (SIGTERM)']);
    const deno = await setup({ terminates: false });
    (await deno.open('c')).close({ cause: 'no-advertise', timeout: 3000 });
    expect(deno.calls).toEqual(['c close 4000 no ADVERTISE within 3000 ms']);
  });

  it('adopts a socket for a connection it outlived (a Durable Object rebuilt)', async () => {
    const { sockets, open, hub } = await setup();
    const first = await open('a');
    const again = new WebSocketPeer(first.socket, hub);
    again.adopt(first.id!);
    expect(sockets.get(first.id!)).toBe(again);
    expect(again.current).toBe(true);
    expect(first.current).toBe(false);
  });

  it('reads binary messages as plain Uint8Array views, no copy, and closes on anything else with 1003', async () => {
    const bytes = new Uint8Array([0, 1, 2, 3, 4, 5]);
    const fromBuffer = frameOf(bytes.buffer) as Uint8Array;
    expect(fromBuffer.constructor).toBe(Uint8Array);
    expect([...fromBuffer]).toEqual([0, 1, 2, 3, 4, 5]);
    const slice = Buffer.from(bytes.buffer, 2, 3);
    const view = frameOf(slice) as Uint8Array;
    expect(view.constructor).toBe(Uint8Array);
    expect(view.buffer).toBe(bytes.buffer);
    expect([view.byteOffset, view.byteLength]).toEqual([2, 3]);
    expect(frameOf('text')).toBe('text');
    expect(frameOf(new Blob(['x']))).toBeUndefined();

    const { open, calls, host } = await setup();
    const peer = await open('a');
    expect(peer.message(new Blob(['x']))).toBe(false);
    expect(calls).toEqual(['a close 1003 unsupported frame']);
    expect(host.has(peer.id!)).toBe(true);
  });

  it('is found on its socket by the listeners every socket shares', async () => {
    const { hub } = await setup();
    const socket = { name: 'a' };
    const peer = bindPeer(socket, hub);
    expect(peerOf(socket)).toBe(peer);
    expect(Object.keys(socket)).toEqual(['name']);
  });
});
