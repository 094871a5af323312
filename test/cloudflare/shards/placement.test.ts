/**
 * Where a sharded hub's connections go (shards.ts), as pure functions: sessions by a
 * consistent hash of their secret, ids that name their shard, new connections in turn.
 */
import { describe, expect, it } from 'vitest';
import { connectionIdOn, shardName, shardOfId, shardOfSession, ShardTurns } from '../../../adapters/cloudflare/shards.ts';
import { hubConfig } from '../../../adapters/cloudflare/config.ts';
import { decodeMail, encodeMail, type ShardMail } from '../../../adapters/cloudflare/shard-mail.ts';
import { createSessionSecret } from '../../../runtime/protocol/sessions.ts';

describe('placement', () => {
  it('a session always hashes to the same shard, spread evenly, and most stay put when a shard is added', async () => {
    const secrets = Array.from({ length: 4000 }, () => createSessionSecret());
    const four = await Promise.all(secrets.map((s) => shardOfSession(s, 4)));
    expect(await Promise.all(secrets.map((s) => shardOfSession(s, 4)))).toEqual(four);
    const counts = [0, 1, 2, 3].map((shard) => four.filter((s) => s === shard).length);
    // 1,000 expected each; 6 standard deviations (~27) either way.
    for (const count of counts) expect(Math.abs(count - 1000)).toBeLessThan(165);
    const five = await Promise.all(secrets.map((s) => shardOfSession(s, 5)));
    const moved = five.filter((shard, i) => shard !== four[i]);
    // Only to the new shard, and about a fifth of them.
    expect(new Set(moved)).toEqual(new Set([4]));
    expect(moved.length / secrets.length).toBeGreaterThan(0.15);
    expect(moved.length / secrets.length).toBeLessThan(0.25);
    expect(await Promise.all(secrets.slice(0, 50).map((s) => shardOfSession(s, 1)))).toEqual(new Array(50).fill(0));
  });

  it('ids name their shard; shard 0 ids are plain, as an unsharded hub mints them', () => {
    expect(connectionIdOn(0)).toMatch(/^[\w-]{21}$/);
    for (const shard of [0, 1, 7, 31]) expect(shardOfId(connectionIdOn(shard))).toBe(shard);
    expect(shardOfId('V1StGXR8_Z5jdHi6B-myT')).toBe(0);
    for (const odd of ['x.0', 'x.-1', 'x.1.5', 'x.y']) expect(shardOfId(odd), odd).toBe(-1);
    expect(shardName('room', 0)).toBe('room');
    expect(shardName('room', 3)).toBe('room#3');
  });

  it('shard mail keeps each message, text or bytes, in order', () => {
    const bytes = new Uint8Array(100_000).map((_, i) => i % 251);
    const mail: ShardMail[] = [
      { type: 'broadcast', data: 'hello', except: ['a', 'b.2'] },
      { type: 'send', connection: 'c.1', data: bytes },
      { type: 'close', connection: 'd', reason: 'closed by the application' },
      { type: 'broadcast', data: new Uint8Array([0, 255]), except: [] },
    ];
    expect(decodeMail(encodeMail(3, mail))).toEqual({ from: 3, mail });
    // Hub mail (runtime/hub/mail.ts), read strictly: a letter or nothing, known types only, and only a shard's.
    expect(() => decodeMail('{"k":"b"}')).toThrow(/letter/);
    expect(() => decodeMail('{"from":"1","mail":[{"type":"z"}]}')).toThrow(/unknown/);
    expect(() => decodeMail('{"from":"1","mail":[{"type":"hello"}]}')).toThrow(/not mail for a shard/);
    expect(() => decodeMail('{"from":"a","mail":[]}')).toThrow(/shard's number/);
  });

  it('KEEPALIVE_SHARDS is a whole number from 1 to 32, named when wrong', () => {
    expect(hubConfig({}).shards).toBe(1);
    expect(hubConfig({ KEEPALIVE_SHARDS: '32' }).shards).toBe(32);
    for (const bad of ['0', '33', '2.5', 'four']) expect(() => hubConfig({ KEEPALIVE_SHARDS: bad }), bad).toThrow(/KEEPALIVE_SHARDS/);
  });

  it('new connections go to the shards in turn', () => {
    const turns = new ShardTurns();
    const picked = Array.from({ length: 12 }, () => turns.next(4));
    expect([0, 1, 2, 3].map((shard) => picked.filter((s) => s === shard).length)).toEqual([3, 3, 3, 3]);
    for (let i = 1; i < picked.length; i++) expect(picked[i]).toBe((picked[i - 1]! + 1) % 4);
  });
});
