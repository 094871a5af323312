/**
 * Hub mail: what the parts of one hub tell one another, in one encoding. The processes of a
 * clustered hub publish it on Redis (runtime/cluster/dispatch.ts); the Durable Objects of a
 * sharded hub POST it to a sibling (adapters/cloudflare/shards.ts). The wire format is
 * documented in docs/cluster.md, "Messages between the parts of a hub".
 *
 * A letter is one JSON object: the part that sent it (`from`) and its messages (`mail`), in
 * the order they were made. Each message names its `type` and carries exactly that type's
 * fields, by name. Application data is `text` (a string) or `base64` (bytes), in the JSON
 * form runtime/codec/app-data.ts gives it (the runtime's one base64 helper, made for Workers).
 *
 * Reading is strict: a letter with anything out of place (an unknown type or field, a
 * missing one, a field of the wrong kind, bad base64) is refused whole with a `MailError`
 * saying what, for its receiver to report and drop; nothing half-read is acted on. Only
 * parts of one hub running this code send mail (no release has shipped an older format).
 */
import { PEER_META, PRESENCE_META, type AppData } from '../application/index.ts';
import { dataOnWire, fromBase64 } from '../codec/index.ts';
import type { ConnectionId, ConnectionView } from '../host/index.ts';
import type { PresenceState } from '../protocol/index.ts';

/** A connection as the process holding it reports it to the others (`rows`). */
export interface PresenceRow {
  readonly id: ConnectionId;
  readonly peer: string | null;
  /** The statechart's state, e.g. `alive.watching`. */
  readonly state: string;
  /** ms since the epoch. */
  readonly lastSignOfLife: number;
  /** Its codec's name: `text` or `libvirt`. */
  readonly codec: string;
  /** Presence for peers: listed to nobody (`authorize` said `presence: 'hidden'`). Absent: false. */
  readonly hidden?: boolean;
  /** Presence for peers: the state the peer set, and when (ms). Absent: none. */
  readonly presence?: { readonly state: PresenceState; readonly at: number };
}

/**
 * A connection's row as the part that holds it reports it to the others (a cluster's
 * processes, a sharded hub's objects): from its view, with whether `authorize` hid it and
 * the peer's own presence state, if it set one.
 */
export function presenceRowOf(id: ConnectionId, view: ConnectionView, own: { readonly state: PresenceState; readonly at: number } | undefined): PresenceRow {
  const mark = view.meta[PRESENCE_META];
  return {
    id,
    peer: view.meta[PEER_META] ?? null,
    state: view.state,
    lastSignOfLife: view.lastSignOfLife,
    codec: view.codec,
    ...(mark === 'hidden' || mark === 'hidden-sub' ? { hidden: true } : {}),
    ...(own ? { presence: { state: own.state, at: own.at } } : {}),
  };
}

/** How a process answers a request to hand a connection over: handed over, still attached to a live socket, or not held here. */
export type HandoverAnswer = 'moved' | 'attached' | 'gone';

/**
 * One message. Shards send the first three; a clustered hub's processes send them all
 * (docs/cluster.md has the table of who sends which, and where).
 */
export type Mail =
  | { readonly type: 'broadcast'; readonly data: AppData; readonly except: readonly ConnectionId[] }
  | { readonly type: 'send'; readonly connection: ConnectionId; readonly data: AppData }
  | { readonly type: 'close'; readonly connection: ConnectionId; readonly reason: string }
  /** Delivery mode in a clustered hub: these connections' inboxes in Redis hold messages (runtime/cluster/deliveries.ts). */
  | { readonly type: 'inbox'; readonly connections: readonly ConnectionId[] }
  | { readonly type: 'hello' }
  | { readonly type: 'bye' }
  | { readonly type: 'rows'; readonly full: boolean; readonly up: readonly PresenceRow[]; readonly down: readonly ConnectionId[] }
  | { readonly type: 'took-over'; readonly dead: string }
  | { readonly type: 'handover'; readonly connection: ConnectionId; readonly ask: string }
  | { readonly type: 'handover-answer'; readonly ask: string; readonly answer: HandoverAnswer };

