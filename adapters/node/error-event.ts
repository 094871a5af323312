/**
 * Node (through 24) has no global `ErrorEvent`, yet @hono/node-ws builds one for every
 * socket error (e.g. ws's "Max payload size exceeded"). Without it that handler throws
 * inside ws's 'error' listener and takes the whole server down. A minimal stand-in.
 */
interface ErrorEventInit extends EventInit {
  error?: unknown;
  message?: string;
}

class NodeErrorEvent extends Event {
  readonly error: unknown;
  readonly message: string;
  constructor(type: string, init: ErrorEventInit = {}) {
    super(type, init);
    this.error = init.error;
    this.message = init.message ?? (init.error instanceof Error ? init.error.message : '');
  }
}

const scope = globalThis as { ErrorEvent?: unknown };
scope.ErrorEvent ??= NodeErrorEvent;
