/**
 * Hub mail (runtime/hub/mail.ts), the one encoding between the parts of a hub: every
 * message survives a round trip, and reading is strict, refusing a whole letter for
 * anything out of place. Then, on a real redis-server, letters that do not read, or that
 * hold mail for the wrong channel, are reported and dropped by a clustered process, which
 * goes on serving its hub.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { connect } from '../../adapters/node/client.ts';
import type { KeepaliveClient } from '../../runtime/client/keepalive-client.ts';
import { fromBase64, toBase64 } from '../../runtime/codec/index.ts';
import { decodeLetter, encodeLetter, MailError, type Mail } from '../../runtime/hub/mail.ts';
import { hubKeys, startRedis, type RedisProcess } from '../support/redis.ts';
import { nextEvent } from '../support/client-events.ts';
import { until } from '../node/helpers.ts';

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

describe('a clustered process and mail it cannot read', () => {
  let redis: RedisProcess;
  const servers: RunningServer[] = [];
  let client: KeepaliveClient;
  const logs: string[] = [];
  const received: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    for (const node of ['a', 'b']) {
      servers.push(await startServer({ port: 0, tcpPort: null, interval: 500, count: 2, cluster: { redis: redis.url, node }, log: (line) => logs.push(`${node} ${line}`) }));
    }
    client = connect(servers[1]!.wsUrl, { peer: 'on-b', interval: 500, count: 2, reconnect: false });
    client.addEventListener('message', (event) => received.push(String((event as unknown as { data: unknown }).data)));
    await nextEvent(client, 'open');
    await until(() => servers[0]!.hub.presence().length === 1, 'a sees the peer on b', 3000);
  }, 30_000);

  afterAll(async () => {
    client?.close();
    for (const server of servers) await server.close();
    await redis?.stop();
  });

  it('reports and drops it, and goes on serving', async () => {
    const publisher = createClient({ url: redis.url });
    await publisher.connect();
    const id = servers[1]!.host.ids().next().value!;
    try {
      await publisher.publish(hubKeys().hubChannel, 'not json');
      await publisher.publish(hubKeys().hubChannel, JSON.stringify({ from: 'x', mail: [{ type: 'send', connection: id, text: 'stray' }] }));
      await publisher.publish(hubKeys().nodeChannel('b'), JSON.stringify({ from: 'x', mail: [{ type: 'hello' }] }));
      await publisher.publish(hubKeys().nodeChannel('b'), JSON.stringify({ from: 'x', mail: [{ type: 'send', connection: id, base64: '%%%%' }] }));
      await publisher.publish(hubKeys().nodeChannel('b'), JSON.stringify({ t: 'send', id, d: 'old keys' }));
    } finally {
      await publisher.close();
    }
    const dropped = () => logs.filter((line) => line.startsWith('b dropped a letter'));
    await until(() => dropped().length === 5, 'five letters dropped by b', 2000);
    expect(dropped().join('\n')).toMatch(/hub's channel: a letter is JSON/);
    expect(dropped().join('\n')).toMatch(/"send" from node x: not mail for every process/);
    expect(dropped().join('\n')).toMatch(/"hello" from node x: not mail for one process/);
    expect(dropped().join('\n')).toMatch(/base64 is not base64/);
    // Each process hears the hub's channel: a's report of the first two.
    await until(() => logs.filter((line) => line.startsWith('a dropped a letter')).length === 2, 'two letters dropped by a', 2000);
    expect(received).toEqual([]);
    // Still one hub: a send from a reaches the peer on b.
    expect(servers[0]!.hub.connection(id)?.send('after')).toBe(true);
    await until(() => received.includes('after'), 'the send from a', 2000);
    expect(servers[1]!.host.size).toBe(1);
  });
});