export type MailType = Mail['type'];

/** What one publish or one request carries. */
export interface Letter {
  /** The sending part: a process's node name, or a shard's number in decimal. */
  readonly from: string;
  readonly mail: readonly Mail[];
}

/** A letter that is not one, saying what is wrong with it. */
export class MailError extends Error {
  override readonly name = 'MailError';
}

export function encodeLetter(letter: Letter): string {
  return JSON.stringify({ from: letter.from, mail: letter.mail.map(toWire) });
}

/** The letter in `text`; throws a `MailError` on anything else. */
export function decodeLetter(text: string): Letter {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MailError(`a letter is JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const letter = fields(value, 'a letter', ['from', 'mail']);
  if (!Array.isArray(letter.mail)) throw new MailError('a letter\'s "mail" is an array');
  return { from: name(letter.from, 'from'), mail: letter.mail.map((mail: unknown, i) => readMail(mail, `mail[${i}]`)) };
}

type Wire = Record<string, unknown>;

function toWire(mail: Mail): Wire {
  switch (mail.type) {
    case 'broadcast':
      return { type: mail.type, ...dataOnWire(mail.data), except: mail.except };
    case 'send':
      return { type: mail.type, connection: mail.connection, ...dataOnWire(mail.data) };
    case 'close':
      return { type: mail.type, connection: mail.connection, reason: mail.reason };
    case 'inbox':
      return { type: mail.type, connections: mail.connections };
    case 'hello':
    case 'bye':
      return { type: mail.type };
    case 'rows':
      return {
        type: mail.type,
        full: mail.full,
        up: mail.up.map((row) => ({
          id: row.id,
          peer: row.peer,
          state: row.state,
          lastSignOfLife: row.lastSignOfLife,
          codec: row.codec,
          ...(row.hidden ? { hidden: true } : {}),
          ...(row.presence ? { presence: { state: row.presence.state, at: row.presence.at } } : {}),
        })),
        down: mail.down,
      };
    case 'took-over':
      return { type: mail.type, dead: mail.dead };
    case 'handover':
      return { type: mail.type, connection: mail.connection, ask: mail.ask };
    case 'handover-answer':
      return { type: mail.type, ask: mail.ask, answer: mail.answer };
  }
}

function readMail(value: unknown, at: string): Mail {
  const type = isObject(value) ? value.type : undefined;
  switch (type) {
    case 'broadcast': {
      const mail = fields(value, at, ['type', 'except'], true);
      return { type, data: dataOf(mail, at), except: ids(mail.except, `${at}.except`) };
    }
    case 'send': {
      const mail = fields(value, at, ['type', 'connection'], true);
      return { type, connection: name(mail.connection, `${at}.connection`), data: dataOf(mail, at) };
    }
    case 'close': {
      const mail = fields(value, at, ['type', 'connection', 'reason']);
      return { type, connection: name(mail.connection, `${at}.connection`), reason: string(mail.reason, `${at}.reason`) };
    }
    case 'inbox': {
      const mail = fields(value, at, ['type', 'connections']);
      return { type, connections: ids(mail.connections, `${at}.connections`) };
    }
    case 'hello':
    case 'bye':
      fields(value, at, ['type']);
      return { type };
    case 'rows': {
      const mail = fields(value, at, ['type', 'full', 'up', 'down']);
      if (typeof mail.full !== 'boolean') throw new MailError(`${at}.full is true or false`);
      if (!Array.isArray(mail.up)) throw new MailError(`${at}.up is an array`);
      return { type, full: mail.full, up: mail.up.map((row: unknown, i) => readRow(row, `${at}.up[${i}]`)), down: ids(mail.down, `${at}.down`) };
    }
    case 'took-over': {
      const mail = fields(value, at, ['type', 'dead']);
      return { type, dead: name(mail.dead, `${at}.dead`) };
    }
    case 'handover': {
      const mail = fields(value, at, ['type', 'connection', 'ask']);
      return { type, connection: name(mail.connection, `${at}.connection`), ask: name(mail.ask, `${at}.ask`) };
    }
    case 'handover-answer': {
      const mail = fields(value, at, ['type', 'ask', 'answer']);
      const answer = mail.answer;
      if (answer !== 'moved' && answer !== 'attached' && answer !== 'gone') throw new MailError(`${at}.answer is "moved", "attached" or "gone"`);
      return { type, ask: name(mail.ask, `${at}.ask`), answer };
    }
    default:
      throw new MailError(isObject(value) ? `${at}: unknown type ${JSON.stringify(type)}` : `${at} is an object`);
  }
}

const ROW_FIELDS = ['id', 'peer', 'state', 'lastSignOfLife', 'codec'] as const;
/** A row's fields that only presence for peers sets. */
const ROW_OPTIONAL = ['hidden', 'presence'] as const;

function readRow(value: unknown, at: string): PresenceRow {
  const optional = isObject(value) ? ROW_OPTIONAL.filter((key) => key in value) : [];
  const row = fields(value, at, [...ROW_FIELDS, ...optional]);
  if (row.peer !== null && typeof row.peer !== 'string') throw new MailError(`${at}.peer is a string or null`);
  if (typeof row.lastSignOfLife !== 'number' || !Number.isFinite(row.lastSignOfLife)) throw new MailError(`${at}.lastSignOfLife is a number`);
  if ('hidden' in row && row.hidden !== true) throw new MailError(`${at}.hidden is true when present`);
  const presence = row.presence;
  if ('presence' in row && !(isObject(presence) && Object.keys(presence).length === 2 && 'state' in presence && typeof presence.at === 'number' && Number.isFinite(presence.at))) {
    throw new MailError(`${at}.presence is { state, at }`);
  }
  return {
    id: name(row.id, `${at}.id`),
    peer: row.peer,
    state: string(row.state, `${at}.state`),
    lastSignOfLife: row.lastSignOfLife,
    codec: name(row.codec, `${at}.codec`),
    ...(row.hidden === true ? { hidden: true } : {}),
    ...(isObject(presence) ? { presence: { state: presence.state as PresenceState, at: presence.at as number } } : {}),
  };
}

/**
 * `value` as an object with exactly these fields (and, `withData`, exactly one of `text`
 * and `base64`): a field it lacks or one it should not have refuses the letter.
 */
function fields(value: unknown, at: string, names: readonly string[], withData = false): Wire {
  if (!isObject(value)) throw new MailError(`${at} is an object`);
  for (const key of Object.keys(value)) {
    if (!names.includes(key) && !(withData && (key === 'text' || key === 'base64'))) throw new MailError(`${at} has no field "${key}"`);
  }
  for (const key of names) if (!(key in value)) throw new MailError(`${at} lacks "${key}"`);
  if (withData && ('text' in value) === ('base64' in value)) throw new MailError(`${at} has one of "text" and "base64"`);
  return value;
}

function dataOf(mail: Wire, at: string): AppData {
  if ('text' in mail) return string(mail.text, `${at}.text`);
  const base64 = string(mail.base64, `${at}.base64`);
  try {
    return fromBase64(base64);
  } catch {
    throw new MailError(`${at}.base64 is not base64`);
  }
}

function ids(value: unknown, at: string): ConnectionId[] {
  if (!Array.isArray(value)) throw new MailError(`${at} is an array`);
  return value.map((id: unknown, i) => name(id, `${at}[${i}]`));
}

function string(value: unknown, at: string): string {
  if (typeof value !== 'string') throw new MailError(`${at} is a string`);
  return value;
}

/** A name or id: a string with something in it. */
function name(value: unknown, at: string): string {
  if (typeof value !== 'string' || value === '') throw new MailError(`${at} is a non-empty string`);
  return value;
}

function isObject(value: unknown): value is Wire {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
