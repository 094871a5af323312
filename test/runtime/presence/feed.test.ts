/**
 * Presence for peers (runtime/presence/) on one hub with a fake port and an injected clock:
 * the sync on attach, joins and leaves exactly once per peer, coalescing to one frame per
 * 50 ms, a resume that is no leave, hidden peers, state bounds and the `onPresence` hook.
 * No socket and no real timer: every frame a subscriber got is read off the fake port.
 */
import { describe, expect, it } from 'vitest';
import { assembleHub, type ConnectTicket, type PeerHub, WebSocketPeer, type WebSocketPort } from '../../../runtime/hub/index.ts';
import { isResponse, type Admission, type Hooks } from '../../../runtime/application/index.ts';
import { PRESENCE_FRAME, type PresenceFrame, type PresencePeer } from '../../../runtime/protocol/index.ts';
import { PresenceModel, type PresenceTimers } from '../../../runtime/presence/index.ts';

/** A clock and a timer queue the test moves by hand. */
function fakeTime() {
  let now = 1_000_000;
  const pending = new Map<number, { at: number; callback: () => void }>();
  let next = 0;
  const timers: PresenceTimers = {
    setTimeout: (callback, ms) => {
      pending.set(++next, { at: now + ms, callback });
      return next;
    },
    clearTimeout: (handle) => void pending.delete(handle as number),
  };
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      const due = [...pending.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      pending.delete(due[0]);
      now = due[1].at;
      due[1].callback();
    }
    now = until;
  };
  return { now: () => now, timers, advance };
}

interface Sock {
  name: string;
  frames: PresenceFrame[];
}

const port: WebSocketPort<Sock> = {
  send: (socket, frame) => {
    if (typeof frame === 'string' && frame.startsWith(PRESENCE_FRAME)) socket.frames.push(JSON.parse(frame.slice(PRESENCE_FRAME.length)) as PresenceFrame);
  },
  close: () => {},
};

function setup(hooks: Hooks = {}, options: { stateBytes?: number } = {}) {
  const time = fakeTime();
  const hub = assembleHub(
    { interval: 1000, count: 2, presence: true, hooks, ...(options.stateBytes ? { presenceStateBytes: options.stateBytes } : {}) },
    { accept: () => () => new Response(null, { status: 500 }), onNextWake: () => {}, openWithoutToken: true, now: time.now, presenceTimers: time.timers },
  );
  const peers: PeerHub<Sock> = { port, host: hub.host, sockets: hub.sockets, gate: hub.gate, delivery: hub.delivery, presence: hub.presence };
  const open = async (name: string, query: string): Promise<{ sock: Sock; peer: WebSocketPeer<Sock>; id: string; ticket: ConnectTicket }> => {
    const ticket = await hub.gate.admit(new Request(`http://hub/connect?${query}`, { headers: { upgrade: 'websocket' } }));
    if (isResponse(ticket)) throw new Error(`refused ${ticket.status}`);
    const sock: Sock = { name, frames: [] };
    const peer = new WebSocketPeer(sock, peers);
    const id = peer.attach(ticket);
    if (typeof id !== 'string') throw new Error('not attached');
    await Promise.resolve();
    return { sock, peer, id, ticket };
  };
  return { hub, time, open, feed: hub.presence! };
}

const names = (list: readonly PresencePeer[]) => list.map((entry) => `${entry.peer ?? 'null'}:${entry.connections.length}`).sort();
/** A subscriber's list after applying its frames, as the client does. */
function replay(frames: readonly PresenceFrame[]): PresencePeer[] {
  const list = new Map<string, PresencePeer>();
  const key = (e: { peer: string | null; id?: string; connections?: readonly { id: string }[] }) => e.peer ?? `#${e.id ?? e.connections![0]!.id}`;
  for (const frame of frames) {
    if (frame.sync) {
      list.clear();
      for (const entry of frame.sync) list.set(key(entry), entry);
    }
    for (const k of frame.leave ?? []) list.delete(key(k));
    for (const entry of [...(frame.join ?? []), ...(frame.update ?? [])]) list.set(key(entry), entry);
  }
  return [...list.values()];
}

