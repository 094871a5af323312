import type { Env as WorkerEnv } from '../../../adapters/cloudflare/config.ts';

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
    interface GlobalProps {
      mainModule: typeof import('../../../adapters/cloudflare/index.ts');
      durableNamespaces: 'KeepaliveHub';
    }
  }
}
