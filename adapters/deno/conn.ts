/** Small helpers for `Deno.Conn`, shared by the TCP listener and the client. */
import type { Frame } from '../../runtime/codec/index.ts';

/** Writes in order, each frame whole: `conn.write` may write only part of what it is given. */
export class ConnWriter {
  readonly #conn: Deno.Conn;
  #tail: Promise<void> = Promise.resolve();

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  write(frame: Frame): void {
    const bytes = typeof frame === 'string' ? new TextEncoder().encode(frame) : frame;
    // A failed write means the peer is gone; the read loop sees that and reports the close.
    this.#tail = this.#tail.then(() => writeAll(this.#conn, bytes)).catch(() => {});
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) offset += await conn.write(bytes.subarray(offset));
}

export function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}

/** A read that failed because we closed the connection ourselves, or the peer reset it. */
export function isClosedError(error: unknown): boolean {
  return (
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe
  );
}
