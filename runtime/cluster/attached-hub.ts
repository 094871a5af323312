import type { Application } from '../application/index.ts';
import type { Host, SocketRegistry } from '../host/index.ts';
import type { ConnectGate } from '../hub/index.ts';

/** The hub a cluster process serves, as its running parts reach it: it exists before they are built. */
export interface AttachedHub {
  readonly host: Host;
  readonly application: Application;
  readonly gate: ConnectGate;
  readonly sockets: SocketRegistry;
}
