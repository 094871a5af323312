/**
 * Stops a process started `detached` (its own process group, as `wrangler dev` is, with
 * workerd under it): SIGTERM to the group, SIGKILL after 5 s, and SIGKILL again for any
 * straggler left in the group.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export async function stopGroup(child: ChildProcess | undefined): Promise<void> {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const pid = child.pid;
  const exited = once(child, 'exit');
  process.kill(-pid, 'SIGTERM');
  const timer = setTimeout(() => process.kill(-pid, 'SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is empty.
  }
}
