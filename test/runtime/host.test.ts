import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Host, type HostEvent } from '../../runtime/host/host.ts';
import { MemorySnapshotStore, type StoredConnection } from '../../runtime/host/store.ts';
import { LinkTransport, Simulation, link } from '../support/sim.ts';
import { createCodec } from '../../runtime/codec/index.ts';

const HOUR = 3_600_000;

function pair(options: { server?: object; client?: object; latency?: number } = {}) {
  const sim = new Simulation();
  const events: (HostEvent & { side: string })[] = [];
  const server = sim.host({ onEvent: (e) => events.push({ ...e, side: 'server' }) });
  const client = sim.host({ onEvent: (e) => events.push({ ...e, side: 'client' }) });
  const cut = link(sim, client, 'c', server, 's', { latency: options.latency ?? 3 });
  server.host.open({ id: 's', role: 'server', interval: 5000, count: 5, ...options.server });
  client.host.open({ id: 'c', role: 'client', interval: 3000, count: 3, ...options.client });
  const ends = () => events.filter((e) => e.type === 'dead' || e.type === 'closed');
  return { sim, server, client, cut, events, ends };
}

describe('two hosts over an in-memory link', () => {
  it('stay alive for hours of simulated time', () => {
    const { sim, server, client, ends, events } = pair();
    sim.runUntil(6 * HOUR);
    expect(ends()).toEqual([]);
    expect(server.host.view('s')).toMatchObject({ state: 'alive.watching', advertised: true });
    // The client's 3 s interval is shorter, so it PINGs and the server never needs to.
    expect(client.host.view('c')!.pingsSent).toBeGreaterThan(7000);
    expect(server.host.view('s')!.pongsSent).toBe(client.host.view('c')!.pongsReceived);
    expect(events.filter((e) => e.type === 'sent' && e.side === 'server' && e.message === 'PING')).toEqual([]);
  });

  it.each([
    ['client to server cut: the server', 'aToB', 'server', 5000 * 6],
    ['server to client cut: the client', 'bToA', 'client', 3000 * 4],
  ] as const)('%s declares death exactly interval*(count+1) after the last message', (_, direction, side, bound) => {
    const { sim, cut, ends, events } = pair();
    sim.runUntil(HOUR);
    cut[direction] = true;
    sim.runUntil(2 * HOUR);
    const heardLast = events.filter((e) => e.side === side && e.type === 'received').at(-1)!.at;
    const [dead] = ends();
    expect(dead).toMatchObject({ type: 'dead', side, silentFor: bound });
    expect(dead!.at).toBe(heardLast + bound);
  });

  it('a client with PINGs disabled is kept alive by the server\'s PINGs', () => {
    const { sim, ends, server, client } = pair({ client: { sendPings: false } });
    sim.runUntil(HOUR);
    expect(ends()).toEqual([]);
    expect(client.host.view('c')).toMatchObject({ pingsSent: 0, state: 'alive.passive' });
    expect(server.host.view('s')!.pingsSent).toBeGreaterThan(600);
  });

  it('a server with PINGs disabled is kept alive by the client\'s PINGs, and never declares death', () => {
    const { sim, ends, server, cut } = pair({ server: { sendPings: false } });
    sim.runUntil(HOUR);
    expect(ends()).toEqual([]);
    expect(server.host.view('s')).toMatchObject({ pingsSent: 0, state: 'alive.passive' });
    cut.aToB = true;
    sim.runUntil(2 * HOUR);
    // Only the client can notice; its hang-up then closes the server's side.
    expect(ends().map((e) => `${e.side}:${e.type}`)).toEqual(['client:dead', 'server:closed']);
  });
});

