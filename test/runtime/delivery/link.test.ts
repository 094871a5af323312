/**
 * Two delivery links over a simulated socket that a test can cut at any point: whatever is
 * in flight when it is cut is lost, as when a TCP connection dies. The links, not the socket,
 * must make every message arrive once, in order, both ways.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AppData } from '../../../runtime/application/index.ts';
import { DeliveryLink, type LinkRole } from '../../../runtime/delivery/link.ts';
import { encodeData, type DeliveryError } from '../../../runtime/delivery/wire.ts';

const LIMITS = { messages: 1000, bytes: 1 << 20 };
const INTERVAL = 1000;

interface Side {
  link: DeliveryLink;
  got: AppData[];
  seqs: number[];
  errors: DeliveryError[];
  /** Frames on their way to the other side. */
  inFlight: AppData[];
  keepalive: string[];
}

function pair(options: { limits?: typeof LIMITS; now?: () => number; epoch?: string } = {}) {
  const later: (() => void)[] = [];
  const make = (role: LinkRole): Side => {
    const side: Side = { link: null as unknown as DeliveryLink, got: [], seqs: [], errors: [], inFlight: [], keepalive: [] };
    side.link = new DeliveryLink({
      role,
      limits: options.limits ?? LIMITS,
      interval: INTERVAL,
      now: options.now ?? (() => 0),
      deliver: (data, seq) => {
        side.got.push(data);
        side.seqs.push(seq);
      },
      fail: (error) => side.errors.push(error),
      later: (callback) => later.push(callback),
    });
    return side;
  };
  const client = make('client');
  const server = make('server');
  server.link.epoch = options.epoch ?? 'epoch-1';
  const connect = () => {
    server.link.attach((frame) => server.inFlight.push(frame));
    client.link.attach((frame) => client.inFlight.push(frame));
  };
  const cut = () => {
    client.inFlight.length = 0;
    server.inFlight.length = 0;
    client.link.detach();
    server.link.detach();
  };
  /** Delivers up to `n` frames from `from` to the other side, then runs what was left for after the turn. */
  const flow = (from: Side, n = Infinity, inTheTurn?: () => void) => {
    const to = from === client ? server : client;
    for (let i = 0; i < n && from.inFlight.length > 0; i++) {
      const input = to.link.receive(from.inFlight.shift()!);
      if (input === 'PING' || input === 'PONG' || input === 'ADVERTISE') to.keepalive.push(input);
    }
    inTheTurn?.();
    for (const callback of later.splice(0)) callback();
  };
  const settle = () => {
    for (let i = 0; i < 1000 && (client.inFlight.length > 0 || server.inFlight.length > 0); i++) {
      flow(client);
      flow(server);
    }
  };
  return { client, server, connect, cut, flow, settle, later };
}

