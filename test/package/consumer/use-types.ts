// Type-checked by pack.test.ts against the installed package's .d.ts, under
// `moduleResolution: nodenext` and `bundler`: the public types a Node user writes against.
import {
  Host,
  MemorySnapshotStore,
  keepaliveMachine,
  type ConnectionView,
  type KeepaliveOptions,
  type SnapshotStore,
  type Transport,
} from 'keepalive-actors';
import { inspectorRoutes } from 'keepalive-actors/inspector';
import { connect, KeepaliveClient, SqliteSnapshotStore, startServer, type RunningServer, type ServerOptions } from 'keepalive-actors/node';

const options: KeepaliveOptions = { interval: 1000, count: 3, sendPings: true };
const store: SnapshotStore = new MemorySnapshotStore();
const sent: string[] = [];
const sockets: Transport = { send: (id, frame) => void sent.push(`${id} ${String(frame)}`), close: () => {} };
const host = new Host({ transport: sockets, store });
const id = host.open({ role: 'server', ...options });
const views: ConnectionView[] = host.list();
const state: string | undefined = host.view(id)?.state;
const machineId: string = keepaliveMachine.id;

export async function run(settings: ServerOptions): Promise<number> {
  const server: RunningServer = await startServer(settings);
  const client: KeepaliveClient = connect(server.wsUrl, { interval: 1000, count: 3 });
  client.addEventListener('dead', (event) => console.error(event.reason, event.at, event.silentFor));
  client.close();
  await server.close();
  return server.port;
}

export const durable = (path: string): SnapshotStore => new SqliteSnapshotStore(path, { synchronous: 'full' });
export const routes = inspectorRoutes({ host });
export { machineId, state, views };
