/**
 * The lean transition (runtime/host/lean-transition.ts) steps the keepalive machine without
 * XState's per-step snapshots. It must be XState, step for step: same states, context,
 * tags and emitted events for any trace; it must really take the hot path; and where a
 * step is outside what it does, it must leave the snapshot untouched for XState.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { and, type AnyStateNode, assign, createActor, emit, not, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { ActorStepper, SnapshotStepper } from '../../runtime/host/stepper.ts';
import { leanStep, type MutableSnapshot } from '../../runtime/host/lean-transition.ts';
import { type KeepaliveEmitted, type KeepaliveEvent, type KeepaliveInput, keepaliveMachine, type KeepaliveSnapshot } from '../../actors/keepalive.ts';

const view = (s: KeepaliveSnapshot) => ({ value: s.value, status: s.status, context: { ...s.context }, tags: [...s.tags].sort() });

type Gen = { gap: number; kind: 'peer.advertise' | 'peer.ping' | 'peer.pong' | 'peer.message' | 'folded' | 'tick' | 'back' | 'hold' | 'close' | 'peer.closed'; n: number };

function events(trace: Gen[], interval: number): KeepaliveEvent[] {
  let at = 0;
  return trace.map(({ gap, kind, n }) => {
    at += gap;
    switch (kind) {
      case 'folded':
        return { type: 'peer.message', at, folded: { pings: n % 3, pongs: n % 2, messages: n % 5 }, tick: at + (n % 3) * interval };
      case 'back':
        return { type: 'tick', at: at - n };
      case 'hold':
        return { type: 'hold', at, until: at + n * 10 };
      case 'close':
      case 'peer.closed':
        return { type: kind, at, ...(n % 2 ? { reason: `r${n}` } : {}) };
      default:
        return { type: kind, at };
    }
  });
}

const genArb = fc.record({
  gap: fc.integer({ min: 0, max: 250 }),
  kind: fc.constantFrom<Gen['kind']>('peer.advertise', 'peer.ping', 'peer.pong', 'peer.message', 'folded', 'folded', 'tick', 'tick', 'tick', 'back', 'hold', 'close', 'peer.closed'),
  n: fc.integer({ min: 0, max: 60 }),
});

const inputArb = fc.record({
  role: fc.constantFrom<'client' | 'server'>('client', 'server'),
  interval: fc.integer({ min: 1, max: 200 }),
  count: fc.integer({ min: 0, max: 4 }),
  sendPings: fc.boolean(),
  at: fc.constant(0),
  advertiseTimeout: fc.option(fc.integer({ min: 0, max: 500 }), { nil: undefined }),
  awaitAdvertise: fc.option(fc.boolean(), { nil: undefined }),
});

describe('lean transition', () => {
  it('steps like a live XState actor for any trace: states, context, tags and emitted events', () => {
    fc.assert(
      fc.property(inputArb, fc.array(genArb, { maxLength: 60 }), (input: KeepaliveInput, trace) => {
        const leanOut: KeepaliveEmitted[] = [];
        const actorOut: KeepaliveEmitted[] = [];
        const lean = new SnapshotStepper({ input }, leanOut);
        const actor = new ActorStepper('x', { input }, actorOut);
        expect(view(lean.snapshot)).toEqual(view(actor.snapshot));
        for (const event of events(trace, input.interval)) {
          lean.step(event, leanOut);
          actor.step(event);
          expect(view(lean.snapshot)).toEqual(view(actor.snapshot));
          expect(leanOut).toEqual(actorOut);
          if (actor.snapshot.status !== 'active') break; // a stopped actor takes no events (and says so)
        }
        expect(lean.persisted()).toEqual(actor.persisted());
      }),
      { numRuns: 2000, seed: 7 },
    );
  });

  it('takes the steps a connection takes at rest itself, and leaves a verdict to XState untouched', () => {
    const out: KeepaliveEmitted[] = [];
    const stepper = new SnapshotStepper({ input: { role: 'server', interval: 100, count: 2, sendPings: true, at: 0 } }, out);
    const snapshot = stepper.snapshot as unknown as MutableSnapshot;
    const scope = { self: undefined, system: undefined };
    const lean = (event: KeepaliveEvent) => leanStep(snapshot, event, scope, out, () => undefined);
    // Through XState once, so each state's shared shape is known (the host does the same).
    stepper.step({ type: 'peer.advertise', at: 0 }, out);
    stepper.step({ type: 'tick', at: 100 }, out);
    stepper.step({ type: 'peer.pong', at: 120 }, out);
    expect(stepper.snapshot.value).toEqual({ alive: 'watching' });
    out.length = 0;

    // A sign of life folded with the tick that PINGs, from watching: it enters probing.
    expect(lean({ type: 'peer.message', at: 150, folded: { pongs: 1 }, tick: 250 })).toBe(false);
    expect(stepper.snapshot.value).toEqual({ alive: 'watching' }); // its target's shape unknown here: nothing ran
    expect(out).toEqual([]);

    const known = new SnapshotStepper({ input: { role: 'server', interval: 100, count: 2, sendPings: true, at: 0 } }, []);
    known.step({ type: 'peer.advertise', at: 0 }, []);
    known.step({ type: 'tick', at: 100 }, []); // probing: its shape is interned now
    out.length = 0;
    const before = view(stepper.snapshot);
    stepper.step({ type: 'peer.message', at: 150, folded: { pongs: 1 }, tick: 250 }, out);
    expect(out).toEqual([{ type: 'send', message: 'PING' }]);
    expect(stepper.snapshot.value).toEqual({ alive: 'probing' });
    expect(stepper.snapshot.context).toMatchObject({ pongsReceived: before.context.pongsReceived + 1, unanswered: 1, wakeAt: 350, lastSignOfLife: 150 });

    // The same in probing is targetless: lean, whatever shapes are known.
    out.length = 0;
    expect(lean({ type: 'peer.message', at: 360, folded: { pongs: 1 }, tick: 460 })).toBe(true);
    expect(out).toEqual([{ type: 'send', message: 'PING' }]);
    expect(stepper.snapshot.context.wakeAt).toBe(560);
    expect(lean({ type: 'tick', at: 559 })).toBe(true); // not due: nothing
    expect(lean({ type: 'tick', at: 560 })).toBe(true); // the second PING
    expect(stepper.snapshot.context.unanswered).toBe(2);

    // The verdict enters a final state: XState's, and the snapshot is as it was.
    out.length = 0;
    const untouched = view(stepper.snapshot);
    expect(lean({ type: 'tick', at: 660 })).toBe(false);
    expect(view(stepper.snapshot)).toEqual(untouched);
    expect(out).toEqual([]);
    stepper.step({ type: 'tick', at: 660 }, out);
    expect(stepper.snapshot.status).toBe('done');
    expect(out).toEqual([{ type: 'dead', at: 660, silentFor: 300, unanswered: 2 }]);
    expect(lean({ type: 'peer.ping', at: 670 })).toBe(false); // done: XState's
  });

  it('leaves to XState what it does not do: entry actions, eventless transitions, wildcards, custom actions', () => {
    const machine = setup({
      types: { context: {} as { n: number }, events: {} as { type: 'go' | 'stay' | 'custom' | 'other' } },
      actions: { bump: assign({ n: ({ context }) => context.n + 1 }), say: emit({ type: 'said' }), custom: () => {} },
    }).createMachine({
      context: { n: 0 },
      initial: 'a',
      states: {
        a: { on: { go: { target: 'b', actions: 'bump' }, stay: { actions: ['bump', 'say'] }, custom: { actions: 'custom' } } },
        b: { entry: 'say' },
        c: { always: { target: 'a' } },
        w: { on: { '*': { actions: 'bump' } } },
      },
    });
    const snapshot = machine.getInitialSnapshot({ self: undefined, system: undefined } as never) as unknown as MutableSnapshot;
    const copy = () => ({ value: snapshot.value, context: { ...snapshot.context } });
    const out: unknown[] = [];
    const known = () => ({ value: 'b', _nodes: [], tags: new Set<string>() });
    const scope = { self: undefined, system: undefined };
    expect(leanStep(snapshot, { type: 'stay' }, scope, out, known)).toBe(true);
    expect(copy()).toEqual({ value: 'a', context: { n: 1 } });
    expect(out).toEqual([{ type: 'said' }]);
    const before = copy();
    expect(leanStep(snapshot, { type: 'go' }, scope, out, known)).toBe(false); // b has an entry action
    expect(leanStep(snapshot, { type: 'custom' }, scope, out, known)).toBe(false); // not assign or emit
    expect(copy()).toEqual(before);
    expect(leanStep(snapshot, { type: 'other' }, scope, out, known)).toBe(true); // no transition: nothing
    expect(copy()).toEqual(before);
    expect(out).toHaveLength(1);
    for (const value of ['c', 'w']) {
      const resting = machine.resolveState({ value, context: { n: 5 } }) as unknown as MutableSnapshot;
      expect(leanStep(resting, { type: 'other' }, scope, out, known)).toBe(false);
      expect(resting.context).toEqual({ n: 5 });
    }
  });
});

/**
 * lean-transition.ts reads XState's internals, not its public API: a state node's
 * `transitions` and what each holds, its `entry`/`exit`/`invoke`/`always`/`type`/`parent`,
 * the objects `assign()` and `emit()` make, a built-in guard's `check`, and a snapshot's
 * `_nodes`. xstate is pinned to an exact version for it (package.json); this says at once,
 * naming the property, when a new version reshapes one, before a step goes wrong.
 */
