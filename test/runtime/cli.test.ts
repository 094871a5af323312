import { describe, expect, it } from 'vitest';
import { serveOptions, type Env } from '../../runtime/server/cli.ts';
import { DEFAULTS, defaultAdvertiseTimeout, hubSettings, envSource, UsageError } from '../../runtime/config/settings.ts';

const envOf =
  (vars: Record<string, string>): Env =>
  (name) =>
    vars[name];

describe('one settings model', () => {
  it('takes a flag over the environment over the default, every default from one place', () => {
    expect(serveOptions({}, envOf({}))).toEqual({
      host: DEFAULTS.host,
      port: DEFAULTS.port,
      tcpPort: DEFAULTS.tcpPort,
      interval: DEFAULTS.interval,
      count: DEFAULTS.count,
      sendPings: true,
      advertiseTimeout: defaultAdvertiseTimeout(DEFAULTS.interval, DEFAULTS.count),
      maxConnections: undefined,
      maxPingsPerInterval: DEFAULTS.maxPingsPerInterval,
      maxFrameBytes: DEFAULTS.maxFrameBytes,
      pingWindow: undefined,
      deliveryWindow: DEFAULTS.deliveryWindow,
      deliveryWindowBytes: DEFAULTS.deliveryWindowBytes,
      presence: false,
      presenceStateBytes: DEFAULTS.presenceStateBytes,
      token: undefined,
      webhook: undefined,
      logFormat: 'text',
    });
    const env = envOf({ KEEPALIVE_INTERVAL: '2000', KEEPALIVE_COUNT: '3', KEEPALIVE_SEND_PINGS: 'off', KEEPALIVE_MAX_PINGS: '7', KEEPALIVE_TOKEN: 't' });
    expect(serveOptions({ interval: '250.5', 'max-connections': '10' }, env)).toMatchObject({
      interval: 250.5,
      count: 3,
      sendPings: false,
      token: 't',
      maxConnections: 10,
      maxPingsPerInterval: 7,
      advertiseTimeout: 250.5 * 4,
    });
    expect(serveOptions({ 'no-ping': true, 'advertise-timeout': '0' }, envOf({ KEEPALIVE_SEND_PINGS: 'yes' }))).toMatchObject({
      sendPings: false,
      advertiseTimeout: null,
    });
    expect(serveOptions({ 'tcp-port': 'off', 'no-inspector': true }, envOf({}))).toMatchObject({ tcpPort: null, inspector: false });
    expect(serveOptions({ presence: true }, envOf({ KEEPALIVE_PRESENCE_STATE_BYTES: '64' }))).toMatchObject({ presence: true, presenceStateBytes: 64 });
    expect(serveOptions({}, envOf({ KEEPALIVE_PRESENCE: 'yes' }))).toMatchObject({ presence: true });
  });

  it('reads a Worker\'s vars with the same names and defaults as the command line', () => {
    const vars = { KEEPALIVE_INTERVAL: '2000', KEEPALIVE_COUNT: '3', KEEPALIVE_SEND_PINGS: 'off', KEEPALIVE_MAX_PINGS: '7', KEEPALIVE_TOKEN: 't' };
    // What only a server has: where it listens, and its log's format.
    const { host: _h, port: _p, tcpPort: _t, logFormat: _l, ...fromArgs } = serveOptions({}, envOf(vars));
    expect(hubSettings(envSource(envOf(vars)))).toEqual(fromArgs);
  });

  it('refuses what a person got wrong, naming the flag or variable it came from', () => {
    expect(() => serveOptions({ count: '1.5' }, envOf({}))).toThrow(new UsageError('--count must be a whole number >= 0, got "1.5"'));
    expect(() => serveOptions({}, envOf({ KEEPALIVE_COUNT: '1.5' }))).toThrow(new UsageError('KEEPALIVE_COUNT must be a whole number >= 0, got "1.5"'));
    expect(() => serveOptions({ interval: '0' }, envOf({}))).toThrow(/--interval must be a number >= 1/);
    expect(() => serveOptions({ 'max-connections': '0' }, envOf({}))).toThrow(/--max-connections/);
    expect(() => serveOptions({ 'tcp-port': 'x' }, envOf({}))).toThrow(/--tcp-port must be a whole number >= 0 or off/);
    expect(() => serveOptions({}, envOf({ KEEPALIVE_SEND_PINGS: 'maybe' }))).toThrow(/KEEPALIVE_SEND_PINGS must be true or false/);
    expect(() => serveOptions({ webhook: 'ftp://x' }, envOf({}))).toThrow(/--webhook must be an http\(s\) URL/);
    expect(() => serveOptions({ log: 'xml' }, envOf({}))).toThrow(new UsageError('--log must be text or json, got "xml"'));
    expect(() => serveOptions({ redis: 'http://x' }, envOf({}))).toThrow(/--redis must be redis:\/\/HOST:PORT, redis\+cluster:\/\/.* no Redis scheme "http:\/\/", got "http:\/\/x"/);
    expect(() => serveOptions({ redis: 'redis+sentinel://u:secret@a:1,b:2' }, envOf({}))).toThrow(/names the primary as its Sentinels know it.*got "redis\+sentinel:\/\/u:\*\*\*@a:1,b:2"/);
    expect(() => serveOptions({ redis: 'redis+cluster://a:1,b' }, envOf({}))).toThrow(/"b" needs its port/);
    expect(() => serveOptions({}, envOf({ KEEPALIVE_NODE: 'a b' , KEEPALIVE_REDIS: 'redis://127.0.0.1:6379' }))).toThrow(/KEEPALIVE_NODE must be 1 to 64 characters/);
    expect(serveOptions({ redis: 'redis://127.0.0.1:6379', node: 'n1' }, envOf({}))).toMatchObject({ cluster: { redis: 'redis://127.0.0.1:6379', node: 'n1' } });
    for (const redis of ['redis+cluster://10.0.0.1:7000,10.0.0.2:7000', 'rediss+sentinel://:pw@s1:26379,s2:26379/mymaster']) {
      expect(serveOptions({ redis }, envOf({}))).toMatchObject({ cluster: { redis } });
    }
  });
});
