import type { Env as WorkerEnv } from '../../../adapters/cloudflare/config.ts';

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
    interface GlobalProps {
      mainModule: typeof import('./worker.ts');
      durableNamespaces: 'StreamHub';
    }
  }
}
