/** `--redis` names one Redis, a Redis Cluster by its seeds, or a primary by its Sentinels (runtime/config/redis-url.ts). */
import { describe, expect, it } from 'vitest';
import { redactRedisUrl, redisTarget } from '../../runtime/config/redis-url.ts';

describe('a Redis URL', () => {
  it('names one Redis, with its database, user and password', () => {
    expect(redisTarget('redis://127.0.0.1:6379')).toEqual({ topology: 'single', tls: false, address: { host: '127.0.0.1', port: 6379 }, database: 0 });
    expect(redisTarget('rediss://app:p%40ss@redis.internal/2')).toEqual({
      topology: 'single',
      tls: true,
      username: 'app',
      password: 'p@ss',
      address: { host: 'redis.internal', port: 6379 },
      database: 2,
    });
    expect(redisTarget('redis://:secret@[::1]:7000')).toMatchObject({ password: 'secret', address: { host: '::1', port: 7000 } });
  });

  it('names a Redis Cluster by its seed nodes', () => {
    expect(redisTarget('redis+cluster://10.0.0.1:7000,10.0.0.2:7001')).toEqual({
      topology: 'cluster',
      tls: false,
      seeds: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
    });
    expect(redisTarget('rediss+cluster://u:p@c1:7000')).toMatchObject({ topology: 'cluster', tls: true, username: 'u', password: 'p' });
  });

  it('names a primary by its Sentinels and the name they know it by', () => {
    expect(redisTarget('redis+sentinel://s1:26379,s2:26379,s3:26379/mymaster')).toEqual({
      topology: 'sentinel',
      tls: false,
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
        { host: 's3', port: 26379 },
      ],
      master: 'mymaster',
    });
    expect(redisTarget('rediss+sentinel://:pw@s1:26379/main')).toMatchObject({ topology: 'sentinel', tls: true, password: 'pw', master: 'main' });
  });

  it('refuses what it cannot use, saying why', () => {
    expect(() => redisTarget('http://x')).toThrow('no Redis scheme "http://"');
    expect(() => redisTarget('redis://a:1,b:2')).toThrow(/a list of them is redis\+cluster/);
    expect(() => redisTarget('redis://a:1/x')).toThrow(/database number/);
    expect(() => redisTarget('redis+cluster://a:1/0')).toThrow(/takes no path/);
    expect(() => redisTarget('redis+cluster://a')).toThrow('"a" needs its port');
    expect(() => redisTarget('redis+sentinel://s1:26379')).toThrow(/MASTER/);
    expect(() => redisTarget('redis://a:99999')).toThrow(/1 to 65535/);
    expect(() => redisTarget('redis:a')).toThrow(/SCHEME/);
  });

  it('hides the password in what it shows', () => {
    expect(redactRedisUrl('redis+sentinel://user:secret@s1:26379,s2:26379/m')).toBe('redis+sentinel://user:***@s1:26379,s2:26379/m');
    expect(redactRedisUrl('redis://:secret@h:1')).toBe('redis://:***@h:1');
    expect(redactRedisUrl('redis://h:1')).toBe('redis://h:1');
  });
});
