import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrame, DeliveryError, encodeAck, encodeData, encodeKeepalive, encodeResume } from '../../../runtime/delivery/wire.ts';

const seq = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

describe('delivery frames', () => {
  it('decode what they encode: DATA (text and binary), ACK, PING and PONG with or without an ack, RESUME', () => {
    fc.assert(
      fc.property(seq, seq, fc.oneof(fc.string(), fc.uint8Array()), (s, a, data) => {
        expect(decodeFrame(encodeData(s, a, data))).toEqual({ kind: 'data', seq: s, ack: a, data });
        expect(decodeFrame(encodeAck(a))).toEqual({ kind: 'ack', ack: a });
        expect(decodeFrame(encodeKeepalive('PING', a))).toEqual({ kind: 'ping', ack: a });
        expect(decodeFrame(encodeKeepalive('PONG', null))).toEqual({ kind: 'pong', ack: null });
        expect(decodeFrame(encodeResume('V1StGXR8_Z5jdHi6B-myT', s, a))).toEqual({ kind: 'resume', epoch: 'V1StGXR8_Z5jdHi6B-myT', received: s, floor: a });
        expect(decodeFrame(encodeResume(null, s, a))).toEqual({ kind: 'resume', epoch: null, received: s, floor: a });
        // A sharded hub's connection ids name their shard after a dot.
        expect(decodeFrame(encodeResume('V1StGXR8_Z5jdHi6B-myT.3', s, a))).toEqual({ kind: 'resume', epoch: 'V1StGXR8_Z5jdHi6B-myT.3', received: s, floor: a });
      }),
    );
  });

  it('keep the plain keepalive frames byte for byte (what a sleeping Durable Object auto-answers)', () => {
    expect(encodeKeepalive('PING', null)).toBe('keepalive:PING');
    expect(encodeKeepalive('PONG', null)).toBe('keepalive:PONG');
    expect(decodeFrame('keepalive:ADVERTISE')).toEqual({ kind: 'advertise' });
  });

  it('refuse anything else as malformed, never throwing', () => {
    const bad: (string | Uint8Array)[] = [
      'hello', // an application frame without its header
      'keepalive:DATA 1 0', // no header line
      'keepalive:DATA 01 0\nx', // leading zero
      'keepalive:DATA 1 -1\nx',
      'keepalive:DATA 1  0\nx',
      'keepalive:DATA 99999999999999999 0\nx', // past 2^53
      `keepalive:DATA 1 ${'9'.repeat(40)}\nx`,
      'keepalive:ACK',
      'keepalive:ACK x',
      'keepalive:PING 1.5',
      'keepalive:PONG ',
      'keepalive:RESUME a 1',
      'keepalive:RESUME a b c',
      'keepalive:RESUME no/slashes 1 1',
      'keepalive:SHOUT',
      new Uint8Array([1, 2, 3]),
      new TextEncoder().encode('keepalive:DATA 1 0'),
      new TextEncoder().encode('keepalive:PING\n'),
    ];
    for (const frame of bad) {
      const decoded = decodeFrame(frame);
      expect(decoded, String(frame)).toBeInstanceOf(DeliveryError);
      expect((decoded as DeliveryError).code).toBe('malformed');
    }
    fc.assert(fc.property(fc.oneof(fc.string(), fc.uint8Array()), (frame) => void decodeFrame(frame)));
  });
});
