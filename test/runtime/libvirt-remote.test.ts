import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createLibvirtCodec,
  decodeRemoteError,
  decodeSupportsFeatureReply,
  describeRemoteError,
  encodeMessage,
  encodeSupportsFeatureCall,
  FrameError,
  REMOTE_PROGRAM,
} from '../../runtime/codec/index.ts';

const hex = (data: Uint8Array) => Buffer.from(data).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

// By hand from remote_protocol.x and virnetprotocol.x: length 32, program 0x20008086,
// version 1, procedure 60, type CALL (0), serial, status OK (0), then `int feature` = 10.
const CALL_SERIAL_1 = '00000020 20008086 00000001 0000003c 00000000 00000001 00000000 0000000a';

// Recorded from libvirtd 9.0.0 (Debian 12) on loopback: its answer to that call, and the
// PING it sent one keepalive_interval later.
const DAEMON_REPLY = '00000020 20008086 00000001 0000003c 00000001 00000001 00000000 00000001';
const DAEMON_PING = '0000001c 6b656570 00000001 00000001 00000002 00000000 00000000';
// Also recorded: its ERROR reply to CONNECT_SUPPORTS_FEATURE(feature 11) before CONNECT_OPEN:
// code 1 (VIR_ERR_INTERNAL_ERROR), domain 7 (VIR_FROM_REMOTE), message, level 2, then
// dom (null), str1, str2, str3 (null), int1, int2, net (null).
const DAEMON_ERROR =
  '000000b8 20008086 00000001 0000003c 00000001 00000001 00000001' +
  '00000001 00000007 00000001 0000002e' +
  Buffer.from('internal error: hypervisor connection not open').toString('hex') +
  '0000 00000002 00000000 00000001 00000012' +
  Buffer.from('internal error: %s').toString('hex') +
  '0000 00000001 0000001e' +
  Buffer.from('hypervisor connection not open').toString('hex') +
  '0000 00000000 ffffffff ffffffff 00000000';

describe('CONNECT_SUPPORTS_FEATURE', () => {
  it('encodes the call byte for byte', () => {
    expect(hex(encodeSupportsFeatureCall(1))).toBe(CALL_SERIAL_1.replace(/ /g, ''));
    expect(hex(encodeSupportsFeatureCall(0xfffffffe)).slice(40, 48)).toBe('fffffffe');
  });

  it("reads libvirtd's reply, matched by serial", () => {
    expect(decodeSupportsFeatureReply(bytes(DAEMON_REPLY), 1)).toEqual({ status: 'ok', supported: 1 });
    expect(decodeSupportsFeatureReply(bytes(DAEMON_REPLY), 2)).toBeNull();
    const zero = bytes(DAEMON_REPLY);
    zero[31] = 0;
    expect(decodeSupportsFeatureReply(zero, 1)).toEqual({ status: 'ok', supported: 0 });
  });

  it("reads libvirtd's error reply: code, domain, message, level", () => {
    const frame = bytes(DAEMON_ERROR);
    expect(frame.length).toBe(0xb8);
    const reply = decodeSupportsFeatureReply(frame, 1);
    expect(reply).toEqual({
      status: 'error',
      error: { code: 1, domain: 7, message: 'internal error: hypervisor connection not open', level: 2 },
    });
    if (reply && !(reply instanceof FrameError) && reply.status === 'error') {
      expect(describeRemoteError(reply.error)).toBe('libvirt error 1 (domain 7): internal error: hypervisor connection not open');
    }
  });

  it('leaves keepalive frames, other programs and calls to the caller', () => {
    expect(decodeSupportsFeatureReply(bytes(DAEMON_PING), 0)).toBeNull();
    expect(decodeSupportsFeatureReply(bytes(CALL_SERIAL_1), 1)).toBeNull();
    const other = encodeMessage({ prog: 0x12345678, vers: 1, proc: 60, type: 1, serial: 1, status: 0 }, bytes('00000001'));
    expect(decodeSupportsFeatureReply(other, 1)).toBeNull();
    // To the keepalive codec the whole exchange is ordinary traffic (a sign of life).
    expect(createLibvirtCodec({ advertise: false }).decode(bytes(DAEMON_REPLY))).toBe('MESSAGE');
  });

  it.each([
    ['truncated', '00000020 20008086 00000001 0000003c 00000001 00000001 00000000', 'no "supported" word'],
    ['unknown-procedure', '00000020 20008086 00000001 0000003d 00000001 00000001 00000000 00000001', 'procedure 61'],
    ['wrong-version', '00000020 20008086 00000002 0000003c 00000001 00000001 00000000 00000001', 'version 2'],
    ['malformed', '00000020 20008086 00000001 0000003c 00000001 00000001 00000002 00000001', 'status 2'],
    ['truncated', '00000020 20008086 00000001 0000003c 00000001 00000001 00000001 00000001', 'error code and domain'],
  ] as const)('refuses a reply to our serial that is %s (%s)', (code, frame, text) => {
    const h = frame.replace(/ /g, '');
    const data = bytes(h);
    data[3] = data.length;
    const reply = decodeSupportsFeatureReply(data, 1);
    expect(reply).toBeInstanceOf(FrameError);
    expect(reply).toMatchObject({ code });
    expect((reply as FrameError).message).toContain(text);
  });

  it('keeps code and domain of an error whose message is garbage', () => {
    // Claims a 4 GiB-ish message; and a presence word that is neither 0 nor 1.
    expect(decodeRemoteError(bytes('00000026 00000007 00000001 7fffffff 41424344'))).toEqual({ code: 38, domain: 7, message: null, level: null });
    expect(decodeRemoteError(bytes('00000026 00000007 00000005'))).toEqual({ code: 38, domain: 7, message: null, level: null });
    expect(decodeRemoteError(bytes('00000026 00000007 00000000 00000002'))).toEqual({ code: 38, domain: 7, message: null, level: 2 });
    // A message cut off right after its bytes (no padding, no level) is still worth showing.
    expect(decodeRemoteError(bytes('00000026 00000007 00000001 00000003 414243'))).toEqual({ code: 38, domain: 7, message: 'ABC', level: null });
    expect(decodeRemoteError(bytes('00000026 00000007 00000001 00000004 414243'))).toEqual({ code: 38, domain: 7, message: null, level: null });
    expect(decodeRemoteError(bytes('00000026'))).toBeNull();
  });

  it('never throws on arbitrary replies to our serial', () => {
    const header = bytes('20008086 00000001 0000003c 00000001 00000001');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.uint8Array({ maxLength: 96 }), (status, payload) => {
        const frame = new Uint8Array(28 + payload.length);
        const view = new DataView(frame.buffer);
        view.setUint32(0, frame.length);
        frame.set(header, 4);
        view.setInt32(24, status);
        frame.set(payload, 28);
        const reply = decodeSupportsFeatureReply(frame, 1);
        expect(reply === null || reply instanceof FrameError || reply.status === 'ok' || reply.status === 'error').toBe(true);
        expect(reply).not.toBeNull();
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        expect(() => decodeSupportsFeatureReply(data, 1)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });

  it('names the program it talks to', () => {
    expect(REMOTE_PROGRAM.toString(16)).toBe('20008086');
  });
});
