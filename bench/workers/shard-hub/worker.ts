/** Figure 12's hub: a `bc:<stamp>` frame from any peer goes to every peer of the hub, on every shard. */
import { KeepaliveHub, type AppData, type Connection } from '../../../adapters/cloudflare/index.ts';

export { default } from '../../../adapters/cloudflare/index.ts';

export class BroadcastingHub extends KeepaliveHub {
  override onMessage(conn: Connection, data: AppData) {
    if (typeof data === 'string' && data.startsWith('bc:')) this.broadcast(data, { except: conn });
  }
}
