/**
 * Stately's inspector sees every connection actor: the real `@statelyai/inspect`
 * WebSocket inspector, handed to the Node server as `inspect`, reports to a local
 * WebSocket server standing in for Stately's relay (`createInspectorServer`), while real
 * clients connect over WebSocket and TCP. Polling with a 10 s limit on a loaded machine.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createWebSocketInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import { startServer, type RunningServer } from '../../../adapters/node/server.ts';
import { connect, type KeepaliveClient } from '../../../adapters/node/client.ts';
import { poll } from '../../node/helpers.ts';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

describe('Stately inspector (@statelyai/inspect, WebSocket)', () => {
  it('receives actor, event and snapshot inspection events for every connection actor', async () => {
    const relay = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => new Promise((resolve) => relay.close(resolve)));
    await once(relay, 'listening');
    const received: StatelyInspectionEvent[] = [];
    relay.on('connection', (socket) => socket.on('message', (data) => received.push(JSON.parse(String(data)) as StatelyInspectionEvent)));

    const inspector = createWebSocketInspector({ url: `ws://127.0.0.1:${(relay.address() as AddressInfo).port}` });
    cleanup.push(() => inspector.stop());
    await once(relay, 'connection');

    const server: RunningServer = await startServer({ port: 0, tcpPort: 0, interval: 200, count: 5, inspect: inspector.inspect });
    cleanup.push(() => server.close());
    const clients: KeepaliveClient[] = [server.wsUrl, server.wsUrl, server.tcpUrl!].map((url) => connect(url, { interval: 100, count: 5, reconnect: false }));
    cleanup.push(() => clients.forEach((c) => c.readyState !== 3 && c.close(1000, 'test over')));
    await poll(() => server.host.size === 3);
    const ids = [...server.host.ids()];

    // Stately names an actor by its id (the connection id); later events carry its session id.
    const sessionOf = (id: string) => received.find((e) => e.type === '@xstate.actor' && e.name === id)?.sessionId;
    const of = (id: string) => received.filter((e) => e.sessionId === sessionOf(id));
    const eventTypes = (id: string) => of(id).flatMap((e) => (e.type === '@xstate.event' ? [e.event.type] : []));
    type Inspected = { value?: unknown; context?: { pingsReceived: number } };
    const snapshots = (id: string) => of(id).flatMap((e) => (e.type === '@xstate.snapshot' ? [e.snapshot as Inspected] : []));
    const values = (id: string) => snapshots(id).map((s) => s.value);

    await poll(() => ids.every((id) => eventTypes(id).includes('peer.ping') && values(id).length > 2), 10_000);
    for (const id of ids) {
      const actor = received.find((e) => e.type === '@xstate.actor' && e.name === id);
      expect(actor, id).toBeDefined();
      expect(actor!.type === '@xstate.actor' && JSON.parse(actor!.definition ?? '{}').id).toBe('keepalive');
      // The server waits for ADVERTISE (a TCP peer's supports-feature call stands in for it), then every PING is an event.
      expect(eventTypes(id)).toEqual(expect.arrayContaining(['xstate.init', 'peer.advertise', 'peer.ping']));
      expect(values(id)).toContainEqual('awaitingAdvertise');
      expect(values(id).at(-1)).toEqual({ alive: 'watching' });
      expect(snapshots(id).at(-1)!.context!.pingsReceived).toBeGreaterThan(0);
    }

    // The end of a connection reaches the inspector too.
    clients[0]!.close(1000, 'bye');
    const gone = await poll(() => ids.find((id) => !server.host.has(id)));
    await poll(() => values(gone).at(-1) === 'closed', 10_000);
    expect(eventTypes(gone)).toContain('peer.closed');
  });
});
