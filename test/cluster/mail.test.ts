/**
 * Hub mail (runtime/hub/mail.ts), the one encoding between the parts of a hub: every
 * message survives a round trip, and reading is strict, refusing a whole letter for
 * anything out of place.
 */
import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../runtime/codec/index.ts';
import { decodeLetter, encodeLetter, MailError, type Mail } from '../../runtime/hub/mail.ts';

describe('hub mail', () => {
  const every: Mail[] = [
    { type: 'broadcast', data: 'hello', except: ['a', 'b.2'] },
    { type: 'broadcast', data: new Uint8Array([0, 255, 7]), except: [] },
    { type: 'send', connection: 'c.1', data: new Uint8Array(100_000).map((_, i) => i % 251) },
    { type: 'send', connection: 'c', data: '' },
    { type: 'close', connection: 'd', reason: 'closed by the application' },
    { type: 'hello' },
    { type: 'bye' },
    { type: 'rows', full: true, up: [{ id: 'e', peer: null, state: 'alive.watching', lastSignOfLife: 1_700_000_000_000, codec: 'text' }], down: ['f'] },
    { type: 'rows', full: false, up: [], down: [] },
    { type: 'took-over', dead: 'b' },
    { type: 'handover', connection: 'g', ask: 'q1' },
    { type: 'handover-answer', ask: 'q1', answer: 'attached' },
  ];

  it('keeps every message, text or bytes, in order', () => {
    expect(decodeLetter(encodeLetter({ from: 'a', mail: every }))).toEqual({ from: 'a', mail: every });
  });

  it('writes named fields, data as text or base64', () => {
    const wire = JSON.parse(encodeLetter({ from: '2', mail: [{ type: 'send', connection: 'x.1', data: new Uint8Array([104, 105]) }, { type: 'close', connection: 'y', reason: 'r' }] }));
    expect(wire).toEqual({ from: '2', mail: [{ type: 'send', connection: 'x.1', base64: 'aGk=' }, { type: 'close', connection: 'y', reason: 'r' }] });
  });

  it('refuses a whole letter for anything out of place, saying what', () => {
    const letter = (...mail: unknown[]) => JSON.stringify({ from: 'a', mail });
    const refused: [string, RegExp][] = [
      ['nope', /JSON/],
      ['[]', /a letter is an object/],
      ['{"mail":[]}', /lacks "from"/],
      ['{"from":"a","mail":[],"seq":1}', /no field "seq"/],
      ['{"from":"","mail":[]}', /from is a non-empty string/],
      ['{"from":"a","mail":{}}', /"mail" is an array/],
      [letter({ type: 'hello' }, { type: 'z' }), /mail\[1\]: unknown type "z"/],
      [letter('hello'), /mail\[0\] is an object/],
      [letter({ type: 'hello', n: 'a' }), /no field "n"/],
      [letter({ type: 'close', connection: 'x' }), /lacks "reason"/],
      [letter({ type: 'send', connection: 'x' }), /one of "text" and "base64"/],
      [letter({ type: 'send', connection: 'x', text: 'a', base64: 'YQ==' }), /one of "text" and "base64"/],
      [letter({ type: 'send', connection: 'x', base64: 'YQ' }), /not base64/],
      [letter({ type: 'send', connection: 'x', base64: 'Y Q==' }), /not base64/],
      [letter({ type: 'send', connection: '', text: 'a' }), /connection is a non-empty string/],
      [letter({ type: 'send', connection: 'x', text: 1 }), /text is a string/],
      [letter({ type: 'broadcast', text: 'a', except: [1] }), /except\[0\]/],
      [letter({ type: 'rows', full: 1, up: [], down: [] }), /full is true or false/],
      [letter({ type: 'rows', full: true, up: [{ id: 'e', peer: null, state: 's', lastSignOfLife: 'now', codec: 'text' }], down: [] }), /lastSignOfLife is a number/],
      [letter({ type: 'rows', full: true, up: [['e', null, 's', 1, 'text']], down: [] }), /up\[0\] is an object/],
      [letter({ type: 'handover-answer', ask: 'q', answer: 'maybe' }), /"moved", "attached" or "gone"/],
    ];
    for (const [text, why] of refused) expect(() => decodeLetter(text), text).toThrow(why);
    for (const [text] of refused) expect(() => decodeLetter(text), text).toThrow(MailError);
  });

  it('reads bytes with the one base64 helper of the runtime, canonical only', () => {
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) % 256);
    expect(fromBase64(toBase64(bytes))).toEqual(bytes);
    expect(toBase64(new Uint8Array())).toBe('');
    for (const bad of ['YQ', 'Y Q==', 'YQ=\n', '@@@@']) expect(() => fromBase64(bad), bad).toThrow(/base64/);
  });
});
