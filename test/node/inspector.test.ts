/**
 * Where the Node server serves the inspector: on by default on loopback (`npm start`),
 * behind the token when one is set, never on an open interface without one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { inspectorByDefault } from '../../runtime/hub/routes.ts';

const servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(options: Parameters<typeof startServer>[0] = {}) {
  const server = await startServer({ port: 0, tcpPort: 0, ...options });
  servers.push(server);
  return server;
}

describe('the Node server and /inspect', () => {
  it('serves the page on loopback by default, and not when turned off', async () => {
    const on = await serve();
    const page = await fetch(`${on.url}/inspect`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('keepalive inspector');
    const off = await serve({ inspector: false });
    expect((await fetch(`${off.url}/inspect`)).status).toBe(404);
  });

  it('asks for the token on the page and on its stream when one is set', async () => {
    const server = await serve({ token: 'hunter2' });
    expect((await fetch(`${server.url}/inspect`)).status).toBe(401);
    expect((await fetch(`${server.url}/inspect/events`)).status).toBe(401);
    expect((await fetch(`${server.url}/inspect?token=hunter2`)).status).toBe(200);
    const stream = await fetch(`${server.url}/inspect/events`, { headers: { authorization: 'Bearer hunter2' } });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    await stream.body!.cancel();
  });

  it('is on by default only where nobody else can reach it, or with a token', () => {
    expect(inspectorByDefault('127.0.0.1', undefined)).toBe(true);
    expect(inspectorByDefault('localhost', undefined)).toBe(true);
    expect(inspectorByDefault('::1', undefined)).toBe(true);
    expect(inspectorByDefault('0.0.0.0', undefined)).toBe(false);
    expect(inspectorByDefault('192.168.1.10', undefined)).toBe(false);
    expect(inspectorByDefault('::', undefined)).toBe(false);
    expect(inspectorByDefault('0.0.0.0', 'secret')).toBe(true);
  });

  it('closes open inspector streams when the server shuts down', async () => {
    const server = await startServer({ port: 0, tcpPort: 0 });
    const stream = await fetch(`${server.url}/inspect/events`);
    const reader = stream.body!.getReader();
    await reader.read(); // the snapshot
    await server.close();
    // The stream ends (or errors) instead of keeping the process alive.
    const ended = async (): Promise<boolean> => {
      for (;;) {
        const next = await reader.read().catch(() => ({ done: true }) as const);
        if (next.done) return true;
      }
    };
    expect(await ended()).toBe(true);
  });
});
