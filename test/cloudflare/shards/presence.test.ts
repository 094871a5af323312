/**
 * Presence for peers over four Durable Objects (KEEPALIVE_SHARDS=4, KEEPALIVE_PRESENCE on),
 * inside real workerd: a subscriber on one shard lists every shard's peers as the hub's
 * `/presence` does, hears a state set on another shard, and a join and a leave there, once.
 */
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { shardOfId } from '../../../adapters/cloudflare/shards.ts';
import type { PresenceEntry } from '../../../runtime/application/types.ts';
import type { PresenceFrame, PresencePeer } from '../../../runtime/protocol/index.ts';
import { listForm, rowsForm } from '../../support/presence-lists.ts';
import { connect as open, eventually, TOKEN, type Peer } from '../workerd/helpers.ts';

const SHARDED_ID = /^[\w-]{21}(\.[1-9]\d?)?$/;
const connect = (hub: string, query = '') => open(hub, query, SHARDED_ID);

const frames = (peer: Peer): PresenceFrame[] =>
  peer.frames.flatMap((frame) => (typeof frame === 'string' && frame.startsWith('keepalive:PRESENCE ') ? [JSON.parse(frame.slice(19)) as PresenceFrame] : []));

/** A subscriber's list after its frames, as the client keeps it. */
function listOf(peer: Peer): PresencePeer[] {
  const list = new Map<string, PresencePeer>();
  const key = (e: { peer: string | null; id?: string; connections?: readonly { id: string }[] }) => e.peer ?? `#${e.id ?? e.connections![0]!.id}`;
  for (const frame of frames(peer)) {
    if (frame.sync) {
      list.clear();
      for (const entry of frame.sync) list.set(key(entry), entry);
    }
    for (const k of frame.leave ?? []) list.delete(key(k));
    for (const entry of [...(frame.join ?? []), ...(frame.update ?? [])]) list.set(key(entry), entry);
  }
  return [...list.values()];
}

async function truth(hub: string): Promise<string[]> {
  const response = await exports.default.fetch(`http://hub.test/presence/${hub}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return rowsForm((await response.json()) as PresenceEntry[]);
}

describe('presence for peers over four Durable Objects', () => {
  it('one list across shards: joins, states and leaves from other shards, each once', async () => {
    const hub = `presence-${crypto.randomUUID()}`;
    const watcher = await connect(hub, '?presence=1&peer=watcher');
    const others: Peer[] = [];
    for (let i = 0; i < 7; i++) others.push(await connect(hub, `?peer=p${i % 5}`));
    for (const peer of [watcher, ...others]) peer.ws.send('keepalive:ADVERTISE');
    expect(new Set(others.map((p) => shardOfId(p.id))).size).toBeGreaterThan(1);
    await eventually(async () => expect(listForm(listOf(watcher))).toEqual(await truth(hub)));
    expect(listOf(watcher).find((e) => e.peer === 'p0')!.connections.map((c) => c.shard).sort()).toEqual([shardOfId(others[0]!.id), shardOfId(others[5]!.id)].sort());

    const elsewhere = others.find((p) => shardOfId(p.id) !== shardOfId(watcher.id))!;
    elsewhere.ws.send('keepalive:PRESENCE-SET {"typing":true}');
    await eventually(async () => expect(listOf(watcher).find((e) => e.connections.some((c) => c.id === elsewhere.id))!.state).toEqual({ typing: true }));

    // (Not evicted here: in this harness an object that made a request to a sibling is never
    // evicted, broadcasts alike; the rows it keeps for a rebuild are read back in shard-presence.ts.)
    const seen = frames(watcher).length;
    const late = await connect(hub, '?peer=late');
    late.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect(listForm(listOf(watcher))).toEqual(await truth(hub)));
    expect(frames(watcher).slice(seen).flatMap((f) => [...(f.join ?? []), ...(f.update ?? [])]).map((e) => e.peer)).toEqual(['late']);

    late.ws.close(1000, 'bye');
    await eventually(async () => expect(frames(watcher).at(-1)).toEqual({ leave: [{ peer: 'late' }] }));
    expect(listForm(listOf(watcher))).toEqual(await truth(hub));
    for (const peer of [watcher, ...others]) peer.ws.close(1000, 'done');
  });
});
