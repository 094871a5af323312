/**
 * The one way a test waits for a condition, on every runtime a test runs in (Node, the
 * deno binary, workerd): `until` looks every `every` ms until `check` gives a value
 * (anything but undefined, null or false) and returns it; a `check` that throws counts as
 * not yet, unless it throws `GiveUp` (a process it waits for exited): that fails at once.
 * Past `timeout` it fails, naming `what` and the last error. No platform import.
 */
export class GiveUp extends Error {
  override readonly name = 'GiveUp';
}

export async function until<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what = 'condition',
  timeout = 10_000,
  every = 20,
): Promise<T> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeout} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

/** `until` without a name, for call sites that give a timeout first. */
export function poll<T>(check: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeout = 10_000, every = 25): Promise<T> {
  return until(check, 'condition met', timeout, every);
}
