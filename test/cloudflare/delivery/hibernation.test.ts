/**
 * Delivery mode on a Durable Object that sleeps between messages: the object's instance is
 * dropped (as hibernation or an eviction drops it) while the peer's socket stays, messages go
 * both ways across each drop, some sent to the object while it has no instance at all.
 * Every message arrives once, in order, both ways; and an idle peer's PING is still exactly
 * `keepalive:PING`, answered by the platform without waking the object, as is the hub's.
 */
import { expect, it } from 'vitest';
import { createSessionSecret } from '../../../runtime/protocol/sessions.ts';
import { DeliveryPeer } from './peer.ts';
import { evict, heard, hubSends, hubStub, numbered, stats } from './stream.ts';

const ROUNDS = 4;
const AWAKE = 25;
const ASLEEP = 10;

it('carries every message once, in order, both ways, across the object sleeping between them', async () => {
  const hub = 'delivery-hibernation';
  const stub = hubStub(hub);
  const peer = await new DeliveryPeer(hub, createSessionSecret()).open();
  expect(peer.epoch).toBe(peer.id);
  let down = 0;
  let up = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Awake: the hub sends, the peer answers.
    down = (await hubSends(hub, AWAKE)).sent;
    for (let i = 0; i < AWAKE; i++) peer.send(`c${up++}`);
    await peer.until(() => peer.down.length === down, `${down} messages down`);
    await expect.poll(async () => (await heard(hub)).length).toBe(up);
    // Asleep: the peer sends to an object with no instance; the first message builds one from storage.
    await evict(stub);
    for (let i = 0; i < ASLEEP; i++) peer.send(`c${up++}`);
    await expect.poll(async () => (await heard(hub)).length).toBe(up);
    // And the hub sends from a fresh instance again, its window read back from storage.
    await evict(stub);
    down = (await hubSends(hub, ASLEEP)).sent;
    await peer.until(() => peer.down.length === down, `${down} messages down after a rebuild`);
    await evict(stub);
  }
  expect(peer.errors).toEqual([]);
  expect(peer.down).toEqual(numbered('s', 0, down).map((m) => m.data));
  expect(peer.seqs).toEqual(numbered('s', 0, down).map((m) => m.seq));
  expect(await heard(hub)).toEqual(numbered('c', 0, up));
  expect(down).toBe(ROUNDS * (AWAKE + ASLEEP));
  // One socket all along, and an instance per drop.
  expect(peer.closedWith).toBeNull();
  expect((await stats(stub)).wakes.constructed).toBeGreaterThanOrEqual(3 * ROUNDS);
  // The hub acknowledged everything (on its DATA, PONGs, PINGs or an ACK alone): nothing to replay.
  await peer.until(() => peer.floor === up, 'every message acknowledged');

  // Idle: the peer owes nothing, so its PING is the bare one the platform answers while the object sleeps.
  peer.ack();
  const ping = peer.frames.length;
  await peer.until(() => peer.frames.slice(ping).includes('keepalive:PING'), 'the hub\'s next PING');
  await evict(stub);
  const before = (await stats(stub)).wakes;
  const pongs = peer.frames.filter((f) => f === 'keepalive:PONG').length;
  peer.ws.send('keepalive:PING');
  await peer.until(() => peer.frames.filter((f) => f === 'keepalive:PONG').length > pongs, 'the platform\'s PONG');
  const after = (await stats(stub)).wakes;
  expect(after.messages).toBe(before.messages);
  expect(after.pings).toBe(before.pings);
  // The hub's own PINGs after it was acknowledged: bare too, and no ACK of its own in the quiet.
  const quiet = peer.frames.length;
  await peer.until(() => peer.frames.slice(quiet).includes('keepalive:PING'), 'the hub\'s PING in the quiet', 5000);
  expect(peer.frames.slice(quiet).filter((f) => !f.startsWith('keepalive:PONG'))).toEqual(['keepalive:PING']);
  expect(peer.errors).toEqual([]);
});
