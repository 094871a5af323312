import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVER, serverSettings, UsageError, type Env } from '../../runtime/cli.ts';

const envOf =
  (vars: Record<string, string>): Env =>
  (name) =>
    vars[name];

describe('serverSettings', () => {
  it('takes a flag over the environment over the default, and leaves unset limits to the server', () => {
    expect(serverSettings({}, envOf({}))).toEqual({
      host: DEFAULT_SERVER.host,
      port: DEFAULT_SERVER.port,
      interval: DEFAULT_SERVER.interval,
      count: DEFAULT_SERVER.count,
      sendPings: true,
    });
    const env = envOf({ KEEPALIVE_INTERVAL: '2000', KEEPALIVE_COUNT: '3', KEEPALIVE_SEND_PINGS: 'off', KEEPALIVE_MAX_PINGS: '7', KEEPALIVE_TOKEN: 't' });
    expect(serverSettings({ interval: '250.5', 'max-connections': '10' }, env)).toEqual({
      host: DEFAULT_SERVER.host,
      port: DEFAULT_SERVER.port,
      interval: 250.5,
      count: 3,
      sendPings: false,
      token: 't',
      maxConnections: 10,
      maxPingsPerInterval: 7,
    });
    expect(serverSettings({ 'no-ping': true, 'advertise-timeout': '0' }, envOf({ KEEPALIVE_SEND_PINGS: 'yes' }))).toMatchObject({
      sendPings: false,
      advertiseTimeout: 0,
    });
  });

  it('refuses what a person got wrong, naming the flag or variable', () => {
    expect(() => serverSettings({ count: '1.5' }, envOf({}))).toThrow(new UsageError('--count must be a whole number >= 0, got "1.5"'));
    expect(() => serverSettings({ interval: '0' }, envOf({}))).toThrow(/--interval must be a number >= 1/);
    expect(() => serverSettings({ 'max-connections': '0' }, envOf({}))).toThrow(/--max-connections/);
    expect(() => serverSettings({}, envOf({ KEEPALIVE_SEND_PINGS: 'maybe' }))).toThrow(/KEEPALIVE_SEND_PINGS must be true or false/);
  });
});