describe('presence for peers on one hub', () => {
  it('syncs on attach, then joins a peer on its first connection and leaves it at its last, once each', async () => {
    const { open, time, feed } = setup();
    const watcher = await open('w', 'presence=1&peer=watcher');
    expect(watcher.sock.frames).toEqual([{ sync: [], you: watcher.id }]);
    time.advance(50);
    const ada1 = await open('a1', 'presence=1&peer=ada');
    const ada2 = await open('a2', 'peer=ada');
    time.advance(50);
    const joins = watcher.sock.frames.flatMap((f) => f.join ?? []);
    expect(names(joins)).toEqual(['ada:2', 'watcher:1']);
    expect(ada1.sock.frames[0]!.sync!.map((e) => e.peer)).toEqual(['watcher']);

    ada1.peer.closed(1000, 'bye');
    time.advance(50);
    expect(watcher.sock.frames.at(-1)).toEqual({ update: [{ peer: 'ada', state: null, connections: [{ id: ada2.id }] }] });
    ada2.peer.closed(1000, 'bye');
    time.advance(50);
    expect(watcher.sock.frames.at(-1)).toEqual({ leave: [{ peer: 'ada' }] });
    expect(watcher.sock.frames.flatMap((f) => f.leave ?? [])).toHaveLength(1);
    expect(names(replay(watcher.sock.frames))).toEqual(names(feed.list()));
  });

  it('coalesces a burst into one frame per 50 ms, and a join and leave within it into nothing', async () => {
    const { open, time } = setup();
    const watcher = await open('w', 'presence=1');
    time.advance(60);
    const before = watcher.sock.frames.length;
    const opened = [];
    for (let i = 0; i < 20; i++) opened.push(await open(`p${i}`, `peer=p${i}`));
    const flash = await open('flash', 'peer=flash');
    flash.peer.closed(1000, '');
    time.advance(49);
    time.advance(1);
    expect(watcher.sock.frames.length - before).toBe(1);
    expect(watcher.sock.frames.at(-1)!.join).toHaveLength(20);
    expect(JSON.stringify(watcher.sock.frames)).not.toContain('flash');
    // Churn faster than the bound: never two frames within 50 ms.
    for (let i = 0; i < 20; i++) {
      opened[i]!.peer.closed(1000, '');
      time.advance(7);
    }
    time.advance(100);
    expect(watcher.sock.frames.length - before).toBeLessThanOrEqual(1 + Math.ceil(240 / 50));
    expect(replay(watcher.sock.frames).map((e) => e.connections[0]!.id)).toEqual([watcher.id]);
  });

  it('a resume is no leave and no join: the subscriber gets a sync on its new socket', async () => {
    const { open, time, hub } = setup();
    const watcher = await open('w', 'presence=1&peer=w');
    const ada = await open('a', 'peer=ada&session=aaaaaaaaaaaaaaaaaaaa');
    time.advance(60);
    ada.peer.failed('network');
    const back = new WebSocketPeer<Sock>({ name: 'a2', frames: [] }, { port, host: hub.host, sockets: hub.sockets, gate: hub.gate, delivery: hub.delivery, presence: hub.presence });
    const again = await hub.gate.admit(new Request('http://hub/connect?peer=ada&session=aaaaaaaaaaaaaaaaaaaa', { headers: { upgrade: 'websocket' } }));
    if (isResponse(again)) throw new Error('refused');
    expect(back.attach(again)).toBe(ada.id);
    time.advance(200);
    const leaves = watcher.sock.frames.flatMap((f) => f.leave ?? []);
    expect(leaves).toEqual([]);
    expect(watcher.sock.frames.flatMap((f) => f.join ?? []).filter((e) => e.peer === 'ada')).toHaveLength(1);
  });

  it('sets a state, bounded and validated; the server fields cannot be forged', async () => {
    const hooks: Hooks = {
      onPresence: (_conn, state) => (typeof state === 'object' && state !== null && 'bad' in state ? { refuse: 'no bad states' } : typeof state === 'string' ? { state: state.toUpperCase() } : undefined),
    };
    const { open, time } = setup(hooks, { stateBytes: 64 });
    const watcher = await open('w', 'presence=1&peer=w');
    const ada = await open('a', 'presence=1&peer=ada');
    time.advance(60);
    ada.peer.message('keepalive:PRESENCE-SET {"typing":true,"peer":"mallory","connections":[]}');
    time.advance(60);
    expect(watcher.sock.frames.at(-1)).toEqual({ update: [{ peer: 'ada', state: { typing: true, peer: 'mallory', connections: [] }, connections: [{ id: ada.id }] }] });
    ada.peer.message('keepalive:PRESENCE-SET "away"');
    time.advance(60);
    expect(watcher.sock.frames.at(-1)!.update![0]!.state).toBe('AWAY');
    const count = watcher.sock.frames.length;
    ada.peer.message(`keepalive:PRESENCE-SET "${'x'.repeat(100)}"`);
    ada.peer.message('keepalive:PRESENCE-SET {"bad":1}');
    ada.peer.message('keepalive:PRESENCE-SET {not json');
    // The same state again: nothing to tell.
    ada.peer.message('keepalive:PRESENCE-SET "away"');
    time.advance(100);
    expect(watcher.sock.frames.length).toBe(count);
    expect(ada.sock.frames.filter((f) => f.refused).map((f) => f.refused)).toEqual(['state is 102 bytes, at most 64', 'no bad states', 'state is not JSON']);
    // The connection lives on.
    expect(ada.peer.current).toBe(true);
  });

  it('authorize may deny the subscription (still listed) or hide a peer (listed to nobody)', async () => {
    const hooks: Hooks = {
      authorize: (request): Admission => {
        const peer = new URL(request.url).searchParams.get('peer') ?? 'x';
        return { peer, ...(peer === 'spy' ? { presence: 'hidden' as const } : peer === 'mute' ? { presence: false } : {}) };
      },
    };
    const { open, time, feed } = setup(hooks);
    const watcher = await open('w', 'presence=1&peer=w');
    const mute = await open('m', 'presence=1&peer=mute');
    const spy = await open('s', 'presence=1&peer=spy');
    time.advance(60);
    expect(mute.sock.frames).toEqual([{ off: 'not for this connection' }]);
    expect(names(feed.list())).toEqual(['mute:1', 'w:1']);
    expect(spy.sock.frames.at(-1)!.join!.map((e) => e.peer).sort()).toEqual(['mute', 'w']);
    expect(JSON.stringify(watcher.sock.frames)).not.toContain('spy');
  });

  it('connections without an identity are entries of their own, left by id', async () => {
    const { open, time } = setup();
    const watcher = await open('w', 'presence=1');
    const anon = await open('x', '');
    time.advance(60);
    anon.peer.closed(1000, '');
    time.advance(60);
    expect(watcher.sock.frames.at(-1)).toEqual({ leave: [{ peer: null, id: anon.id }] });
  });
});

describe('the presence model', () => {
  it("lists a peer's most recent state, and a move to another node as an update", () => {
    const model = new PresenceModel();
    model.set('c1', { peer: 'ada', hidden: false, node: 'one', state: 'a', at: 5 });
    model.set('c2', { peer: 'ada', hidden: false, node: 'one', state: 'b', at: 7 });
    expect(model.diff().join).toEqual([{ peer: 'ada', state: 'b', connections: [{ id: 'c1', node: 'one' }, { id: 'c2', node: 'one' }] }]);
    model.delete('c2');
    model.set('c2', { peer: 'ada', hidden: false, node: 'two', state: 'b', at: 7 });
    expect(model.diff()).toEqual({ join: [], leave: [], update: [{ peer: 'ada', state: 'b', connections: [{ id: 'c1', node: 'one' }, { id: 'c2', node: 'two' }] }] });
    model.delete('c2');
    expect(model.diff().update[0]!.state).toBe('a');
  });
});
