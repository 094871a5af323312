/**
 * Model-based checks of the statechart: every state and every declared transition is
 * reached by XState's own path finder, and random traces match a tiny reference model
 * of the keepalive rule written independently of the machine.
 */
import fc from 'fast-check';
import { getAdjacencyMap, getShortestPaths, getStateNodes } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import type { ActorLogic } from 'xstate';
import { keepaliveMachine, type KeepaliveEvent, type KeepaliveInput, type KeepaliveSnapshot } from '../../actors/keepalive.ts';
import { Stepper } from '../support/machine.ts';
import { endText } from '../../runtime/protocol/end-cause.ts';

const inputs: KeepaliveInput[] = [
  ...(['client', 'server'] as const).flatMap((role) => [true, false].map((sendPings) => ({ role, sendPings, interval: 100, count: 2, at: 0 }))),
  // A server with an ADVERTISE deadline, and a libvirt-dialect client (awaits, never advertises).
  ...[true, false].map((sendPings) => ({ role: 'server' as const, sendPings, interval: 100, count: 2, at: 0, advertiseTimeout: 250 })),
  { role: 'client', sendPings: true, interval: 100, count: 2, at: 0, advertise: false, awaitAdvertise: true },
  // count 0: the first due tick while watching is a verdict (one a `hold` can move).
  { role: 'server', sendPings: true, interval: 100, count: 0, at: 0 },
];

const advertisesFirst = (input: KeepaliveInput) => input.advertise ?? input.role === 'client';
const awaitsAdvertise = (input: KeepaliveInput) => input.awaitAdvertise ?? input.role === 'server';

// @xstate/graph's adjacency types predate emitted events; the machine is this logic.
const asLogic = keepaliveMachine as unknown as ActorLogic<KeepaliveSnapshot, KeepaliveEvent, KeepaliveInput>;

const serializeState = (s: KeepaliveSnapshot) =>
  JSON.stringify([s.value, s.context.unanswered, s.context.advertised, s.status, s.context.pingsReceived > 0]);

/** Events worth trying from a snapshot: due and early ticks, every inbound kind, a hold, both closes. */
function candidateEvents(snapshot: KeepaliveSnapshot): KeepaliveEvent[] {
  const c = snapshot.context;
  const now = Math.max(c.lastSignOfLife, c.intervalStart) + 10;
  const due = c.wakeAt ?? now;
  return [
    { type: 'tick', at: due },
    { type: 'tick', at: due - 1 },
    { type: 'tick', at: c.intervalStart - 50 },
    { type: 'peer.advertise', at: now },
    { type: 'peer.ping', at: now },
    { type: 'peer.pong', at: now },
    { type: 'peer.message', at: now },
    { type: 'hold', at: now, until: due + 50 },
    { type: 'close', at: now },
    { type: 'peer.closed', at: now },
  ];
}

describe('model-based coverage', () => {
  const paths = inputs.flatMap((input) =>
    getShortestPaths(keepaliveMachine, {
      input,
      events: candidateEvents,
      serializeState,
    }).map((path) => ({ input, path })),
  );

  it('reaches every state of the machine', () => {
    const reached = new Set<string>();
    for (const { path } of paths) {
      for (const node of path.state._nodes) reached.add(node.id);
    }
    const all = getStateNodes(keepaliveMachine)
      .map((node) => node.id)
      .filter((id) => id !== 'keepalive.opening'); // transient: left in the same step
    for (const id of all) expect(reached, id).toContain(id);
  });

  it('takes every transition each state declares, and each one changes something', () => {
    const taken = new Set<string>();
    for (const input of inputs) {
      const adjacency = getAdjacencyMap(asLogic, { input, events: candidateEvents, serializeState });
      for (const { state, transitions } of Object.values(adjacency)) {
        for (const { event, state: next } of Object.values(transitions) as { event: KeepaliveEvent; state: KeepaliveSnapshot }[]) {
          const changed = JSON.stringify(next.context) !== JSON.stringify(state.context) || next.value !== state.value;
          if (!changed) continue;
          for (const node of state._nodes) taken.add(`${node.id}:${event.type}`);
        }
      }
    }
    for (const node of getStateNodes(keepaliveMachine)) {
      for (const type of node.ownEvents) {
        if (type.startsWith('xstate.')) continue;
        expect(taken, `${node.id} on ${type}`).toContain(`${node.id}:${type}`);
      }
    }
  });

  it('on every path, a server sends nothing before ADVERTISE and nothing at all after dead or closed', () => {
    for (const { input, path } of paths) {
      const m = new Stepper(input);
      let advertised = !awaitsAdvertise(input);
      let ended = false;
      for (const step of path.steps.slice(1)) {
        const out = m.send(step.event);
        if (ended) expect(out).toEqual([]);
        if (!advertised) expect(out.filter((e) => e.type === 'send')).toEqual([]);
        if (step.event.type === 'peer.advertise') advertised = true;
        if (m.snapshot.status === 'done') ended = true;
      }
    }
  });

  it('on every path, only a missed ADVERTISE deadline closes a connection on a tick, and only where one was set', () => {
    let closedByDeadline = 0;
    for (const { input, path } of paths) {
      const m = new Stepper(input);
      for (const step of path.steps.slice(1)) {
        const before = m.snapshot;
        const out = m.send(step.event);
        if (step.event.type !== 'tick' || m.snapshot.value !== 'closed') continue;
        closedByDeadline++;
        expect(input.advertiseTimeout).toBeGreaterThan(0);
        expect(before.value).toBe('awaitingAdvertise');
        expect(step.event.at).toBeGreaterThanOrEqual(before.context.intervalStart + input.advertiseTimeout!);
        expect(out).toEqual([{ type: 'closed', at: step.event.at, cause: { cause: 'no-advertise', timeout: input.advertiseTimeout } }]);
      }
    }
    expect(closedByDeadline).toBeGreaterThan(0);
  });
});

