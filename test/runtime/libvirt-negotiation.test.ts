/**
 * The libvirt client handshake on a fake clock: a Host whose transport records every
 * frame, fed the bytes a libvirt daemon sends (recorded from libvirtd 9.0.0).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, KEEPALIVE_PROGRAM, KeepaliveProc } from '../../runtime/codec/libvirt.ts';
import { Host } from '../../runtime/host/host.ts';
import { LibvirtNegotiation, type KeepaliveSupport } from '../../runtime/protocol/libvirt-negotiation.ts';
import type { Frame } from '../../runtime/codec/codec.ts';
import type { HostEvent } from '../../runtime/host/types.ts';
import { endText } from '../../runtime/protocol/end-cause.ts';
import { createCodec } from '../../runtime/codec/index.ts';

const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const REPLY_1 = bytes('00000020 20008086 00000001 0000003c 00000001 00000001 00000000 00000001');
const REPLY_0 = bytes('00000020 20008086 00000001 0000003c 00000001 00000001 00000000 00000000');
const PING = bytes('0000001c 6b656570 00000001 00000001 00000002 00000000 00000000');
const PONG = bytes('0000001c 6b656570 00000001 00000002 00000002 00000000 00000000');
const ERROR_REPLY = (() => {
  const message = Buffer.from('internal error: hypervisor connection not open');
  const payload = Buffer.concat([bytes('00000001 00000007 00000001 0000002e'), message, bytes('0000 00000002 00000000 00000000 00000000 00000000 ffffffff ffffffff 00000000')]);
  return encodeMessage({ prog: 0x20008086, vers: 1, proc: 60, type: 1, serial: 1, status: 1 }, payload);
})();
const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

const INTERVAL = 1000;
const COUNT = 2;

function setup(onOutcome?: (support: KeepaliveSupport, at: number) => void) {
  let now = 0;
  const sent: Frame[] = [];
  const closed: string[] = [];
  const events: HostEvent[] = [];
  const host = new Host({ codecs: createCodec,
    now: () => now,
    transport: { send: (_, frame) => void sent.push(frame), close: (_, cause) => void closed.push(endText(cause)) },
    onEvent: (event) => events.push(event),
  });
  const id = host.open({
    role: 'client',
    codec: { name: 'libvirt', advertise: false },
    stream: true,
    advertise: false,
    awaitAdvertise: true,
    interval: INTERVAL,
    count: COUNT,
  });
  const outcomes: KeepaliveSupport[] = [];
  const negotiation = new LibvirtNegotiation({
    host,
    id,
    onOutcome: (support, at) => {
      outcomes.push(support);
      onOutcome?.(support, at);
    },
  });
  const run = (until: number) => {
    for (; now <= until; now += 50) host.tick(now);
    now = until;
  };
  const keepaliveSent = () =>
    sent.map((frame) => {
      const message = decodeMessage(frame as Uint8Array);
      if (message instanceof Error || message.header.prog !== KEEPALIVE_PROGRAM) throw new Error('sent a non-keepalive frame');
      return message.header.proc;
    });
  return { host, id, negotiation, sent, closed, events, outcomes, run, keepaliveSent, at: () => now, set: (t: number) => (now = t) };
}

describe('libvirt keepalive negotiation', () => {
  it('sends nothing until the reply; a reply of 1 is the daemon\'s ADVERTISE', () => {
    const t = setup();
    expect(t.sent).toEqual([]);
    expect([...t.negotiation.call]).toEqual([...bytes('00000020 20008086 00000001 0000003c 00000000 00000001 00000000 0000000a')]);
    // Silence before the reply is not timed: the actor has nothing to time yet.
    t.run(10 * INTERVAL);
    expect(t.sent).toEqual([]);
    expect(t.host.view(t.id)).toMatchObject({ state: 'awaitingAdvertise', wakeAt: null });

    expect(t.negotiation.receive(REPLY_1, t.at())).toBe(true);
    expect(t.outcomes).toEqual([{ supported: true }]);
    expect(t.host.view(t.id)).toMatchObject({ state: 'alive.watching', advertised: true, lastSignOfLife: t.at(), wakeAt: t.at() + INTERVAL });
    // Now a daemon PING is answered, and our own PINGs run per interval/count.
    t.negotiation.receive(PING, t.at());
    expect(t.keepaliveSent()).toEqual([KeepaliveProc.PONG]);
  });

  it('a silent daemon is declared dead exactly interval*(count+1) after its last message', () => {
    const t = setup();
    t.set(500);
    t.negotiation.receive(REPLY_1, 500);
    t.run(500 + 10 * INTERVAL);
    expect(t.keepaliveSent()).toEqual([KeepaliveProc.PING, KeepaliveProc.PING]);
    const dead = t.events.find((e) => e.type === 'dead');
    expect(dead).toMatchObject({ at: 500 + INTERVAL * (COUNT + 1), silentFor: INTERVAL * (COUNT + 1), unanswered: COUNT });
    expect(t.closed).toEqual([expect.stringMatching(/^peer dead: silent for 3000 ms/)]);
  });

  it('answers a PING that arrives in the same chunk as the reply, split at any byte', () => {
    const stream = concat(REPLY_1, PING, PONG);
    for (let cut = 0; cut <= stream.length; cut++) {
      const t = setup();
      t.negotiation.receive(stream.subarray(0, cut), 0);
      t.negotiation.receive(stream.subarray(cut), 0);
      expect(t.outcomes).toEqual([{ supported: true }]);
      expect(t.keepaliveSent()).toEqual([KeepaliveProc.PONG]);
      expect(t.host.view(t.id)).toMatchObject({ state: 'alive.watching', pingsReceived: 1, pongsReceived: 1 });
    }
  });

  it('keeps splitting until no partial frame is held, then hands raw chunks to the host', () => {
    const t = setup();
    const stream = concat(REPLY_1, PING, PING);
    t.negotiation.receive(stream.subarray(0, REPLY_1.length + 10), 0);
    t.negotiation.receive(stream.subarray(REPLY_1.length + 10, REPLY_1.length + 40), 0);
    t.negotiation.receive(stream.subarray(REPLY_1.length + 40), 0);
    expect(t.keepaliveSent()).toEqual([KeepaliveProc.PONG, KeepaliveProc.PONG]);
    // Raw chunk, split mid-frame: the host's own reader reassembles it.
    t.negotiation.receive(PING.subarray(0, 5), 1);
    t.negotiation.receive(PING.subarray(5), 2);
    expect(t.keepaliveSent()).toEqual([KeepaliveProc.PONG, KeepaliveProc.PONG, KeepaliveProc.PONG]);
  });

  it.each([
    ['a reply of 0', REPLY_0, 'the daemon replied supported=0'],
    ['an error reply', ERROR_REPLY, 'libvirt error 1 (domain 7): internal error: hypervisor connection not open'],
  ])('%s: says so, then sends no keepalive message at all and never declares death', (_, reply, reason) => {
    const t = setup();
    t.set(100);
    t.negotiation.receive(reply, 100);
    expect(t.outcomes).toEqual([{ supported: false, reason }]);
    // The reply still proves the daemon alive; its PINGs are not answered.
    expect(t.host.view(t.id)).toMatchObject({ state: 'awaitingAdvertise', lastSignOfLife: 100, advertised: false, wakeAt: null });
    t.negotiation.receive(PING, 200);
    t.run(3_600_000);
    expect(t.sent).toEqual([]);
    expect(t.closed).toEqual([]);
    expect(t.events.filter((e) => e.type === 'dead' || e.type === 'closed')).toEqual([]);
    expect(t.host.view(t.id)).toMatchObject({ pingsReceived: 1, lastSignOfLife: 200 });
  });

  it('the caller may close from onOutcome (keepalive required); nothing reaches the closed actor', () => {
    const t = setup();
    const closer = setup((support, at) => {
      if (!support.supported) closer.host.close(closer.id, `no keepalive: ${support.reason}`, at);
    });
    expect(closer.negotiation.receive(concat(REPLY_0, PING), 0)).toBe(false);
    expect(closer.closed).toEqual(['no keepalive: the daemon replied supported=0']);
    expect(closer.host.has(closer.id)).toBe(false);
    expect(closer.sent).toEqual([]);
    expect(t.host.has(t.id)).toBe(true);
  });

  it('frames before the reply are ordinary traffic: signs of life, never answered', () => {
    const t = setup();
    const event = encodeMessage({ prog: 0x20008086, vers: 1, proc: 999, type: 2, serial: 0, status: 0 });
    const otherSerial = encodeMessage({ prog: 0x20008086, vers: 1, proc: 60, type: 1, serial: 7, status: 0 }, bytes('00000001'));
    t.negotiation.receive(concat(event, otherSerial, PING), 40);
    expect(t.negotiation.outcome).toBeNull();
    expect(t.sent).toEqual([]);
    expect(t.host.view(t.id)).toMatchObject({ state: 'awaitingAdvertise', messagesReceived: 2, pingsReceived: 1, lastSignOfLife: 40 });
  });

  it.each([
    ['a malformed reply to our serial', bytes('0000001c 20008086 00000001 0000003c 00000001 00000001 00000000'), /protocol error \(truncated\)/],
    ['a length word of 2 GiB', bytes('7fffffff 20008086'), /protocol error \(oversized\)/],
    ['a length word shorter than a header', bytes('00000008 00000000'), /protocol error \(malformed\)/],
  ])('closes the one connection on %s', (_, data, reason) => {
    const t = setup();
    expect(t.negotiation.receive(data, 0)).toBe(false);
    expect(t.closed).toEqual([expect.stringMatching(reason)]);
    expect(t.host.has(t.id)).toBe(false);
    expect(t.negotiation.receive(REPLY_1, 1)).toBe(false);
    expect(t.sent).toEqual([]);
  });

  it('never sends ADVERTISE (procedure 3), whatever the daemon sends', () => {
    const frames = [REPLY_1, REPLY_0, PING, PONG, ERROR_REPLY];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...frames), fc.integer({ min: 0, max: 2500 })), { maxLength: 30 }), (script) => {
        const t = setup();
        let at = 0;
        for (const [frame, gap] of script) {
          t.run((at += gap));
          t.negotiation.receive(frame, at);
        }
        t.run(at + 10_000);
        expect(t.keepaliveSent().every((proc) => proc === KeepaliveProc.PING || proc === KeepaliveProc.PONG)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
