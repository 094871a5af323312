import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Host } from '../../runtime/host/host.ts';
import {
  createSessionSecret,
  hashSessionSecret,
  isSessionSecret,
  SESSION_META,
  SessionIndex,
} from '../../runtime/protocol/sessions.ts';
import { MemorySnapshotStore } from '../../runtime/host/store.ts';
import { LinkTransport } from '../support/sim.ts';

function host(store = new MemorySnapshotStore()) {
  return new Host({ transport: new LinkTransport(), store, now: () => 0 });
}

describe('session secrets', () => {
  it('are hashed with SHA-256 through Web Crypto (hex), the same digest node:crypto computes', async () => {
    for (const secret of [createSessionSecret(), 'x'.repeat(128), 'AAAAbbbbCCCC-_00']) {
      expect(await hashSessionSecret(secret)).toBe(createHash('sha256').update(secret).digest('hex'));
    }
  });

  it('must be 16 to 128 URL-safe characters: a restored connection is open to anyone who guesses it', () => {
    expect(isSessionSecret(createSessionSecret())).toBe(true);
    expect(createSessionSecret()).not.toBe(createSessionSecret());
    expect(isSessionSecret('a'.repeat(16))).toBe(true);
    expect(isSessionSecret('a'.repeat(128))).toBe(true);
    for (const bad of ['', 'a'.repeat(15), 'a'.repeat(129), 'a'.repeat(15) + '/', 'a'.repeat(15) + ' ', 'ä'.repeat(16)]) {
      expect(isSessionSecret(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('SessionIndex', () => {
  it('claims: new for an unknown hash, resume for a connection without a socket, attached otherwise', () => {
    const h = host();
    const index = new SessionIndex(h);
    expect(index.claim('h1', () => false)).toEqual({ kind: 'new' });
    const id = h.open({ role: 'server', meta: { [SESSION_META]: 'h1' } });
    index.add('h1', id);
    expect(index.claim('h1', () => false)).toEqual({ kind: 'resume', id });
    expect(index.claim('h1', (x) => x === id)).toEqual({ kind: 'attached', id });
    // Once the connection ended, the secret opens a new one.
    h.peerClosed(id);
    expect(index.claim('h1', () => true)).toEqual({ kind: 'new' });
    expect(index.size).toBe(0);
  });

  it('indexes the connections a host restored, from the hash kept in their stored meta', () => {
    const store = new MemorySnapshotStore();
    const before = host(store);
    const a = before.open({ role: 'server', meta: { [SESSION_META]: 'ha', transport: 'ws' } });
    const b = before.open({ role: 'server' });
    const after = host();
    after.restore(store.load(), 0);
    const index = new SessionIndex(after);
    expect(index.lookup('ha')).toBe(a);
    expect(index.size).toBe(1);
    expect(after.meta(b)).toEqual({});
    // A restore after the index was built: refresh picks it up.
    const late = host();
    const lateIndex = new SessionIndex(late);
    expect(lateIndex.lookup('ha')).toBeUndefined();
    late.restore(store.load(), 0);
    lateIndex.refresh();
    expect(lateIndex.lookup('ha')).toBe(a);
  });

  it('stays bounded however many session connections come and go, with no listener on the host', () => {
    const h = host();
    const index = new SessionIndex(h);
    const live = h.open({ role: 'server' });
    index.add('keep', live);
    for (let i = 0; i < 5_000; i++) {
      const id = h.open({ role: 'server' });
      index.add(`h${i}`, id);
      h.peerClosed(id);
    }
    expect(index.size).toBeLessThanOrEqual(2 * h.size + 65);
    expect(index.lookup('keep')).toBe(live);
  });
});