/** The rule of virkeepalive.c, written as plainly as possible. */
function reference(input: KeepaliveInput, events: KeepaliveEvent[]) {
  const out: string[] = advertisesFirst(input) ? ['ADVERTISE'] : [];
  let advertised = !awaitsAdvertise(input);
  // Before ADVERTISE: when the wait began (the deadline counts from here); after: the interval's start.
  let start = input.at;
  const deadline = input.advertiseTimeout || null;
  let unanswered = 0;
  // A verdict held back by `hold` (while `count` PINGs are out), or null.
  let heldUntil: number | null = null;
  let over = false;
  for (const e of events) {
    if (over) break;
    switch (e.type) {
      case 'close':
      case 'peer.closed':
        out.push('closed');
        over = true;
        break;
      case 'tick':
        if (!advertised && deadline !== null) {
          if (e.at < start) start = e.at;
          else if (e.at >= start + deadline) {
            out.push(`no ADVERTISE within ${deadline} ms@${e.at}`);
            over = true;
          }
        }
        if (!advertised || !input.sendPings) break;
        if (e.at < start) {
          start = e.at;
          heldUntil = null;
        } else if (e.at >= (heldUntil ?? start + input.interval)) {
          if (unanswered >= input.count) {
            out.push(`dead@${e.at}`);
            over = true;
          } else {
            out.push(`PING@${e.at}`);
            unanswered++;
            start = e.at;
          }
        }
        break;
      case 'hold':
        if (advertised && input.sendPings && unanswered >= input.count) heldUntil = Math.max(heldUntil ?? start + input.interval, e.until);
        break;
      default:
        if (e.type === 'peer.advertise') advertised = true;
        if (!advertised) break;
        if (e.type === 'peer.ping') out.push(`PONG@${e.at}`);
        start = e.at;
        unanswered = 0;
        heldUntil = null;
    }
  }
  return out;
}

function machineTrace(input: KeepaliveInput, events: KeepaliveEvent[]) {
  const m = new Stepper(input);
  let at = input.at;
  const out: string[] = m.sends();
  for (const e of events) {
    at = e.at;
    for (const effect of m.send(e)) {
      if (effect.type === 'send') out.push(`${effect.message}@${at}`);
      else if (effect.type === 'dead') out.push(`dead@${effect.at}`);
      else out.push(effect.cause.cause === 'no-advertise' ? `${endText(effect.cause)}@${effect.at}` : 'closed');
    }
  }
  return out;
}

const eventArb = fc.record({
  kind: fc.constantFrom('tick', 'tick', 'tick', 'peer.ping', 'peer.pong', 'peer.message', 'peer.advertise', 'hold', 'close', 'peer.closed'),
  // Now and then time goes back (an NTP step): both must re-anchor the same way.
  gap: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 250 }) }, { weight: 1, arbitrary: fc.integer({ min: -400, max: -1 }) }),
  // A hold's `until`, ahead of its own time.
  hold: fc.integer({ min: 0, max: 400 }),
});

describe('against a reference model', () => {
  it('random traces send the same messages at the same times and die at the same time', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...inputs),
        fc.integer({ min: 0, max: 4 }),
        fc.constantFrom(undefined, null, 0, 150, 600),
        fc.array(eventArb, { maxLength: 60 }),
        (base, count, advertiseTimeout, steps) => {
          const input = { ...base, count, ...(advertiseTimeout === undefined ? {} : { advertiseTimeout }) };
          let at = 0;
          const events = steps.map((s) => {
            at += s.gap;
            return (s.kind === 'hold' ? { type: 'hold', at, until: at + s.hold } : { type: s.kind, at }) as KeepaliveEvent;
          });
          const expected = reference(input, events).map((s) => (s.startsWith('ADVERTISE') ? 'ADVERTISE' : s));
          const actual = machineTrace(input, events).map((s) => (s.startsWith('ADVERTISE') ? 'ADVERTISE' : s));
          expect(actual).toEqual(expected);
        },
      ),
      { numRuns: 500, seed: 20261125 },
    );
  });

  it('a peer silent after any trace is declared dead exactly interval*(count+1) after its last message', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('client', 'server'),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.integer({ min: 1, max: 3000 }), { maxLength: 20 }),
        (role, interval, count, gaps) => {
          const m = new Stepper({ role, interval, count, sendPings: true, at: 0 });
          m.send({ type: 'peer.advertise', at: 0 });
          let last = 0;
          for (const gap of gaps) {
            // Ticks run exactly on time, as the host does; a message lands only if the peer still lives.
            m.runUntil(last + gap - 1);
            if (m.snapshot.status !== 'active') return;
            last += gap;
            m.send({ type: 'peer.pong', at: last });
          }
          m.runUntil(Number.MAX_SAFE_INTEGER);
          expect(m.emitted.at(-1)).toMatchObject({ type: 'dead', at: last + interval * (count + 1) });
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });
});
