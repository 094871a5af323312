/**
 * Fuzzing the codecs and the host with fast-check, against reference classifiers written
 * from the wire definitions (virnetprotocol.x, virkeepaliveprotocol.x, the text dialect):
 * arbitrary bytes and strings, truncated frames, lying and huge length words, wrong
 * program, version or type, unknown procedures, streams split at every byte boundary.
 * The host never throws, closes only the offending connection with the reason the
 * reference predicts, and every other connection ends exactly as if the attack never
 * happened.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createLibvirtCodec,
  createTextCodec,
  encodeMessage,
  FrameError,
  FrameReader,
  KEEPALIVE_PROGRAM,
  TEXT_FRAMES,
  TEXT_PREFIX,
  type FrameErrorCode,
  type Inbound,
  type MessageHeader,
} from '../../runtime/codec/index.ts';
import { Host, type HostEvent, type OpenOptions } from '../../runtime/host/host.ts';
import { quickOr, STRESS_TIMEOUT } from '../support/stress.ts';
import { endText } from '../../runtime/protocol/end-cause.ts';
import { createCodec } from '../../runtime/codec/index.ts';

const HEADER = 28; // length word + six XDR words

// --- reference classifiers, from the protocol definitions -------------------------------

type Verdict = Inbound | FrameErrorCode;

function word(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0);
}

/** One whole libvirt frame, as virnetprotocol.x and virkeepaliveprotocol.x define it. */
function referenceFrame(frame: Uint8Array, advertise: boolean): Verdict {
  if (frame.length < HEADER) return 'truncated';
  if (word(frame, 0) !== frame.length) return 'malformed';
  if (word(frame, 4) !== 0x6b656570) return 'MESSAGE'; // another program: application traffic
  if (word(frame, 8) !== 1) return 'wrong-version';
  if (word(frame, 16) !== 2) return 'wrong-type'; // keepalive messages are VIR_NET_MESSAGE
  const proc = word(frame, 12);
  if (proc === 1) return 'PING';
  if (proc === 2) return 'PONG';
  if (proc === 3 && advertise) return 'ADVERTISE';
  return 'unknown-procedure';
}

/** A byte stream split by length words: the verdicts up to the first error, and that error. */
function referenceStream(bytes: Uint8Array, maxBytes: number, advertise: boolean): { messages: Inbound[]; error: FrameErrorCode | null } {
  const messages: Inbound[] = [];
  let offset = 0;
  while (bytes.length - offset >= 4) {
    const length = word(bytes, offset);
    if (length < HEADER) return { messages, error: 'malformed' };
    if (length > maxBytes) return { messages, error: 'oversized' };
    if (bytes.length - offset < length) break;
    const verdict = referenceFrame(bytes.subarray(offset, offset + length), advertise);
    if (!isMessage(verdict)) return { messages, error: verdict };
    messages.push(verdict);
    offset += length;
  }
  return { messages, error: null };
}

/** The text dialect: three exact words, anything else under the prefix refused, other text and any bytes are traffic. */
function referenceText(frame: string | Uint8Array, maxBytes: number): Verdict {
  if (typeof frame !== 'string') return frame.length > maxBytes ? 'oversized' : 'MESSAGE';
  if (new TextEncoder().encode(frame).length > maxBytes) return 'oversized';
  if (frame === 'keepalive:PING') return 'PING';
  if (frame === 'keepalive:PONG') return 'PONG';
  if (frame === 'keepalive:ADVERTISE') return 'ADVERTISE';
  return frame.startsWith('keepalive:') ? 'unknown-procedure' : 'MESSAGE';
}

function isMessage(verdict: Verdict): verdict is Inbound {
  return verdict === 'PING' || verdict === 'PONG' || verdict === 'ADVERTISE' || verdict === 'MESSAGE';
}

const verdictOf = (result: Inbound | FrameError): Verdict => (result instanceof FrameError ? result.code : result);

// --- arbitraries ------------------------------------------------------------------------

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const uint32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });

const headerArb: fc.Arbitrary<MessageHeader> = fc.record({
  prog: fc.oneof(fc.constant(KEEPALIVE_PROGRAM), fc.constant(0x20008086), uint32),
  vers: fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: uint32 }),
  proc: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(1, 2, 3) }, { weight: 1, arbitrary: int32 }),
  type: fc.oneof({ weight: 4, arbitrary: fc.constant(2) }, { weight: 1, arbitrary: int32 }),
  serial: uint32,
  status: int32,
});