describe("XState's internals that runtime/host/lean-transition.ts reads", () => {
  const version = (JSON.parse(readFileSync(new URL('../../node_modules/xstate/package.json', import.meta.url), 'utf8')) as { version: string }).version;
  const MUST = 'runtime/host/lean-transition.ts must be updated';

  /** Every failed expectation, each naming the internal and the file to change. */
  function problems(check: (need: (ok: boolean, what: string) => void) => void): string {
    const found: string[] = [];
    check((ok, what) => {
      if (!ok && !found.includes(what)) found.push(what);
    });
    return found.map((what) => `xstate ${version}: ${what}: ${MUST}`).join('\n');
  }

  const isNode = (value: unknown): value is AnyStateNode => typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' && 'parent' in value;
  const nodesOf = (node: AnyStateNode): AnyStateNode[] => [node, ...Object.values(node.states as Record<string, AnyStateNode>).flatMap(nodesOf)];

  it("a state node's transitions, actions, targets and guards have the shape it reads, on the real keepalive machine", () => {
    const machine = keepaliveMachine;
    const nodes = nodesOf(machine.root);
    expect(nodes.length).toBeGreaterThan(5);
    const report = problems((need) => {
      for (const node of nodes) {
        need(node.transitions instanceof Map && [...node.transitions.values()].every(Array.isArray), "XState's StateNode.transitions is no longer a Map of arrays (event type -> transitions, in XState's order)");
        need(Array.isArray(node.entry) && Array.isArray(node.exit) && Array.isArray(node.invoke), "XState's StateNode.entry, .exit and .invoke are no longer arrays");
        need(node.always === undefined || Array.isArray(node.always), "XState's StateNode.always is no longer undefined or an array");
        need(['atomic', 'compound', 'parallel', 'final', 'history'].includes(node.type), `XState's StateNode.type is no longer one of atomic, compound, parallel, final, history (got ${String(node.type)})`);
        need(node === machine.root ? node.parent === undefined : isNode(node.parent) && Object.values(node.parent.states).includes(node), "XState's StateNode.parent no longer leads from a state to its parent (undefined at the root)");
        need(node.machine === machine, "XState's StateNode.machine is no longer the machine");
        for (const transitions of node.transitions instanceof Map ? node.transitions.values() : []) {
          for (const t of Array.isArray(transitions) ? (transitions as unknown[]) : []) {
            const { actions, target, guard } = t as { actions?: unknown; target?: unknown; guard?: unknown };
            need(Array.isArray(actions), "a transition's .actions is no longer an array");
            need(target === undefined || (Array.isArray(target) && target.every(isNode)), "a transition's .target is no longer undefined or an array of state nodes");
            need(guard === undefined || ['string', 'function', 'object'].includes(typeof guard), "a transition's .guard is no longer undefined, a name, a function or an object");
            for (const action of Array.isArray(actions) ? actions : []) {
              need(typeof action !== 'string' || typeof machine.implementations.actions[action] === 'function', `machine.implementations.actions no longer holds the named action ${String(action)}`);
            }
            need(typeof guard !== 'string' || typeof machine.implementations.guards[guard] === 'function', `machine.implementations.guards no longer holds the named guard ${String(guard)}`);
          }
        }
      }
    });
    if (report) throw new Error(report);
  });

  it('assign() and emit() still carry their argument as .assignment and .event, and a built-in guard still has .check', () => {
    const update = { n: 1 };
    const event = { type: 'said' };
    const report = problems((need) => {
      const assigned = assign(update) as unknown as { type?: unknown; assignment?: unknown };
      need(assigned.type === 'xstate.assign' && assigned.assignment === update, "XState's assign() no longer makes { type: 'xstate.assign', assignment }");
      const emitted = emit(event) as unknown as { type?: unknown; event?: unknown };
      need(emitted.type === 'xstate.emit' && emitted.event === event, "XState's emit() no longer makes { type: 'xstate.emit', event }");
      // A guard with .check is XState's own (and, or, not) and is left to XState; one without is called as (args, params).
      need(typeof (not('x') as unknown as { check?: unknown }).check === 'function' && typeof (and(['x']) as unknown as { check?: unknown }).check === 'function', "XState's built-in guards (and, not) no longer have .check");
      // The keepalive machine's hot path is made of these, so the lean step really takes it.
      const actions = keepaliveMachine.implementations.actions as Record<string, { type?: unknown }>;
      need(actions.signOfLife?.type === 'xstate.assign' && actions.sendPing?.type === 'xstate.emit', "the keepalive machine's named actions are no longer XState's assign and emit objects");
      const guards = keepaliveMachine.implementations.guards as Record<string, unknown>;
      need(Object.values(guards).every((g) => typeof g === 'function' && !('check' in g)), "the keepalive machine's named guards are no longer plain functions");
    });
    if (report) throw new Error(report);
  });

  it("a snapshot's _nodes, value, tags and status are what it reads and writes in place", () => {
    const snapshot = createActor(keepaliveMachine, { input: { role: 'client', interval: 1000, count: 5, sendPings: true, at: 0 } }).getSnapshot() as unknown as Record<string, unknown>;
    const report = problems((need) => {
      const nodes = snapshot._nodes;
      need(Array.isArray(nodes) && nodes.every(isNode) && nodes[0] === keepaliveMachine.root, "a snapshot's ._nodes is no longer the array of its active state nodes, root first");
      need(Array.isArray(nodes) && isNode(nodes.at(-1)) && (nodes.at(-1) as AnyStateNode).type === 'atomic', "a snapshot's ._nodes no longer ends with its atomic state");
      need(snapshot.tags instanceof Set, "a snapshot's .tags is no longer a Set");
      need(snapshot.status === 'active', "a snapshot's .status is no longer 'active' while it runs");
      need(snapshot.value !== undefined && typeof snapshot.context === 'object', "a snapshot no longer has .value and .context");
      need(!Object.isFrozen(snapshot), 'a snapshot is frozen: the lean step writes its value, _nodes and tags in place');
    });
    if (report) throw new Error(report);
  });
});
