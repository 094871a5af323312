/**
 * Delivery mode on a Durable Object when the peer's socket is lost: what the hub sends
 * meanwhile waits in its window, in storage; the object is evicted (twice) while nobody is
 * connected, and the peer, back with its session, gets exactly what it did not have, in
 * order, from an instance that read it back from storage. Its own messages go on where the
 * hub's RESUME says.
 */
import { expect, it } from 'vitest';
import { createSessionSecret } from '../../../runtime/protocol/sessions.ts';
import { DeliveryPeer } from './peer.ts';
import { evict, heard, hubSends, hubStub, numbered, stats } from './stream.ts';

it('replays what the hub sent while the peer was away, across evictions, once and in order', async () => {
  const hub = 'delivery-replay';
  const stub = hubStub(hub);
  const peer = await new DeliveryPeer(hub, createSessionSecret()).open();
  await hubSends(hub, 20);
  for (let i = 0; i < 20; i++) peer.send(`c${i}`);
  await peer.until(() => peer.down.length === 20, '20 messages down');
  await expect.poll(async () => (await heard(hub)).length).toBe(20);

  // The peer drops the socket without acknowledging anything more (4000: it will come back).
  const epoch = peer.epoch;
  peer.ws.close(4000, 'server declared dead');
  await expect.poll(async () => (await stats(stub)).sockets).toBe(0);
  expect((await stats(stub)).connections).toBe(1);
  // Held for it, in storage: sent by this instance, then by two rebuilt ones.
  expect(await hubSends(hub, 15)).toEqual({ sent: 35, refused: 0, connection: peer.id });
  await evict(stub);
  expect((await hubSends(hub, 15)).sent).toBe(50);
  await evict(stub);
  const constructed = (await stats(stub)).wakes.constructed;
  expect(constructed).toBeGreaterThanOrEqual(3);

  await peer.open();
  expect(peer.epoch).toBe(epoch);
  await peer.until(() => peer.down.length === 50, 'the held messages replayed');
  for (let i = 20; i < 30; i++) peer.send(`c${i}`);
  await expect.poll(async () => (await heard(hub)).length).toBe(30);
  expect(peer.errors).toEqual([]);
  expect(peer.down).toEqual(numbered('s', 0, 50).map((m) => m.data));
  expect(peer.seqs).toEqual(numbered('s', 0, 50).map((m) => m.seq));
  expect(await heard(hub)).toEqual(numbered('c', 0, 30));
});