const frameArb = fc.tuple(headerArb, fc.uint8Array({ maxLength: 40 })).map(([header, payload]) => encodeMessage(header, payload));

/** What a hostile stream is made of: real frames, frames whose length word lies, and noise. */
const streamPieceArb = fc.oneof(
  { weight: 6, arbitrary: frameArb },
  {
    weight: 1,
    arbitrary: fc.tuple(frameArb, fc.oneof(uint32, fc.integer({ min: 0, max: 64 }), fc.integer({ min: 2 ** 31, max: 2 ** 32 - 1 }))).map(([frame, length]) => {
      const lying = frame.slice();
      new DataView(lying.buffer).setUint32(0, length);
      return lying;
    }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: frameArb.map((frame) => frame.slice(0, Math.max(1, frame.length - 5))) }, // truncated, then more bytes
);

/** Splits `bytes` at the given cut points (any, duplicates allowed): chunks as reads deliver them. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.slice(from, point));
    from = point;
  }
  return chunks;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const textFrameArb = fc.oneof(
  fc.constantFrom<string | Uint8Array>(TEXT_FRAMES.PING, TEXT_FRAMES.PONG, TEXT_FRAMES.ADVERTISE),
  fc.string({ maxLength: 30 }).map((s) => TEXT_PREFIX + s),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ unit: 'grapheme', minLength: 100, maxLength: 200 }), // oversized past a small limit, multi-byte
  fc.uint8Array({ maxLength: 40 }),
);

// --- codecs -----------------------------------------------------------------------------

describe('codecs against the reference', () => {
  it('the libvirt codec classifies any header exactly as the protocol files say', () => {
    const codecs = { true: createLibvirtCodec({ advertise: true }), false: createLibvirtCodec({ advertise: false }) };
    fc.assert(
      fc.property(frameArb, fc.boolean(), (frame, advertise) => {
        expect(verdictOf(codecs[`${advertise}`].decode(frame))).toBe(referenceFrame(frame, advertise));
      }),
      { seed: 9001, numRuns: quickOr(3000, 100_000) },
    );
  });

  it('every prefix of a frame is truncated or, with a lying length word, malformed; never a message', () => {
    const codec = createLibvirtCodec();
    fc.assert(
      fc.property(frameArb, fc.nat(), uint32, (frame, cut, length) => {
        const prefix = frame.slice(0, cut % frame.length);
        expect(verdictOf(codec.decode(prefix))).toBe(referenceFrame(prefix, true));
        const lying = frame.slice();
        new DataView(lying.buffer).setUint32(0, length);
        expect(verdictOf(codec.decode(lying))).toBe(referenceFrame(lying, true));
      }),
      { seed: 9002, numRuns: quickOr(2000, 50_000) },
    );
  });

  it('the text codec classifies any string or bytes exactly as the dialect says, counting UTF-8 bytes', () => {
    const codec = createTextCodec(120);
    fc.assert(
      fc.property(textFrameArb, (frame) => {
        expect(verdictOf(codec.decode(frame))).toBe(referenceText(frame, 120));
      }),
      { seed: 9003, numRuns: quickOr(3000, 100_000) },
    );
  });

  it('the frame reader takes a length word up to its limit and refuses one byte more after four bytes, buffering nothing', () => {
    const limit = 256;
    const atLimit = new FrameReader(limit);
    expect(atLimit.push(new Uint8Array([0, 0, 1, 0, 0x6b]))).toEqual({ frames: [], error: null }); // 256: waits for the rest
    expect(atLimit.buffered).toBe(5);
    const past = new FrameReader(limit);
    expect(past.push(new Uint8Array([0, 0, 1, 1]))).toMatchObject({ frames: [], error: { code: 'oversized' } }); // 257
    expect(past.buffered).toBe(0);
  });

  it('the frame reader yields the reference frames from any stream cut anywhere', () => {
    fc.assert(
      fc.property(fc.array(streamPieceArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (pieces, cuts) => {
        const stream = concat(pieces);
        const reader = new FrameReader(512);
        const got: Inbound[] = [];
        let error: FrameErrorCode | null = null;
        // `read`, as the host uses it: every whole frame before a bad length word still counts.
        for (const chunk of split(stream, cuts)) {
          const failed = reader.read(chunk, (frame) => {
            const verdict = referenceFrame(frame, true);
            if (isMessage(verdict)) got.push(verdict);
            else error = verdict;
            return isMessage(verdict);
          });
          error ??= failed?.code ?? null;
          if (error) break;
        }
        const expected = referenceStream(stream, 512, true);
        expect({ got, error }).toEqual({ got: expected.messages, error: expected.error });
        expect(reader.buffered).toBeLessThan(512);
      }),
      { seed: 9004, numRuns: quickOr(2000, 50_000) },
    );
  });
});

// --- the host ---------------------------------------------------------------------------

/** A host on a fake clock that records, per connection, what it sent, received and why it closed. */
function recordingHost(maxFrameBytes: number) {
  let now = 1_000;
  const log = new Map<string, string[]>();
  const note = (id: string, line: string) => log.set(id, [...(log.get(id) ?? []), line]);
  const events: HostEvent[] = [];
  const host = new Host({ codecs: createCodec,
    now: () => now,
    maxFrameBytes,
    maxPingsPerInterval: 0, // flooding has its own tests; here every PING is fair
    onEvent: (e) => events.push(e),
    transport: {
      send: (id, frame) => note(id, `${now} > ${typeof frame === 'string' ? frame : Buffer.from(frame).toString('hex')}`),
      close: (id, cause) => note(id, `${now} close ${endText(cause)}`),
    },
  });
  return {
    host,
    log,
    events,
    clock: { set: (at: number) => (now = at), get: () => now },
    received: (id: string) => events.flatMap((e) => (e.type === 'received' && e.id === id ? [e.message] : [])),
  };
}

const STREAM: OpenOptions = { role: 'server', codec: { name: 'libvirt', advertise: true }, stream: true };
const goodLibvirt = fc.constantFrom('ADVERTISE', 'PING', 'PONG', 'CALL').map((kind) =>
  kind === 'CALL'
    ? encodeMessage({ prog: 0x20008086, vers: 1, proc: 60, type: 0, serial: 7, status: 0 }, new Uint8Array(12))
    : (createLibvirtCodec().encode(kind) as Uint8Array),
);

interface Action {
  target: 'textBystander' | 'streamBystander' | 'textAttacker' | 'streamAttacker' | 'tick';
  gap: number;
  text: string | Uint8Array;
  stream: Uint8Array[];
  cuts: number[];
}

const actionArb: fc.Arbitrary<Action> = fc.record({
  target: fc.constantFrom<Action['target']>('textBystander', 'streamBystander', 'textAttacker', 'streamAttacker', 'tick'),
  gap: fc.integer({ min: 0, max: 3000 }),
  text: textFrameArb,
  stream: fc.array(streamPieceArb, { minLength: 1, maxLength: 3 }),
  cuts: fc.array(fc.nat(), { maxLength: 4 }),
});
const goodTextArb = fc.constantFrom(TEXT_FRAMES.ADVERTISE, TEXT_FRAMES.PING, TEXT_FRAMES.PONG, 'hello');

describe('the host under hostile input', () => {
  it('never throws, closes each attacker once with the reason the reference predicts, and leaves bystanders exactly as a host that never saw the attack', { timeout: STRESS_TIMEOUT }, () => {
    const MAX = 256;
    fc.assert(
      fc.property(fc.array(actionArb, { maxLength: 40 }), fc.array(goodTextArb, { minLength: 40, maxLength: 40 }), fc.array(goodLibvirt, { minLength: 40, maxLength: 40 }), (actions, goodText, goodFrames) => {
        const attacked = recordingHost(MAX);
        const control = recordingHost(MAX);
        const open = (h: ReturnType<typeof recordingHost>) => {
          h.host.open({ id: 'tb', role: 'server', interval: 1000, count: 3 });
          h.host.open({ id: 'sb', ...STREAM, interval: 1000, count: 3 });
        };
        open(attacked);
        open(control);
        attacked.host.open({ id: 'ta', role: 'server', interval: 1000, count: 3 });
        attacked.host.open({ id: 'sa', ...STREAM, interval: 1000, count: 3 });
        const sentToAttacker = { ta: [] as (string | Uint8Array)[], sa: [] as Uint8Array[] };

        let now = 1_000;
        actions.forEach((action, i) => {
          now += action.gap;
          attacked.clock.set(now);
          control.clock.set(now);
          const both = (run: (h: ReturnType<typeof recordingHost>) => unknown) => {
            expect(() => run(attacked)).not.toThrow();
            run(control);
          };
          switch (action.target) {
            case 'tick':
              return both((h) => h.host.tick(now));
            case 'textBystander':
              return both((h) => h.host.receive('tb', goodText[i]!));
            case 'streamBystander': {
              // A good frame split anywhere, across reads.
              for (const chunk of split(goodFrames[i]!, action.cuts)) both((h) => h.host.receive('sb', chunk));
              return;
            }
            case 'textAttacker':
              sentToAttacker.ta.push(action.text);
              expect(() => attacked.host.receive('ta', action.text)).not.toThrow();
              return;
            case 'streamAttacker': {
              const bytes = concat(action.stream);
              sentToAttacker.sa.push(bytes);
              for (const chunk of split(bytes, action.cuts)) expect(() => attacked.host.receive('sa', chunk)).not.toThrow();
            }
          }
        });

        // Bystanders: every frame, close and snapshot exactly as in the control run.
        for (const id of ['tb', 'sb']) {
          expect(attacked.log.get(id)).toEqual(control.log.get(id));
          expect(attacked.received(id)).toEqual(control.received(id));
          expect(attacked.host.snapshot(id)).toEqual(control.host.snapshot(id));
        }

        // Attackers: what the reference expects, closed once with its code, or still open.
        const text: Verdict[] = [];
        for (const frame of sentToAttacker.ta) {
          const verdict = referenceText(frame, MAX);
          text.push(verdict);
          if (!isMessage(verdict)) break;
        }
        const stream = referenceStream(concat(sentToAttacker.sa), MAX, true);
        const expectations = [
          { id: 'ta', messages: text.filter(isMessage), error: text.find((v) => !isMessage(v)) ?? null },
          { id: 'sa', messages: stream.messages, error: stream.error },
        ];
        for (const { id, messages, error } of expectations) {
          expect(attacked.received(id)).toEqual(messages);
          const closes = (attacked.log.get(id) ?? []).filter((line) => / close /.test(line));
          if (error === null) {
            expect(closes.filter((line) => /protocol error/.test(line))).toEqual([]);
          } else {
            expect(closes).toHaveLength(1);
            expect(closes[0]).toMatch(new RegExp(` close protocol error \\(${error}\\): \\S`));
            expect(attacked.host.has(id)).toBe(false);
            expect(attacked.host.receive(id, TEXT_FRAMES.PING)).toBe(false);
          }
        }
        const rejected = attacked.events.filter((e) => e.type === 'rejected');
        expect(rejected.map((e) => e.id).sort()).toEqual(expectations.filter((x) => x.error !== null).map((x) => x.id).sort());
      }),
      { seed: 9005, numRuns: quickOr(500, 20_000) },
    );
  });

  it('a stream cut at every byte boundary, or read one byte at a time, is the same conversation as whole frames', () => {
    const codec = createLibvirtCodec();
    const call = encodeMessage({ prog: 0x20008086, vers: 1, proc: 60, type: 0, serial: 1, status: 0 }, new Uint8Array(13).fill(7));
    const frames = [codec.encode('ADVERTISE'), codec.encode('PING'), call, codec.encode('PONG'), codec.encode('PING')] as Uint8Array[];
    const stream = concat(frames);

    const converse = (chunks: Uint8Array[]) => {
      const h = recordingHost(1024);
      h.host.open({ id: 'x', ...STREAM, interval: 1000, count: 2 });
      for (const chunk of chunks) {
        h.clock.set(h.clock.get() + 1);
        h.host.receive('x', chunk);
      }
      h.clock.set(h.clock.get() + 10_000);
      h.host.tick();
      return { log: h.log.get('x'), received: h.received('x') };
    };
    const whole = converse(frames);
    expect(whole.received).toEqual(['ADVERTISE', 'PING', 'MESSAGE', 'PONG', 'PING']);
    // Times differ with the number of reads, so compare what was said, not when.
    const said = (c: ReturnType<typeof converse>) => ({ log: c.log?.map((l) => l.replace(/^\d+ /, '')), received: c.received });
    for (let cut = 0; cut <= stream.length; cut++) expect(said(converse(split(stream, [cut]))), `cut at ${cut}`).toEqual(said(whole));
    expect(said(converse(split(stream, [...stream.keys()])))).toEqual(said(whole));
  });
});