describe('a server before ADVERTISE', () => {
  it('sends nothing, not even a PONG, to a peer that PINGs without advertising', () => {
    const transport = new LinkTransport();
    let now = 0;
    const host = new Host({ codecs: createCodec, transport, now: () => now });
    const id = host.open({ role: 'server', interval: 100, count: 1 });
    for (now = 0; now < 10_000; now += 50) {
      host.receive(id, 'keepalive:PING');
      host.tick(now);
    }
    expect(transport.sent).toEqual([]);
    expect(host.view(id)).toMatchObject({ state: 'awaitingAdvertise', pingsReceived: 200, lastSignOfLife: 9950 });
    host.receive(id, 'keepalive:ADVERTISE');
    host.receive(id, 'keepalive:PING');
    expect(transport.sent.map((s) => s.frame)).toEqual(['keepalive:PONG']);
  });
});

describe('the ADVERTISE deadline', () => {
  function setup(options: { advertiseTimeout?: number | null; maxConnections?: number } = {}) {
    const transport = new LinkTransport();
    const events: HostEvent[] = [];
    let now = 0;
    const host = new Host({ codecs: createCodec,
      transport,
      now: () => now,
      defaults: { interval: 100, count: 1, ...('advertiseTimeout' in options ? { advertiseTimeout: options.advertiseTimeout } : { advertiseTimeout: 1000 }) },
      ...(options.maxConnections ? { maxConnections: options.maxConnections } : {}),
      onEvent: (e) => events.push(e),
    });
    return { host, transport, events, clock: { set: (at: number) => (now = at) } };
  }

  it('closes a peer that PINGs but never advertises at exactly its deadline, with the reason, and frees its place', () => {
    const { host, transport, events, clock } = setup({ maxConnections: 2 });
    const idle = host.open({ id: 'idle', role: 'server' });
    clock.set(300);
    const good = host.open({ id: 'good', role: 'server', interval: 5000 });
    expect(host.atCapacity).toBe(true);
    expect(host.nextWake()).toBe(1000);
    host.receive(good, 'keepalive:ADVERTISE');
    for (let at = 100; at < 1000; at += 100) host.receive(idle, 'keepalive:PING', at);
    host.tick(999);
    expect(host.has(idle)).toBe(true);
    host.tick(1000);
    expect(host.has(idle)).toBe(false);
    expect(transport.sent.filter((s) => s.id === idle)).toEqual([]);
    expect(transport.closed).toEqual([{ id: idle, reason: 'no ADVERTISE within 1000 ms' }]);
    expect(events.filter((e) => e.type === 'closed')).toEqual([{ type: 'closed', id: idle, at: 1000, cause: { cause: 'no-advertise', timeout: 1000 }, reason: 'no ADVERTISE within 1000 ms', meta: {} }]);
    expect(host.atCapacity).toBe(false);
    expect(host.view(good)).toMatchObject({ state: 'alive.watching', advertised: true });
  });

  it('a connection may turn the host default off (null), and 0 or null on the host means none', () => {
    const { host: withDefault } = setup();
    expect(withDefault.view(withDefault.open({ role: 'server', advertiseTimeout: null }))!.wakeAt).toBeNull();
    expect(withDefault.view(withDefault.open({ role: 'server', advertiseTimeout: 50 }))!.wakeAt).toBe(50);
    for (const advertiseTimeout of [0, null]) {
      const { host: none } = setup({ advertiseTimeout });
      expect(none.view(none.open({ role: 'server' }))!.wakeAt).toBeNull();
    }
    expect(() => withDefault.open({ role: 'server', advertiseTimeout: -1 })).toThrow(/advertiseTimeout/);
    expect(() => new Host({ codecs: createCodec, transport: new LinkTransport(), defaults: { advertiseTimeout: Number.NaN } })).toThrow(/advertiseTimeout/);
  });

  it('survives a restart: the deadline is in the snapshot, and a host resumed after it closes the connection at once', async () => {
    const store = new MemorySnapshotStore();
    const transport = new LinkTransport();
    const first = new Host({ codecs: createCodec, transport, store, now: () => 0, defaults: { advertiseTimeout: 1000 } });
    first.open({ id: 'idle', role: 'server' });
    await first.persistAll();
    const second = new Host({ codecs: createCodec, transport, store, now: () => 1500 });
    expect(second.restore(await store.load())).toEqual(['idle']);
    expect(second.has('idle')).toBe(false);
    expect(transport.closed).toEqual([{ id: 'idle', reason: 'no ADVERTISE within 1000 ms' }]);
  });
});

