/**
 * A session connection outlives a socket that went without a final goodbye: it waits,
 * detached, for its peer to come back with the secret, or for the keepalive rule. One that
 * said goodbye (1000, 1001, no status) ends at once, as does any connection without a session.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { createSessionSecret } from '../../runtime/protocol/sessions.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { poll } from './helpers.ts';
import { rawWs, type RawWs } from './peers.ts';

const SERVER = { interval: 300, count: 1 };
/** A silent peer is dead 300 * (1 + 1) = 600 ms after its last message. */
const DEATH = SERVER.interval * (SERVER.count + 1);
const TOLERANCE = 400;

const servers: RunningServer[] = [];
const peers: RawWs[] = [];
afterEach(async () => {
  for (const peer of peers.splice(0)) peer.ws.terminate();
  await Promise.all(servers.splice(0).map((server) => server.close(undefined, { keepConnections: false })));
});

async function serve(options: { sendPings?: boolean } = {}): Promise<RunningServer> {
  const server = await startServer({ port: 0, tcpPort: 0, ...SERVER, inspector: false, ...options });
  servers.push(server);
  return server;
}

async function advertised(url: string): Promise<RawWs> {
  const peer = await rawWs(url, true);
  peers.push(peer);
  peer.ws.send(TEXT_FRAMES.ADVERTISE);
  return peer;
}

describe('a session connection whose socket closed', () => {
  it('without a goodbye (no close frame, or 4000) waits detached; the secret brings back the same one', async () => {
    const server = await serve();
    const url = `${server.wsUrl}?session=${createSessionSecret()}`;
    for (const leave of [(peer: RawWs) => peer.ws.terminate(), (peer: RawWs) => peer.ws.close(4000, 'peer dead: silent for 900 ms')]) {
      const peer = await advertised(url);
      await poll(() => server.host.list()[0]?.advertised === true);
      const [id] = [...server.host.ids()];
      leave(peer);
      await poll(() => server.openSockets().ws === 0);
      expect([...server.host.ids()]).toEqual([id]);
      await advertised(url);
      await poll(() => server.openSockets().ws === 1);
      expect([...server.host.ids()]).toEqual([id]);
      expect(server.host.view(id!)?.state).toMatch(/^alive/);
      peers.splice(0).forEach((p) => p.ws.terminate());
      await poll(() => server.openSockets().ws === 0);
    }
  });

  it('is declared dead by the rule when its peer stays away', async () => {
    const server = await serve();
    const peer = await advertised(`${server.wsUrl}?session=${createSessionSecret()}`);
    await poll(() => server.host.list()[0]?.advertised === true);
    const gone = Date.now();
    peer.ws.terminate();
    await poll(() => server.host.size === 0, DEATH + TOLERANCE * 3, 10);
    expect(Date.now() - gone).toBeLessThanOrEqual(DEATH + TOLERANCE);
  });

  it('ends at once after a goodbye, without a session, or where nothing would ever declare it dead', async () => {
    const judged = await serve();
    const bye = await advertised(`${judged.wsUrl}?session=${createSessionSecret()}`);
    await poll(() => judged.host.size === 1);
    bye.ws.close(1000);
    await poll(() => judged.host.size === 0, TOLERANCE);
    const anonymous = await advertised(judged.wsUrl);
    await poll(() => judged.host.size === 1);
    anonymous.ws.terminate();
    await poll(() => judged.host.size === 0, TOLERANCE);

    const silent = await serve({ sendPings: false });
    const peer = await advertised(`${silent.wsUrl}?session=${createSessionSecret()}`);
    await poll(() => silent.host.size === 1);
    peer.ws.terminate();
    await poll(() => silent.host.size === 0, TOLERANCE);
  });
});
