// The same Worker written against the package's types (workers-types, no Node, no DOM).
import worker, { KeepaliveHub, type Env } from 'keepalive-actors/cloudflare';

export { KeepaliveHub };
export default {
  fetch: (request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> => worker.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