describe('bad input', () => {
  it('closes only the offending connection, with a reason, and never throws', () => {
    const transport = new LinkTransport();
    const host = new Host({ codecs: createCodec, transport, now: () => 0, maxFrameBytes: 4096 });
    const good = host.open({ role: 'server', id: 'good' });
    host.receive(good, 'keepalive:ADVERTISE');
    const cases: [string, Parameters<Host['receive']>[1], boolean][] = [
      ['unknown-procedure', 'keepalive:NOPE', false],
      ['oversized', new Uint8Array(5000), false],
      ['oversized', 'x'.repeat(5000), false],
      ['malformed', new Uint8Array([0, 0, 0, 4, 0, 0, 0, 0]), true],
      ['oversized', new Uint8Array([0x7f, 0xff, 0xff, 0xff]), true],
      ['wrong-frame-kind', 'keepalive:PING', true],
    ];
    for (const [code, frame, stream] of cases) {
      const id = host.open({ role: 'server', ...(stream ? { codec: { name: 'libvirt', advertise: true }, stream } : {}) });
      expect(host.receive(id, frame)).toBe(false);
      expect(host.has(id)).toBe(false);
      expect(transport.closed.at(-1)).toMatchObject({ id, reason: expect.stringContaining(`protocol error (${code})`) });
    }
    expect(host.view(good)).toMatchObject({ state: 'alive.watching' });
    expect(host.stats.rejected).toBe(cases.length);
  });

  it('survives arbitrary input on a stream and a text connection', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 80 }), fc.string({ maxLength: 40 })), { maxLength: 12 }), (inputs) => {
        const transport = new LinkTransport();
        const host = new Host({ codecs: createCodec, transport, now: () => 0 });
        const bystander = host.open({ role: 'server' });
        const text = host.open({ role: 'server' });
        const stream = host.open({ role: 'server', codec: { name: 'libvirt', advertise: true }, stream: true });
        for (const data of inputs) {
          expect(() => host.receive(text, data)).not.toThrow();
          expect(() => host.receive(stream, data)).not.toThrow();
        }
        expect(host.has(bystander)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('snapshots and restore', () => {
  function server(store: MemorySnapshotStore, clock: { now: number }) {
    const transport = new LinkTransport();
    return { transport, host: new Host({ codecs: createCodec, transport, store, now: () => clock.now }) };
  }

  /** A server probing a peer that stopped after one PONG; restarts at `restartAt` from the store. */
  async function probe(restartAt: number | null, graceful: boolean, answer = false) {
    const clock = { now: 0 };
    const store = new MemorySnapshotStore();
    let side = server(store, clock);
    side.host.open({ id: 'p', role: 'server', interval: 1000, count: 3 });
    side.host.receive('p', 'keepalive:ADVERTISE');
    clock.now = 401; // on the tick grid below, so deadlines fall exactly on ticks
    side.host.receive('p', 'keepalive:PONG');
    const frames: string[] = [];
    const drain = () => frames.push(...side.transport.sent.splice(0).map((s) => `${clock.now}:${s.frame}`));
    for (clock.now = 501; clock.now <= 10_000; clock.now += 100) {
      if (clock.now === restartAt) {
        if (graceful) await side.host.persistAll();
        drain();
        const records = JSON.parse(JSON.stringify(store.load())) as StoredConnection[];
        side = server(store, clock);
        expect(side.host.restore(records, clock.now)).toEqual(['p']);
      }
      side.host.tick(clock.now);
      if (answer && side.transport.sent.length > 0) side.host.receive('p', 'keepalive:PONG');
      drain();
    }
    return { frames, closed: side.transport.closed };
  }

  it('a new host resumes mid-probe with the same deadlines, counters and outcome', async () => {
    const uninterrupted = await probe(null, true);
    expect(uninterrupted.closed).toEqual([{ id: 'p', reason: 'peer dead: silent for 4000 ms, 3 keepalive PING(s) unanswered' }]);
    expect(uninterrupted.frames).toEqual(['1401:keepalive:PING', '2401:keepalive:PING', '3401:keepalive:PING']);
    for (const restartAt of [901, 1401, 2001, 3401, 4301]) expect(await probe(restartAt, true), `restart at ${restartAt}`).toEqual(uninterrupted);
  });

  it('after an abrupt restart (no persistAll) a peer that answers is never declared dead', async () => {
    for (const restartAt of [501, 901, 1401, 2001]) {
      const abrupt = await probe(restartAt, false, true);
      expect(abrupt.closed, `restart at ${restartAt}`).toEqual([]);
      // Unfolded signs of life (under one interval) were lost, so the first PING may come early.
      expect(Number(abrupt.frames[0]!.split(':')[0])).toBeGreaterThanOrEqual(1001);
    }
  });

  it('writes a snapshot before it carries out the effects of the step that made it', () => {
    const order: string[] = [];
    const store = new MemorySnapshotStore();
    const save = store.save.bind(store);
    store.save = (record) => {
      order.push(`save:${JSON.stringify((record.snapshot as unknown as { value: unknown }).value)}`);
      save(record);
    };
    const host = new Host({ codecs: createCodec, store, now: () => 0, transport: { send: (_, frame) => order.push(`send:${String(frame)}`), close: () => {} } });
    host.open({ id: 'c', role: 'client' });
    expect(order).toEqual(['save:{"alive":"watching"}', 'send:keepalive:ADVERTISE']);
  });

  it('drops the snapshot of a connection that ended', () => {
    const store = new MemorySnapshotStore();
    const host = new Host({ codecs: createCodec, store, transport: new LinkTransport(), now: () => 0 });
    host.open({ id: 'x', role: 'server' });
    expect(store.records.has('x')).toBe(true);
    host.peerClosed('x');
    expect(store.records.has('x')).toBe(false);
  });

  it('keeps snapshots in memory by default, so a fresh host given that store resumes every connection', () => {
    let now = 0;
    const first = new Host({ codecs: createCodec, transport: new LinkTransport(), now: () => now });
    first.open({ id: 'a', role: 'server', interval: 1000, count: 2 });
    first.receive('a', 'keepalive:ADVERTISE');
    first.tick((now = 1000)); // PING out, unanswered 1
    expect(first.store).toBeInstanceOf(MemorySnapshotStore);
    const second = new Host({ codecs: createCodec, transport: new LinkTransport(), now: () => now, store: first.store });
    expect(second.restore(first.store.load() as Iterable<StoredConnection>, now)).toEqual(['a']);
    expect(second.view('a')).toEqual(first.view('a'));
    expect(second.view('a')).toMatchObject({ state: 'alive.probing', unanswered: 1, wakeAt: 2000 });
  });
});

describe('the host\'s own in-memory store', () => {
  it('is not written per step, and loads every live connection as it is now, pending signs of life folded in', () => {
    let now = 0;
    const host = new Host({ codecs: createCodec, transport: new LinkTransport(), now: () => now });
    host.open({ id: 'a', role: 'server', interval: 1000, count: 2 });
    host.receive('a', 'keepalive:ADVERTISE');
    const store = host.store as MemorySnapshotStore;
    expect(store.savesEachStep).toBe(false);
    expect(store.records.size).toBe(0);
    now = 400;
    host.receive('a', 'keepalive:PONG'); // pending, not yet folded
    const [record] = [...store.load()] as StoredConnection[];
    expect(record).toMatchObject({ id: 'a', stream: false });
    expect((record!.snapshot as unknown as { context: { lastSignOfLife: number } }).context.lastSignOfLife).toBe(400);
    host.peerClosed('a');
    expect([...store.load()]).toEqual([]);
  });

  it('a store handed in is written on every step, as before', () => {
    const store = new MemorySnapshotStore();
    const host = new Host({ codecs: createCodec, store, transport: new LinkTransport(), now: () => 0 });
    expect(store.savesEachStep).toBe(true);
    host.open({ id: 'x', role: 'server' });
    expect(store.records.has('x')).toBe(true);
  });
});

describe('event listeners', () => {
  it('every subscriber sees every event until it unsubscribes', () => {
    let now = 0;
    const first: HostEvent[] = [];
    const second: HostEvent[] = [];
    const host = new Host({ codecs: createCodec, transport: new LinkTransport(), now: () => now, onEvent: (e) => first.push(e) });
    const off = host.subscribe((e) => second.push(e));
    host.open({ id: 'a', role: 'server', interval: 1000 });
    host.receive('a', 'keepalive:ADVERTISE');
    off();
    host.receive('a', 'keepalive:PING', (now = 10));
    expect(second.map((e) => e.type)).toEqual(['opened', 'received']);
    expect(first.map((e) => e.type)).toEqual(['opened', 'received', 'received', 'sent']);
  });
});

describe('the timer queue', () => {
  it('tells the adapter where to arm its one timer, only when the earliest deadline moved, and after every tick', () => {
    let now = 0;
    const wakes: (number | null)[] = [];
    const host = new Host({ codecs: createCodec, transport: new LinkTransport(), now: () => now, onNextWake: (at) => wakes.push(at) });
    host.open({ id: 'a', role: 'client', interval: 1000 });
    host.open({ id: 'b', role: 'client', interval: 500 });
    host.open({ id: 'c', role: 'client', interval: 2000 }); // later than b: nothing to re-arm
    expect(wakes).toEqual([1000, 500]);
    host.receive('c', 'hello'); // a sign of life on the fast path moves nothing
    expect(wakes).toEqual([1000, 500]);
    host.tick((now = 500)); // b PINGs, next at 1000
    expect(wakes).toEqual([1000, 500, 1000]);
    host.tick((now = 600)); // a spurious wake still re-arms
    expect(wakes).toEqual([1000, 500, 1000, 1000]);
    for (const id of ['a', 'b', 'c']) host.close(id);
    expect(wakes.at(-1)).toBeNull();
  });

  it('fold(id) folds one connection now and reports the later earliest deadline', () => {
    let now = 0;
    const wakes: (number | null)[] = [];
    const host = new Host({ codecs: createCodec, transport: new LinkTransport(), now: () => now, onNextWake: (at) => wakes.push(at) });
    host.open({ id: 'a', role: 'client', interval: 1000 });
    host.open({ id: 'b', role: 'client', interval: 1000, at: 100 });
    host.receive('a', 'keepalive:PONG', (now = 300)); // pending: the queue still says 1000
    expect(host.nextWake()).toBe(1000);
    const steps = host.stats.steps;
    expect(host.fold('a')).toBe(true);
    expect(host.stats.steps).toBe(steps + 1);
    // a is now due at 1300, so b's 1100 is the earliest: reported.
    expect(host.nextWake()).toBe(1100);
    expect(wakes.at(-1)).toBe(1100);
    expect(host.view('a')).toMatchObject({ lastSignOfLife: 300, wakeAt: 1300 });
    // Nothing pending: no step, no report.
    expect(host.fold('a')).toBe(true);
    expect(host.stats.steps).toBe(steps + 1);
    expect(wakes.at(-1)).toBe(1100);
    expect(host.fold('nobody')).toBe(false);
  });

  it('a tick steps only the due connections', () => {
    let now = 0;
    const host = new Host({ codecs: createCodec, transport: new LinkTransport(), now: () => now });
    for (let i = 0; i < 1000; i++) host.open({ role: 'client', interval: 1000 + i, count: 2 });
    const before = host.stats.steps;
    now = 1004;
    host.tick(now);
    expect(host.stats.steps - before).toBe(5);
    expect(host.nextWake()).toBe(1005);
  });
});

describe('inspection', () => {
  it('an inspect observer sees every connection actor, each frame as an event, and its snapshots', () => {
    const seen: { type: string; id: string; event?: string; value?: unknown }[] = [];
    const host = new Host({ codecs: createCodec,
      transport: new LinkTransport(),
      now: () => 0,
      inspect: (e) =>
        seen.push({
          type: e.type,
          id: (e.actorRef as { id?: string }).id ?? '',
          ...(e.type === '@xstate.event' ? { event: e.event.type } : {}),
          ...(e.type === '@xstate.snapshot' ? { value: (e.snapshot as { value?: unknown }).value } : {}),
        }),
    });
    const ids = ['a', 'b', 'c'].map((id) => host.open({ id, role: 'server' }));
    for (const id of ids) {
      host.receive(id, 'keepalive:ADVERTISE');
      host.receive(id, 'keepalive:PING'); // with an inspector the host steps every frame
    }
    for (const id of ids) {
      const mine = seen.filter((s) => s.id === id);
      expect(mine.some((s) => s.type === '@xstate.actor')).toBe(true);
      expect(mine.filter((s) => s.type === '@xstate.event').map((s) => s.event)).toEqual(
        expect.arrayContaining(['xstate.init', 'peer.advertise', 'peer.ping']),
      );
      expect(mine.filter((s) => s.type === '@xstate.snapshot').at(-1)!.value).toEqual({ alive: 'watching' });
    }
    expect(host.stats.foldedFrames).toBe(0);
  });
});

describe('abuse limits', () => {
  it('closes a peer that floods PINGs, after answering at most the limit, and leaves others alone', () => {
    const transport = new LinkTransport();
    let now = 0;
    const host = new Host({ codecs: createCodec, transport, now: () => now, maxPingsPerInterval: 10 });
    const [flooder, calm] = ['f', 'c'].map((id) => host.open({ id, role: 'server', interval: 1000 }));
    host.receive(flooder!, 'keepalive:ADVERTISE');
    host.receive(calm!, 'keepalive:ADVERTISE');
    for (let i = 0; i < 10; i++) host.receive(flooder!, 'keepalive:PING', (now = 100 * i)); // 10 in one window: fine
    now = 1000; // a new window
    for (let i = 0; i < 50 && host.has(flooder!); i++) host.receive(flooder!, 'keepalive:PING');
    host.receive(calm!, 'keepalive:PING');
    expect(transport.sent.filter((s) => s.id === 'f')).toHaveLength(20);
    expect(transport.closed).toEqual([{ id: 'f', reason: 'protocol error (flood): more than 10 PINGs within 1000 ms' }]);
    expect(host.view(calm!)).toMatchObject({ state: 'alive.watching', pongsSent: 1 });
  });

  it('refuses connections past the cap with a CapacityError', async () => {
    const { CapacityError } = await import('../../runtime/host/host.ts');
    const host = new Host({ codecs: createCodec, transport: new LinkTransport(), maxConnections: 2 });
    host.open({ role: 'server' });
    host.open({ role: 'server' });
    expect(host.atCapacity).toBe(true);
    expect(() => host.open({ role: 'server' })).toThrow(CapacityError);
    expect(host.size).toBe(2);
  });
});

describe('tag', () => {
  it('is handed back with each application frame of its connection, never with keepalive frames, and goes with the connection', () => {
    const seen: [string, unknown, unknown][] = [];
    const host = new Host({ codecs: createCodec, now: () => 0, transport: { send() {}, close() {} }, onMessage: (id, data, _at, tag) => void seen.push([id, data, tag]) });
    const a = host.open({ id: 'a', role: 'server', at: 0 });
    const b = host.open({ id: 'b', role: 'server', at: 0 });
    const handle = { name: 'a handle' };
    expect(host.tag(a, handle)).toBe(true);
    host.receive(a, 'keepalive:ADVERTISE', 1);
    host.receive(a, 'hello', 2);
    host.receive(b, 'hi', 3);
    host.receive(a, 'keepalive:PING', 4);
    expect(seen).toEqual([
      ['a', 'hello', handle],
      ['b', 'hi', undefined],
    ]);
    host.close(a, 'done', 5);
    expect(host.tag(a, handle)).toBe(false);
  });
});
