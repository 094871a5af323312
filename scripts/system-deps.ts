/**
 * The system programs `npm test` needs beyond node_modules, from Debian:
 *   chromium   headless browser for the inspector page test (test/support/chromium.ts)
 *   libvirtd   a real libvirt daemon for the interop tests (test/libvirt/daemon.ts); they
 *              run it unprivileged (as nobody), so libvirt-daemon-system (units, system
 *              dirs, the libvirt-qemu user) is not needed
 *   redis-server  the clustered hub's tests start their own on free ports (test/support/redis.ts):
 *              single servers, a Redis Cluster, a primary under Sentinel (redis-server --sentinel);
 *              the package's own service is never used
 *   redis-cli  makes the test Redis Cluster (`redis-cli --cluster create`, test/support/redis-cluster.ts);
 *              Debian's redis-tools, which redis-server depends on, but a machine may have one without the other
 *
 * Runs as the `pretest` script, so `npm ci && npm test` works on a fresh machine, and from
 * .ci/run through `npm test` alike. When all are there it only looks (no apt call). When
 * one is missing: as root it installs it with apt-get; otherwise it stops and prints the
 * command to run. `--check` only reports (exit 1 when something is missing).
 *
 * Debian's chromium rather than an npm-packaged one (@sparticuz/chromium): libvirtd must
 * come from apt anyway, so one mechanism covers both; Debian's build runs with the
 * distribution's own libraries, while the npm builds target AWS Lambda and unpack a
 * compressed binary into /tmp at launch.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

interface Need {
  /** The program the tests run. */
  program: string;
  /** Its path, looked up the way the test that runs it does, or null. */
  locate(): string | null;
  /** Debian packages that provide it. */
  packages: string[];
  /** Used by. */
  by: string;
  /** An override the tests honour instead of looking it up. */
  env?: string;
}

const NEEDS: Need[] = [
  {
    program: 'chromium',
    // test/support/chromium.ts: CHROMIUM_PATH, else Debian's /usr/bin/chromium.
    locate: () => {
      const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
      return executable(path) ? path : null;
    },
    packages: ['chromium'],
    by: 'test/runtime/inspector/browser.test.ts',
    env: 'CHROMIUM_PATH',
  },
  {
    program: 'libvirtd',
    // test/libvirt/daemon.ts: PATH, then /usr/sbin and /sbin (often not on a user's PATH).
    locate: () => onPath('libvirtd', ['/usr/sbin', '/sbin']),
    packages: ['libvirt-daemon', 'libvirt-clients'],
    by: 'test/libvirt/',
  },
  {
    program: 'redis-server',
    // test/support/redis.ts: REDIS_SERVER, else PATH, then /usr/bin.
    locate: () => {
      const path = process.env.REDIS_SERVER;
      if (path) return executable(path) ? path : null;
      return onPath('redis-server', ['/usr/bin']);
    },
    packages: ['redis-server'],
    by: 'test/cluster/',
    env: 'REDIS_SERVER',
  },
  {
    program: 'redis-cli',
    // test/support/redis-cluster.ts: REDIS_CLI, else PATH, then /usr/bin.
    locate: () => {
      const path = process.env.REDIS_CLI;
      if (path) return executable(path) ? path : null;
      return onPath('redis-cli', ['/usr/bin']);
    },
    packages: ['redis-tools'],
    by: 'test/cluster/redis-cluster.test.ts',
    env: 'REDIS_CLI',
  },
];

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(program: string, extraDirs: string[]): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs]) {
    const file = join(dir, program);
    if (executable(file)) return file;
  }
  return null;
}

function say(line: string): void {
  console.log(`system-deps: ${line}`);
}

function run(command: string, args: string[]): void {
  say(`$ ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.error) throw new Error(`could not run ${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args[0]} failed (${result.signal ?? `exit code ${result.status}`})`);
}

function main(): number {
  const checkOnly = process.argv.includes('--check');
  const missing: Need[] = [];
  for (const need of NEEDS) {
    const path = need.locate();
    if (path) say(`${need.program}: ${path}`);
    else {
      say(`${need.program}: missing (${need.by} needs it${need.env ? `; or set ${need.env}` : ''})`);
      missing.push(need);
    }
  }
  if (missing.length === 0) return 0;

  const packages = missing.flatMap((need) => need.packages);
  const command = `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  if (checkOnly) {
    say(`install with: ${command}`);
    return 1;
  }
  if (process.getuid?.() !== 0) {
    console.error(`system-deps: not root, so not installing. Run as root (or with sudo), then npm test again:\n  ${command}`);
    return 1;
  }
  if (!executable('/usr/bin/apt-get')) {
    console.error(`system-deps: no apt-get on this machine: install ${packages.join(', ')} (or their equivalents) yourself`);
    return 1;
  }
  say(`installing ${packages.join(' ')} (Debian packages)`);
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages]);
  const still = missing.filter((need) => !need.locate());
  if (still.length > 0) {
    console.error(`system-deps: still missing after install: ${still.map((need) => need.program).join(', ')}`);
    return 1;
  }
  for (const need of missing) say(`${need.program}: ${need.locate()} (installed)`);
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  console.error(`system-deps: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
