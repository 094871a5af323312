/**
 * `keepalive-actors/node`: the Node server (WebSocket + libvirt-framed TCP + inspector),
 * the Node client, and snapshots in a SQLite file.
 */
export { startServer, type CloseOptions, type ClusterOptions, type RunningServer, type ServerOptions } from './server.ts';
export { connect, KeepaliveClient, type ConnectOptions, type ReadyState } from './client.ts';
export { SqliteSnapshotStore, type SqliteStoreOptions } from './sqlite-store.ts';
export { LIBVIRT_TCP_PORT, libvirtTarget } from './libvirt-client.ts';
