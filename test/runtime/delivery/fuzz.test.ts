/**
 * Delivery mode under hostile input, on a hub's links over one host (runtime/hub/delivery.ts),
 * with fast-check: an attacker's connection gets arbitrary frames, and frames that break one
 * rule each (an acknowledgement beyond what was sent or going back, a DATA that skips or
 * repeats, a second RESUME or one that claims more than was sent, an oversized or malformed
 * frame, plain text with no DATA header). The hub never throws; the attacker is closed once,
 * with cause `delivery` and the code the rule predicts; a bystander streaming beside it gets
 * every message once, in order, and its peer every message of the hub, exactly as on a hub
 * that never saw the attack. `npm run test:stress` runs it at length (KEEPALIVE_STRESS=1).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AppData } from '../../../runtime/application/index.ts';
import { encodeAck, encodeData, encodeResume } from '../../../runtime/delivery/wire.ts';
import { Host, type ConnectionId } from '../../../runtime/host/index.ts';
import { DELIVERY_META, HubDelivery } from '../../../runtime/hub/delivery.ts';
import type { EndCause } from '../../../runtime/protocol/end-cause.ts';
import { quickOr, STRESS_TIMEOUT } from '../../support/stress.ts';

const MAX_FRAME = 512;

function rig() {
  let now = 1_000;
  const out = new Map<ConnectionId, AppData[]>();
  const got = new Map<ConnectionId, { data: AppData; seq: number }[]>();
  const closed = new Map<ConnectionId, EndCause[]>();
  const delivery: { hub?: HubDelivery } = {};
  const host = new Host({
    now: () => now,
    maxFrameBytes: MAX_FRAME,
    maxPingsPerInterval: 0,
    transport: {
      send: (id, frame) => {
        const link = delivery.hub;
        out.get(id)?.push(link && (frame === 'keepalive:PING' || frame === 'keepalive:PONG') ? link.link(id)!.keepalive(frame === 'keepalive:PING' ? 'PING' : 'PONG') : frame);
      },
      close: (id, cause) => closed.set(id, [...(closed.get(id) ?? []), cause]),
    },
  });
  const hub = new HubDelivery({
    host,
    limits: { messages: 100, bytes: 1 << 16 },
    maxFrameBytes: MAX_FRAME,
    deliver: (id, data, seq) => got.get(id)!.push({ data, seq }),
  });
  delivery.hub = hub;
  const open = (id: ConnectionId) => {
    host.open({ id, role: 'server', interval: 1000, count: 3, meta: { [DELIVERY_META]: '1' } });
    out.set(id, []);
    got.set(id, []);
    hub.attach(id, { send: (frame) => out.get(id)!.push(frame), close: () => {} });
    // The client's side of the handshake: ADVERTISE, then RESUME for a new history.
    hub.receive(id, 'keepalive:ADVERTISE', now);
    hub.receive(id, encodeResume(null, 0, 0), now);
  };
  return { host, hub, out, got, closed, open, clock: { set: (at: number) => (now = at), get: () => now } };
}

type Attack =
  | { kind: 'ack-beyond'; extra: number }
  | { kind: 'ack-back' }
  | { kind: 'data-skip'; by: number }
  | { kind: 'data-repeat' }
  | { kind: 'resume-again' }
  | { kind: 'oversized' }
  | { kind: 'malformed'; text: string }
  | { kind: 'plain'; text: string }
  | { kind: 'noise'; frame: string | Uint8Array };

/** The code a rule-breaking frame closes the attacker with; null: noise, judged by the frame itself. */
const EXPECTED: Record<Attack['kind'], string | null> = {
  'ack-beyond': 'ack',
  'ack-back': 'ack',
  'data-skip': 'sequence',
  'data-repeat': 'sequence',
  'resume-again': 'resume',
  oversized: 'oversized',
  malformed: 'malformed',
  plain: 'malformed',
  noise: null,
};

