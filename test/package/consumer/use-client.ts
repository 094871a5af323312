// Type-checked by pack.test.ts (tsconfig.bundler.json, with the DOM lib, whose event types its
// declarations use): the browser client's public types, as a web app uses them.
import { connect, DeadEvent, type ConnectOptions, type KeepaliveClient } from 'keepalive-actors/client';

const options: ConnectOptions = { interval: 5000, count: 3, peer: 'ada', reconnect: { minDelay: 100, maxRetries: 10 } };
const client: KeepaliveClient = connect('wss://example.com/connect', options);
client.onmessage = (event) => console.log(event.data);
client.ondead = (event: DeadEvent) => console.warn(event.reason);
client.send('hello');
client.close();
