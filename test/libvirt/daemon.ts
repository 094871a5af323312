/**
 * A private libvirtd for the interop tests, started by hand (no systemd): its own config,
 * UNIX socket dir, pid file, log and XDG dirs under one temp dir; TCP on 127.0.0.1 only,
 * on a free port, without TLS or auth.
 *
 * As root it runs as `nobody`. A root libvirtd is "privileged": it insists on system-wide
 * state (/run/libvirt, /var/lib/libvirt) and its QEMU driver refuses to start without the
 * `libvirt-qemu` user that only libvirt-daemon-system creates ("Failed to parse user
 * 'libvirt-qemu'", then "Driver state initialization failed"). An unprivileged libvirtd
 * keeps every path under $XDG_* and needs nothing but the libvirt-daemon package.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface LibvirtdOptions {
  /** keepalive_interval, seconds (libvirt's unit). */
  interval: number;
  /** keepalive_count. */
  count: number;
}

export interface Libvirtd {
  readonly pid: number;
  readonly proc: ChildProcess;
  readonly tcpUrl: string;
  readonly unixPath: string;
  readonly logPath: string;
  /** The daemon's log so far. */
  log(): string;
  /** SIGCONT (a test may have frozen it), SIGTERM, SIGKILL after 5 s; then removes its files. */
  stop(): Promise<void>;
}

const NOBODY = 65534;
const START_TIMEOUT = 20_000;

function findLibvirtd(): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    const file = join(dir, 'libvirtd');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  throw new Error(`libvirtd not found in ${dirs.join(':')}: install Debian's libvirt-daemon package (npm test's pretest does as root: node scripts/system-deps.ts)`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function chownTree(path: string, uid: number): void {
  chownSync(path, uid, uid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) chownTree(child, uid);
    else chownSync(child, uid, uid);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts libvirtd and waits until both its TCP port and UNIX socket accept connections. */
export async function startLibvirtd(options: LibvirtdOptions): Promise<Libvirtd> {
  const binary = findLibvirtd();
  // The free port is picked, released, then bound by libvirtd: another process may take
  // it in between, so an "Address already in use" start is retried with a new port.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(binary, options, await freePort());
    } catch (error) {
      if (attempt < 3 && error instanceof Error && /Address already in use/.test(error.message)) continue;
      throw error;
    }
  }
}

async function startOnce(binary: string, options: LibvirtdOptions, port: number): Promise<Libvirtd> {
  const dir = mkdtempSync(join(tmpdir(), 'keepalive-libvirtd-'));
  const paths = {
    config: join(dir, 'libvirtd.conf'),
    pid: join(dir, 'libvirtd.pid'),
    log: join(dir, 'libvirtd.log'),
    sockets: join(dir, 'sock'),
    home: join(dir, 'home'),
  };
  const xdg = {
    XDG_CONFIG_HOME: join(paths.home, 'config'),
    XDG_CACHE_HOME: join(paths.home, 'cache'),
    XDG_DATA_HOME: join(paths.home, 'data'),
    XDG_STATE_HOME: join(paths.home, 'state'),
    XDG_RUNTIME_DIR: join(paths.home, 'run'),
  };
  for (const path of [paths.sockets, ...Object.values(xdg)]) mkdirSync(path, { recursive: true, mode: 0o700 });
  writeFileSync(
    paths.config,
    [
      'listen_tls = 0',
      'listen_tcp = 1',
      'listen_addr = "127.0.0.1"',
      `tcp_port = "${port}"`,
      'auth_tcp = "none"',
      'auth_unix_rw = "none"',
      `unix_sock_dir = "${paths.sockets}"`,
      `keepalive_interval = ${options.interval}`,
      `keepalive_count = ${options.count}`,
      `log_outputs = "1:file:${paths.log}"`,
      // Debug for keepalive only: the test reads the daemon's PINGs and verdicts from it.
      'log_filters = "1:rpc.keepalive 3:*"',
      '',
    ].join('\n'),
  );
  const root = process.getuid?.() === 0;
  if (root) chownTree(dir, NOBODY);

  const stderr: string[] = [];
  // --timeout: should this test process die without stopping it, the daemon exits by
  // itself after that many idle seconds (no clients).
  const args = ['--listen', '--config', paths.config, '--pid-file', paths.pid, '--timeout', '120'];
  const proc = spawn(binary, args, {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: paths.home, LC_ALL: 'C', ...xdg },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(root ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  proc.stdout!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  proc.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  let exit: string | null = null;
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', (code, signal) => {
      exit = signal ? `killed by ${signal}` : `exit code ${code}`;
      resolve();
    });
    proc.once('error', (error) => {
      exit = `could not run ${binary}: ${error.message}`;
      resolve();
    });
  });
  const log = () => (existsSync(paths.log) ? readFileSync(paths.log, 'utf8') : '');
  const stop = async () => {
    if (exit === null && proc.pid !== undefined) {
      proc.kill('SIGCONT');
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const why = (what: string) =>
    new Error(
      `libvirtd (${binary}${root ? ', run as nobody' : ''}) ${what}.\n` +
        `command: ${binary} ${args.join(' ')}\n` +
        `stdout/stderr:\n${stderr.join('').trim() || '(none)'}\n` +
        `log (${paths.log}):\n${log().trim().split('\n').slice(-40).join('\n') || '(empty)'}`,
    );

  const unixPath = join(paths.sockets, 'libvirt-sock');
  const deadline = Date.now() + START_TIMEOUT;
  for (;;) {
    if (exit !== null) {
      const error = why(`stopped before it was ready (${exit})`);
      await stop();
      throw error;
    }
    if (existsSync(unixPath) && (await canConnect(port))) break;
    if (Date.now() > deadline) {
      const error = why(`did not listen on 127.0.0.1:${port} and ${unixPath} within ${START_TIMEOUT} ms`);
      await stop();
      throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { pid: proc.pid!, proc, tcpUrl: `tcp://127.0.0.1:${port}`, unixPath, logPath: paths.log, log, stop };
}