describe('two delivery links', () => {
  it('carry every message once, in order, both ways, however often the socket is cut', () => {
    type Op = { kind: 'send'; side: 'client' | 'server'; n: number } | { kind: 'flow'; side: 'client' | 'server'; n: number } | { kind: 'cut' } | { kind: 'ack' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('send' as const), side: fc.constantFrom('client' as const, 'server' as const), n: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ kind: fc.constant('flow' as const), side: fc.constantFrom('client' as const, 'server' as const), n: fc.integer({ min: 1, max: 8 }) }),
      fc.constant({ kind: 'cut' as const }),
      fc.constant({ kind: 'ack' as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const p = pair();
        const sent = { client: [] as string[], server: [] as string[] };
        let counter = 0;
        p.connect();
        for (const o of ops) {
          if (o.kind === 'send') {
            for (let i = 0; i < o.n; i++) {
              const data = `${o.side}-${counter++}`;
              expect(p[o.side].link.send(data)).toBe(true);
              sent[o.side].push(data);
            }
          } else if (o.kind === 'flow') p.flow(p[o.side], o.n);
          else if (o.kind === 'ack') {
            // The host's PING goes out through the link, carrying an ack when one is owed.
            const side = p[counter++ % 2 ? 'client' : 'server'];
            if (side.link.attached) side.inFlight.push(side.link.keepalive('PING'));
          } else {
            p.cut();
            p.connect();
          }
        }
        p.settle();
        expect(p.client.errors).toEqual([]);
        expect(p.server.errors).toEqual([]);
        expect(p.server.got).toEqual(sent.client);
        expect(p.client.got).toEqual(sent.server);
        expect(p.server.seqs).toEqual(sent.client.map((_, i) => i + 1));
        // Nothing delivered is held for ever: a last exchange of PINGs acknowledges it all.
        p.client.inFlight.push(p.client.link.keepalive('PING'));
        p.server.inFlight.push(p.server.link.keepalive('PING'));
        p.settle();
        expect(p.client.link.unacknowledged()).toEqual([]);
        expect(p.server.link.unacknowledged()).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('acknowledge on frames that go anyway: an echo carries it, and one goes alone at most once per interval', () => {
    let now = 0;
    const p = pair({ now: () => now });
    p.connect();
    p.settle();
    // A message and its echo in the same turn: the echo carries the acknowledgement, nothing goes alone.
    p.client.link.send('hi');
    p.flow(p.client, Infinity, () => p.server.link.send('echo'));
    expect(p.server.got).toEqual(['hi']);
    expect(p.server.inFlight).toEqual([encodeData(1, 1, 'echo')]);
    p.flow(p.server);
    expect(p.client.link.unacknowledged()).toEqual([]);
    // A one-way stream: one ACK alone for the first turn, then none for the rest of the interval.
    for (let i = 0; i < 50; i++) {
      now += 10;
      p.client.link.send(`m${i}`);
      p.flow(p.client);
    }
    expect(p.server.inFlight.filter((f) => typeof f === 'string' && f.startsWith('keepalive:ACK'))).toEqual(['keepalive:ACK 2']);
    // Past the interval, the next message's acknowledgement goes alone again.
    now += INTERVAL;
    p.client.link.send('late');
    p.flow(p.client);
    expect(p.server.inFlight.at(-1)).toBe('keepalive:ACK 52');
    // The keepalive frames carry an ack only when one is owed: a plain PONG otherwise.
    expect(p.server.link.keepalive('PONG')).toBe('keepalive:PONG');
    p.client.link.send('one more');
    p.flow(p.client);
    expect(p.server.link.keepalive('PONG')).toBe('keepalive:PONG 53');
  });

  it('hold what is sent while the socket is gone, and replay it in order on the next', () => {
    const p = pair();
    p.connect();
    p.settle();
    p.cut();
    for (const data of ['a', 'b', 'c']) expect(p.server.link.send(data)).toBe(true);
    expect(p.server.inFlight).toEqual([]);
    p.connect();
    p.settle();
    expect(p.client.got).toEqual(['a', 'b', 'c']);
  });

  it('refuse a message past the window at once, keeping everything held', () => {
    const p = pair({ limits: { messages: 2, bytes: 1 << 20 } });
    expect(p.server.link.send('1')).toBe(true);
    expect(p.server.link.send('2')).toBe(true);
    expect(p.server.link.send('3')).toBe(false);
    expect(p.server.link.unacknowledged().map((e) => e.data)).toEqual(['1', '2']);
    const bytes = pair({ limits: { messages: 10, bytes: 5 } });
    expect(bytes.server.link.send('héé')).toBe(true); // 5 bytes of UTF-8
    expect(bytes.server.link.send('x')).toBe(false);
  });

  it('start a new history when the server connection is new: the client renumbers what it holds', () => {
    const p = pair({ epoch: 'first' });
    p.connect();
    p.settle();
    p.client.link.send('seen');
    p.settle();
    p.cut();
    p.client.link.send('queued');
    // The server lost the connection (declared dead, say): a new one, a new epoch.
    const fresh = pair({ epoch: 'second' });
    fresh.client.link = p.client.link;
    fresh.client.inFlight = p.client.inFlight;
    const got: AppData[] = [];
    fresh.server.link = new DeliveryLink({ role: 'server', limits: LIMITS, interval: INTERVAL, deliver: (data) => got.push(data), fail: (e) => fresh.server.errors.push(e), later: queueMicrotask });
    fresh.server.link.epoch = 'second';
    fresh.connect();
    fresh.settle();
    expect(got).toEqual(['queued']);
    expect(p.client.link.epoch).toBe('second');
    expect(fresh.server.errors).toEqual([]);
  });
});

describe('a link whose store writes later (Deno KV, Redis)', () => {
  it('writes a message to the socket only once the store has it, and in order', async () => {
    const settle: (() => void)[] = [];
    const sent: AppData[] = [];
    const link = new DeliveryLink({
      role: 'server',
      limits: LIMITS,
      interval: INTERVAL,
      persistence: {
        append: () => new Promise<void>((resolve) => settle.push(resolve)),
        release: () => {},
        received: () => {},
        renumbered: () => {},
      },
      deliver: () => {},
      fail: (error) => {
        throw new Error(error.message);
      },
    });
    link.epoch = 'e';
    link.attach((frame) => sent.push(frame));
    link.receive('keepalive:RESUME e 0 0');
    sent.length = 0;
    link.send('a');
    link.send('b');
    expect(sent).toEqual([]);
    settle[1]!(); // the later write alone says nothing of the earlier one's ...
    await Promise.resolve();
    expect(sent).toEqual([encodeData(1, 0, 'a'), encodeData(2, 0, 'b')]); // ... but a store commits in order: both are in
    settle[0]!();
    await Promise.resolve();
    expect(sent).toHaveLength(2);
  });
});

describe('a server link restored from an older write (its process was killed)', () => {
  it('takes the floor the client says as received: what it acknowledged before dying reached its application then, and the rest comes again, with its sequence number', () => {
    const p = pair();
    p.connect();
    p.settle();
    for (const data of ['1', '2', '3', '4', '5']) p.client.link.send(data);
    p.flow(p.client, 4); // RESUME is settled: four messages arrive, 1 to 4
    p.server.inFlight.push(p.server.link.keepalive('PING')); // acknowledges 4 ...
    p.flow(p.server);
    expect(p.client.link.unacknowledged().map((e) => e.seq)).toEqual([5]);
    // ... but its store last wrote received = 2 before the kill.
    const got: [AppData, number][] = [];
    const errors: DeliveryError[] = [];
    const restored = new DeliveryLink({
      role: 'server',
      limits: LIMITS,
      interval: INTERVAL,
      restored: { counters: { epoch: 'epoch-1', received: 2, floor: 0, next: 1 }, entries: [] },
      deliver: (data, seq) => got.push([data, seq]),
      fail: (error) => errors.push(error),
      later: queueMicrotask,
    });
    p.cut();
    const toServer: AppData[] = [];
    restored.attach((frame) => p.client.link.receive(frame));
    p.client.link.attach((frame) => toServer.push(frame));
    while (toServer.length > 0) restored.receive(toServer.shift()!);
    p.client.link.send('6');
    while (toServer.length > 0) restored.receive(toServer.shift()!);
    expect(errors).toEqual([]);
    // 5 never arrived before: now it does, then 6; nothing acknowledged is asked for again.
    expect(got).toEqual([
      ['5', 5],
      ['6', 6],
    ]);
  });
});

describe('a delivery link under bad input', () => {
  const cases: [string, (p: ReturnType<typeof pair>) => void, DeliveryError['code']][] = [
    ['an ack beyond what was sent', (p) => p.server.link.receive('keepalive:ACK 5'), 'ack'],
    ['an ack that goes back', (p) => (p.server.link.send('x'), p.settle(), p.server.link.receive('keepalive:PING 1'), p.server.link.receive('keepalive:PING 0')), 'ack'],
    ['a sequence that skips', (p) => p.server.link.receive(encodeData(2, 0, 'x')), 'sequence'],
    ['a sequence that goes back', (p) => (p.server.link.receive(encodeData(1, 0, 'x')), p.server.link.receive(encodeData(1, 0, 'x'))), 'sequence'],
    ['a resume that claims more than was sent', (p) => (p.cut(), p.server.link.attach(() => {}), p.server.link.receive('keepalive:RESUME epoch-1 3 0')), 'resume'],
    ['a second RESUME on one socket', (p) => p.server.link.receive('keepalive:RESUME epoch-1 0 0'), 'resume'],
    ['an unframed application message', (p) => p.server.link.receive('hello'), 'malformed'],
  ];
  for (const [name, attack, code] of cases) {
    it(`fails once on ${name}, with code ${code}, and takes nothing more`, () => {
      const p = pair();
      p.connect();
      p.settle();
      attack(p);
      expect(p.server.errors.map((e) => e.code)).toEqual([code]);
      const before = p.server.got.length;
      expect(p.server.link.receive(encodeData(p.server.seqs.length + 1, 0, 'after'))).toBeNull();
      expect(p.server.got.length).toBe(before);
      expect(p.server.errors).toHaveLength(1);
    });
  }

  it('takes no DATA before the handshake', () => {
    const p = pair();
    p.server.link.attach(() => {});
    p.server.link.receive(encodeData(1, 0, 'early'));
    expect(p.server.errors.map((e) => e.code)).toEqual(['sequence']);
    expect(p.server.got).toEqual([]);
  });
});
