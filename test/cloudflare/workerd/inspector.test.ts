/**
 * The inspector on the Worker, inside real workerd: each hub's page at /inspect/<hub>,
 * served by that hub's object, only with the configured token; its stream follows the
 * object's host live, down to a death the alarm declares; the page going away puts the
 * object back on its cheap path (no watcher, the platform answering PINGs again).
 */
import { runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { keepaliveMachine } from '../../../actors/keepalive.ts';
import type { HostEvent } from '../../../runtime/host/types.ts';
import { COUNT, connect, eventStream, eventually, fakeClock, get, hubStub, INTERVAL, runAlarm, stats, TOKEN, view, withEnv, type Stub } from './helpers.ts';

afterEach(() => {
  vi.useRealTimers();
});

const bearer = { headers: { Authorization: `Bearer ${TOKEN}` } };

/** Where the page's script opens its stream (from the page's own config). */
async function streamUrlOf(response: Response): Promise<string> {
  const html = await response.text();
  return (JSON.parse(/<script type="application\/json" id="inspector-config">(.*?)<\/script>/.exec(html)![1]!) as { events: string }).events;
}

/** Every state path of a machine, walked here over XState's StateNode tree (not the page's code). */
function statePaths(machine: AnyStateMachine): { path: string; key: string }[] {
  type Node = { key: string; path: string[]; states: Record<string, Node> };
  const out: { path: string; key: string }[] = [];
  const visit = (node: Node) => {
    out.push({ path: node.path.join('.'), key: node.key });
    Object.values(node.states).forEach(visit);
  };
  visit(machine.root as unknown as Node);
  return out;
}

const autoResponse = (stub: Stub) => runInDurableObject(stub, (_o, state) => state.getWebSocketAutoResponse()?.response ?? null);

describe('the inspector on the Worker', () => {
  it('is off without a configured token, and needs the right one on the page and its stream', async () => {
    const paths = ['/inspect', '/inspect/x', '/inspect/x/events'];
    for (const token of [undefined, '']) {
      for (const path of paths) {
        for (const init of [undefined, { headers: { Authorization: 'Bearer anything' } }]) {
          const response = await withEnv({ KEEPALIVE_TOKEN: token }, path, init);
          expect(response.status, `${path} with KEEPALIVE_TOKEN ${JSON.stringify(token)}`).toBe(403);
          expect(await response.json()).toEqual({ error: 'this route is off: set the KEEPALIVE_TOKEN secret to enable it' });
        }
      }
    }
    for (const path of paths) {
      expect((await get(path)).status, path).toBe(401);
      expect((await get(path, { headers: { Authorization: 'Bearer wrong' } })).status, path).toBe(401);
      expect((await get(`${path}?token=wrong`)).status, path).toBe(401);
    }
    expect((await get('/inspect/x', bearer)).status).toBe(200);
    expect((await get(`/inspect/x?token=${TOKEN}`)).status).toBe(200);
    const stream = await get(`/inspect/x/events?token=${TOKEN}`);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    await stream.body!.cancel();
    // Bad hub names never reach an object.
    expect((await get('/inspect/a%20b', bearer)).status).toBe(400);
  });

  it('draws every state of keepaliveMachine, and hands the token only to the page\'s own stream, under its hub', async () => {
    const response = await get('/inspect/drawn', bearer);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await response.clone().text();
    const states = statePaths(keepaliveMachine);
    expect(states.length).toBeGreaterThanOrEqual(9);
    for (const { path, key } of states) {
      const group = new RegExp(`<g class="state[^"]*" data-state="${path}"[^>]*>.*?<text class="title"[^>]*>([^<]*)</text>`).exec(html);
      expect(group, `state ${path || '(root)'}`).not.toBeNull();
      expect(group![1]).toBe(key);
    }
    expect(html).toContain(`keepalive: ${states.length} states`);

    // The page was authorised by a header; its EventSource cannot send one, so the URL carries the token.
    expect(await streamUrlOf(response)).toBe(`/inspect/drawn/events?token=${TOKEN}`);
    expect(html.split(TOKEN)).toHaveLength(2);
    // The default hub's page names its stream by the hub, not /inspect/events (which is hub "events").
    expect(await streamUrlOf(await get(`/inspect?token=${TOKEN}`))).toBe(`/inspect/default/events?token=${TOKEN}`);
  });

  it('streams the hub\'s connections, then every ADVERTISE, PING and PONG as it happens and a death the alarm declares', async () => {
    const clock = fakeClock();
    const hub = 'inspected';
    const stub = hubStub(hub);
    const a = await connect(hub);
    a.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await view(stub, a.id))?.advertised).toBe(true));
    const other = await connect('inspected-elsewhere');

    const url = await streamUrlOf(await get(`/inspect/${hub}`, bearer));
    const response = await get(url);
    expect(response.status).toBe(200);
    const stream = eventStream(response.body!);
    const snapshot = await stream.next();
    expect(snapshot?.event).toBe('snapshot');
    expect(snapshot!.data.now).toBe(clock.t0);
    // This hub's connections only.
    expect(snapshot!.data.connections!.map((c) => [c.id, c.state, c.advertised])).toEqual([[a.id, 'alive.watching', true]]);
    // Watched: the object steps every frame, and PINGs come to it instead of the platform.
    expect((await stats(stub)).inspectors).toBe(1);
    expect(await autoResponse(stub)).toBeNull();

    const of = (id: string, type: HostEvent['type'], detail: (e: HostEvent) => boolean = () => true) => (e: HostEvent) => e.id === id && e.type === type && detail(e);
    const message = (m: string) => (e: HostEvent) => 'message' in e && e.message === m;
    const stepped = (event: string, state: string) => (e: HostEvent) => e.type === 'stepped' && e.event === event && e.state === state;

    const b = await connect(hub);
    expect(await stream.until(of(b.id, 'opened'), 'b opened')).toMatchObject({ role: 'server', at: clock.t0 });
    b.ws.send('keepalive:ADVERTISE');
    await stream.until(of(b.id, 'received', message('ADVERTISE')), 'b\'s ADVERTISE');
    expect(await stream.until(of(b.id, 'stepped', stepped('peer.advertise', 'alive.watching')), 'b advertised')).toMatchObject({
      from: 'awaitingAdvertise',
    });
    b.ws.send('keepalive:PING');
    await stream.until(of(b.id, 'received', message('PING')), 'b\'s PING');
    await stream.until(of(b.id, 'sent', message('PONG')), 'the PONG to b');
    // Answered once, by the host: the platform's auto-response is off while watched.
    expect(await b.frameCount(1)).toEqual(['keepalive:PONG']);

    // Each interval the alarm PINGs both; b answers, a stays silent until it is dead.
    for (let k = 1; k <= COUNT; k++) {
      clock.at(k * INTERVAL);
      expect(await runAlarm(stub)).toBe(true);
      await stream.until(of(a.id, 'sent', message('PING')), `PING ${k} to a`, k);
      await stream.until(of(b.id, 'sent', message('PING')), `PING ${k} to b`, k);
      expect((await b.frameCount(1 + k))[k]).toBe('keepalive:PING');
      b.ws.send('keepalive:PONG');
      await stream.until(of(b.id, 'received', message('PONG')), `b's PONG ${k}`, k);
      expect(await stream.until(of(b.id, 'stepped', stepped('peer.pong', 'alive.watching')), `b's PONG ${k} stepped`, k)).toMatchObject({
        connection: { pongsReceived: k, unanswered: 0 },
      });
    }
    expect(await stream.until(of(a.id, 'stepped', stepped('tick', 'alive.probing')), 'a probing', COUNT)).toMatchObject({
      connection: { unanswered: COUNT },
    });
    clock.at(INTERVAL * (COUNT + 1));
    expect(await runAlarm(stub)).toBe(true);
    expect(await stream.until(of(a.id, 'dead'), 'a dead')).toMatchObject({ silentFor: INTERVAL * (COUNT + 1), unanswered: COUNT });
    await stream.until(of(a.id, 'stepped', stepped('tick', 'dead')), 'a\'s last step');
    expect((await a.closed).code).toBe(4000);
    // Nothing from the other hub reached this stream.
    expect(stream.events.some((e) => e.id === other.id)).toBe(false);

    // The page goes away: its stream ends in the object, which goes back to its cheap path.
    await stream.cancel();
    await eventually(async () => expect((await stats(stub)).inspectors).toBe(0));
    expect(await autoResponse(stub)).toBe('keepalive:PONG');
    const before = await stats(stub);
    b.ws.send('keepalive:PING');
    await b.frameCount(COUNT + 3);
    expect(b.frames.at(-1)).toBe('keepalive:PONG');
    // The first PONG answers the last alarm's PING: folded at once so the alarm can move
    // later (one step); the next is recorded without a step.
    b.ws.send('keepalive:PONG');
    b.ws.send('keepalive:PONG');
    await eventually(async () => expect((await stats(stub)).wakes.messages).toBe(before.wakes.messages + 2));
    const after = await stats(stub);
    // The PING was answered by the platform (no delivery).
    expect(after.wakes.pings).toBe(before.wakes.pings);
    expect(after.host.steps).toBe(before.host.steps + 1);
    b.ws.close(1000, 'done');
    other.ws.close(1000, 'done');
  });

  it('lets several pages watch one hub; the platform answers PINGs again only when the last one leaves', async () => {
    const hub = 'watched-twice';
    const stub = hubStub(hub);
    const open = async () => {
      const stream = eventStream((await get(`/inspect/${hub}/events`, bearer)).body!);
      expect((await stream.next())?.event).toBe('snapshot');
      return stream;
    };
    const first = await open();
    const second = await open();
    expect((await stats(stub)).inspectors).toBe(2);
    await first.cancel();
    await eventually(async () => expect((await stats(stub)).inspectors).toBe(1));
    expect(await autoResponse(stub)).toBeNull();
    await second.cancel();
    await eventually(async () => expect((await stats(stub)).inspectors).toBe(0));
    expect(await autoResponse(stub)).toBe('keepalive:PONG');
  });
});
