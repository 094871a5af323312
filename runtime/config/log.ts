/**
 * The server's log, in two formats. `text` (default): one readable line per event worth a
 * person's attention. `json` (`--log json`, `KEEPALIVE_LOG=json`): one JSON object per
 * line with a stable set of fields, for a log pipeline:
 *
 *   time     ISO 8601, when it happened
 *   level    info | warn
 *   event    opened | closed | dead | rejected | message (any other line: `message` holds it)
 *   hub, connection, peer, reason, silentFor, unanswered, code   where they exist
 *   cause    why a connection ended, as a value (dead, peer-closed, protocol, ...: runtime/protocol/end-cause.ts)
 */
import type { HostEvent } from '../host/index.ts';

export type LogFormat = 'text' | 'json';

export interface LogRecord {
  time: string;
  level: 'info' | 'warn';
  event: string;
  hub?: string;
  connection?: string;
  peer?: string | null;
  cause?: string;
  reason?: string;
  silentFor?: number;
  unanswered?: number;
  code?: string;
  message?: string;
}

/** The record of a host event an operator cares about, or undefined (per-frame events). */
export function eventRecord(event: HostEvent, hub: string): LogRecord | undefined {
  const base = { time: new Date(event.at).toISOString(), hub, connection: event.id };
  switch (event.type) {
    case 'opened':
      return { ...base, level: 'info', event: 'opened', peer: event.meta.peer ?? null };
    case 'closed':
      return { ...base, level: 'info', event: 'closed', peer: event.meta.peer ?? null, cause: event.cause.cause, reason: event.reason };
    case 'dead':
      return { ...base, level: 'warn', event: 'dead', peer: event.meta.peer ?? null, cause: event.cause.cause, reason: event.reason, silentFor: event.silentFor, unanswered: event.unanswered };
    case 'rejected':
      return { ...base, level: 'warn', event: 'rejected', reason: event.reason, code: event.code };
    default:
      return undefined;
  }
}

/** One text line per event (the default format). */
export function eventLine(event: HostEvent): string | undefined {
  switch (event.type) {
    case 'opened':
      return `${event.id} opened`;
    case 'rejected':
    case 'dead':
    case 'closed':
      return `${event.id} ${event.type}: ${event.reason}`;
    default:
      return undefined;
  }
}

/** A free-text line (a restore, a webhook retry, Redis away) as a JSON log record. */
export function messageRecord(line: string, at = Date.now()): LogRecord {
  return { time: new Date(at).toISOString(), level: /fail|error|unreachable|refused/i.test(line) ? 'warn' : 'info', event: 'message', message: line };
}
