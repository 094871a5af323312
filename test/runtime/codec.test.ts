import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createLibvirtCodec,
  createTextCodec,
  decodeMessage,
  encodeMessage,
  FrameError,
  FrameReader,
  KEEPALIVE_PROGRAM,
  TEXT_FRAMES,
} from '../../runtime/codec/index.ts';

const hex = (bytes: Uint8Array | string) => Buffer.from(bytes as Uint8Array).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

// Written by hand from virnetprotocol.x (length word counting itself; header prog, vers,
// proc, type, serial, status) and virkeepaliveprotocol.x (program 0x6b656570, version 1,
// PING 1, PONG 2): a keepalive message is VIR_NET_MESSAGE (2), serial 0, status OK (0).
const PING_HEX = '0000001c 6b656570 00000001 00000001 00000002 00000000 00000000';
const PONG_HEX = '0000001c 6b656570 00000001 00000002 00000002 00000000 00000000';

describe('libvirt codec', () => {
  const codec = createLibvirtCodec();

  it('encodes PING and PONG byte for byte as libvirt does', () => {
    expect(hex(codec.encode('PING') as Uint8Array)).toBe(PING_HEX.replace(/ /g, ''));
    expect(hex(codec.encode('PONG') as Uint8Array)).toBe(PONG_HEX.replace(/ /g, ''));
  });

  it('decodes libvirt\'s own PING and PONG', () => {
    expect(codec.decode(bytes(PING_HEX))).toBe('PING');
    expect(codec.decode(bytes(PONG_HEX))).toBe('PONG');
  });

  it('round-trips every keepalive message in our dialect', () => {
    for (const message of ['ADVERTISE', 'PING', 'PONG'] as const) expect(codec.decode(codec.encode(message))).toBe(message);
  });

  it('never encodes ADVERTISE for a libvirt peer, and refuses procedure 3 from one', () => {
    const libvirt = createLibvirtCodec({ advertise: false });
    expect(() => libvirt.encode('ADVERTISE')).toThrow(/CONNECT_SUPPORTS_FEATURE/);
    const advertise = codec.encode('ADVERTISE') as Uint8Array;
    expect(libvirt.decode(advertise)).toMatchObject({ code: 'unknown-procedure' });
  });

  it('treats frames of other programs as application traffic', () => {
    const call = encodeMessage({ prog: 0x20008086, vers: 1, proc: 60, type: 0, serial: 1, status: 0 }, bytes('0000000a'));
    expect(codec.decode(call)).toBe('MESSAGE');
    expect(decodeMessage(call)).toMatchObject({ header: { prog: 0x20008086, proc: 60, serial: 1 }, payload: bytes('0000000a') });
  });

  it.each([
    ['unknown-procedure', { proc: 9 }],
    ['wrong-version', { vers: 2 }],
    ['wrong-type', { type: 0 }],
  ] as const)('refuses a keepalive frame with %s', (code, change) => {
    const frame = encodeMessage({ prog: KEEPALIVE_PROGRAM, vers: 1, proc: 1, type: 2, serial: 0, status: 0, ...change });
    const result = codec.decode(frame);
    expect(result).toBeInstanceOf(FrameError);
    expect(result).toMatchObject({ code });
  });

  it('refuses truncated frames, lying length words and text frames', () => {
    expect(codec.decode(bytes(PING_HEX).slice(0, 20))).toMatchObject({ code: 'truncated' });
    const lying = bytes(PING_HEX);
    lying[3] = 0x40;
    expect(codec.decode(lying)).toMatchObject({ code: 'malformed' });
    expect(codec.decode('keepalive:PING')).toMatchObject({ code: 'wrong-frame-kind' });
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        const result = codec.decode(data);
        expect(typeof result === 'string' || result instanceof FrameError).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('text codec', () => {
  const codec = createTextCodec(1024);

  it('has one fixed string per message and round-trips each', () => {
    expect(TEXT_FRAMES).toEqual({ ADVERTISE: 'keepalive:ADVERTISE', PING: 'keepalive:PING', PONG: 'keepalive:PONG' });
    for (const message of ['ADVERTISE', 'PING', 'PONG'] as const) expect(codec.decode(codec.encode(message))).toBe(message);
  });

  it('treats other text as application traffic and unknown keepalive words as errors', () => {
    expect(codec.decode('hello')).toBe('MESSAGE');
    expect(codec.decode('keepalive:PINGG')).toMatchObject({ code: 'unknown-procedure' });
    expect(codec.decode(' keepalive:PING')).toBe('MESSAGE');
  });

  it('takes binary frames as application traffic (keepalive is text only) and refuses oversized frames, counting UTF-8 bytes', () => {
    expect(codec.decode(new Uint8Array([1, 2]))).toBe('MESSAGE');
    expect(codec.decode(new TextEncoder().encode('keepalive:PING'))).toBe('MESSAGE');
    expect(codec.decode(new Uint8Array(1025))).toMatchObject({ code: 'oversized' });
    expect(codec.decode('x'.repeat(1025))).toMatchObject({ code: 'oversized' });
    expect(codec.decode('é'.repeat(600))).toMatchObject({ code: 'oversized' }); // 1200 bytes
    expect(codec.decode('é'.repeat(500))).toBe('MESSAGE'); // 1000 bytes
  });
});

describe('frame reader', () => {
  const stream = [...bytes(PING_HEX), ...bytes(PONG_HEX), ...encodeMessage({ prog: 7, vers: 1, proc: 1, type: 2, serial: 0, status: 0 }, new Uint8Array(40))];

  it('splits a stream into the same frames at every byte boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      for (let cut2 = cut; cut2 <= stream.length; cut2 += 7) {
        const reader = new FrameReader();
        const frames = [stream.slice(0, cut), stream.slice(cut, cut2), stream.slice(cut2)].flatMap((chunk) => {
          const out = reader.push(new Uint8Array(chunk));
          if (out.error) throw out.error;
          return out.frames;
        });
        expect(frames.map(hex)).toEqual([hex(bytes(PING_HEX)), hex(bytes(PONG_HEX)), hex(new Uint8Array(stream.slice(56)))]);
        expect(reader.buffered).toBe(0);
      }
    }
  });

  it('refuses a huge length word before buffering anything of the frame', () => {
    const reader = new FrameReader(1024);
    expect(reader.push(bytes('7fffffff'))).toMatchObject({ frames: [], error: { code: 'oversized' } });
    expect(reader.buffered).toBe(0);
    expect(reader.push(bytes(PING_HEX))).toMatchObject({ frames: [], error: { code: 'oversized' } }); // stays failed
  });

  it('refuses a length word shorter than a header', () => {
    expect(new FrameReader().push(bytes('00000004 00000000'))).toMatchObject({ frames: [], error: { code: 'malformed' } });
  });

  it('returns the good frames that precede an error in the same chunk, then the error', () => {
    for (const [bad, code] of [['00000004 00000000', 'malformed'], ['7fffffff', 'oversized']] as const) {
      const reader = new FrameReader(1024);
      // The tail of a PONG from an earlier chunk, a whole PING, then the bad length word.
      const pong = bytes(PONG_HEX);
      expect(reader.push(pong.subarray(0, 10))).toEqual({ frames: [], error: null });
      const out = reader.push(new Uint8Array([...pong.subarray(10), ...bytes(PING_HEX), ...bytes(bad)]));
      expect(out.frames.map(hex)).toEqual([hex(pong), hex(bytes(PING_HEX))]);
      expect(out.error).toMatchObject({ code });
      expect(reader.buffered).toBe(0);
      expect(reader.push(bytes(PING_HEX))).toMatchObject({ frames: [], error: { code } });
    }
  });

  it('never throws and never buffers past its limit on arbitrary chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 20 }), (chunks) => {
        const reader = new FrameReader(256);
        for (const chunk of chunks) {
          const out = reader.push(chunk);
          if (out.error) return;
          expect(reader.buffered).toBeLessThan(256);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