const attackArb: fc.Arbitrary<Attack> = fc.oneof(
  fc.record({ kind: fc.constant('ack-beyond' as const), extra: fc.integer({ min: 1, max: 1e6 }) }),
  fc.constant({ kind: 'ack-back' as const }),
  fc.record({ kind: fc.constant('data-skip' as const), by: fc.integer({ min: 2, max: 50 }) }),
  fc.constant({ kind: 'data-repeat' as const }),
  fc.constant({ kind: 'resume-again' as const }),
  fc.constant({ kind: 'oversized' as const }),
  fc.record({ kind: fc.constant('malformed' as const), text: fc.constantFrom('keepalive:DATA x 0\nhi', 'keepalive:DATA 1', 'keepalive:ACK -1', 'keepalive:ACK 01', 'keepalive:RESUME', 'keepalive:DATA 9007199254740993 0\nx', 'keepalive:PONG x') }),
  fc.record({ kind: fc.constant('plain' as const), text: fc.string({ maxLength: 40 }).filter((s) => !s.startsWith('keepalive:')) }),
  fc.record({ kind: fc.constant('noise' as const), frame: fc.oneof(fc.string({ maxLength: 60 }).map((s) => `keepalive:${s}`), fc.uint8Array({ maxLength: 60 })) }),
);

describe('delivery mode under hostile input', () => {
  it('never throws, closes the attacker once with the rule it broke, and leaves a bystander exactly as a hub that never saw it', { timeout: STRESS_TIMEOUT }, () => {
    fc.assert(
      fc.property(attackArb, fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 8 }), (attack, before, stream) => {
        const attacked = rig();
        const control = rig();
        for (const r of [attacked, control]) r.open('bystander');
        attacked.open('attacker');
        // Both sides talk a little first: the attacker's messages are fine until the attack.
        let at = 1_000;
        for (let i = 1; i <= before; i++) {
          expect(attacked.hub.receive('attacker', encodeData(i, 0, `a${i}`), at)).toBe(true);
          attacked.hub.send('attacker', `to attacker ${i}`);
        }
        const sent = before;
        const frame: AppData = (() => {
          switch (attack.kind) {
            case 'ack-beyond':
              return encodeAck(sent + attack.extra);
            case 'ack-back':
              return sent === 0 ? encodeAck(1) : (attacked.hub.receive('attacker', encodeAck(sent), at), encodeAck(sent - 1));
            case 'data-skip':
              return encodeData(before + attack.by, 0, 'skipped');
            case 'data-repeat':
              return encodeData(Math.max(1, before), 0, 'again');
            case 'resume-again':
              return encodeResume(null, 0, 0);
            case 'oversized':
              return encodeData(before + 1, 0, 'x'.repeat(MAX_FRAME));
            case 'malformed':
              return attack.text;
            case 'plain':
              return attack.text;
            case 'noise':
              return attack.frame;
          }
        })();
        // A repeat with nothing before is the next message after all: not an attack then.
        const harmless = attack.kind === 'data-repeat' && before === 0;
        for (let i = 1; i <= stream; i++) {
          at += 100;
          for (const r of [attacked, control]) {
            r.clock.set(at);
            expect(() => r.hub.receive('bystander', encodeData(i, 0, `b${i}`), at)).not.toThrow();
            r.hub.send('bystander', `to bystander ${i}`);
          }
          if (i === 1) expect(() => attacked.hub.receive('attacker', frame, at)).not.toThrow();
        }
        const causes = attacked.closed.get('attacker') ?? [];
        const expected = harmless ? null : EXPECTED[attack.kind];
        if (expected !== null) {
          expect(causes).toHaveLength(1);
          expect(causes[0]).toMatchObject({ cause: 'delivery', code: expected });
          expect(attacked.host.has('attacker')).toBe(false);
        } else {
          // Noise either breaks a rule (closed once, as delivery) or is a keepalive frame the host judges.
          expect(causes.length).toBeLessThanOrEqual(1);
          if (causes[0]?.cause === 'delivery') expect(attacked.host.has('attacker')).toBe(false);
        }
        // The bystander: every message once, in order, and the same frames out as without the attack.
        expect(attacked.got.get('bystander')).toEqual(Array.from({ length: stream }, (_, i) => ({ data: `b${i + 1}`, seq: i + 1 })));
        expect(attacked.got.get('bystander')).toEqual(control.got.get('bystander'));
        expect(attacked.out.get('bystander')).toEqual(control.out.get('bystander'));
        expect(attacked.closed.get('bystander')).toBeUndefined();
        expect(attacked.host.has('bystander')).toBe(true);
      }),
      { numRuns: quickOr(300, 5_000) },
    );
  });
});
