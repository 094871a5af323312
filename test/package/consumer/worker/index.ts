// A user's Worker: the package's Durable Object class and fetch handler, re-exported.
export { KeepaliveHub, default } from 'keepalive-actors/cloudflare';
