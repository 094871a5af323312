import { describe, expect, it } from 'vitest';
import { newConnectionId } from '../../runtime/protocol/connection-id.ts';
import { Host } from '../../runtime/host/host.ts';

describe('connection ids', () => {
  it('are 21-character nanoids, unique, and what a host hands out by default', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newConnectionId()));
    expect(ids.size).toBe(10_000);
    for (const id of [...ids].slice(0, 100)) expect(id).toMatch(/^[A-Za-z0-9_-]{21}$/);
    const host = new Host({ transport: { send: () => {}, close: () => {} } });
    expect(host.open({ role: 'server' })).toMatch(/^[A-Za-z0-9_-]{21}$/);
  });
});
