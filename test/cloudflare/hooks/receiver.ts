/**
 * The webhook receiver the workerd-hooks project's Durable Objects POST to: a real HTTP
 * server on loopback in the vitest process (started when the config loads). A test in
 * workerd steers it over HTTP: `down` (every delivery's connection is cut before it is
 * read: a network error), `fail` (per hub: answer 503 to the next n tries), and reads
 * what arrived.
 *
 *   POST /control/<hub>  {"down": true} | {"fail": 2}   (down applies to every hub)
 *   GET  /received/<hub> [{ event, signed, status }]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature } from '../../../runtime/application/webhook.ts';
import type { ApplicationEvent } from '../../../runtime/application/events.ts';

export const RECEIVER_SECRET = 'workerd-hooks-secret';

interface HubState {
  down?: boolean;
  fail: number;
  received: { event: ApplicationEvent; signed: boolean; status: number }[];
}

export async function startReceiver(): Promise<{ url: string }> {
  const hubs = new Map<string, HubState>();
  let down = false;

  const state = (hub: string) => {
    let s = hubs.get(hub);
    if (!s) hubs.set(hub, (s = { fail: 0, received: [] }));
    return s;
  };
  const server = createServer(async (request, response) => {
    if (down && request.url === '/hook') return request.socket.destroy();
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString();
    const [, route, hub = ''] = (request.url ?? '').split('/');
    if (route === 'control') {
      const control = JSON.parse(body) as Partial<HubState>;
      if (control.down !== undefined) down = control.down;
      if (control.fail !== undefined) state(hub).fail = control.fail;
      return response.writeHead(204).end();
    }
    if (route === 'received') {
      return response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(state(hub).received));
    }
    const event = JSON.parse(body) as ApplicationEvent;
    const s = state(event.hub);
    const signature = request.headers['x-keepalive-signature'];
    const signed = typeof signature === 'string' && (await verifySignature(body, signature, RECEIVER_SECRET));
    const status = !signed ? 401 : s.fail > 0 ? (s.fail--, 503) : 200;
    s.received.push({ event, signed, status });
    response.writeHead(status).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // The run ends with vitest; this server must not keep it alive.
  server.unref();
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
