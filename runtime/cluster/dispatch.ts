/**
 * The cluster's pub/sub, in one place: what a process publishes, and where what it hears
 * goes. Two channels per process (keys.ts): the hub's, which every process hears (who
 * joined, left or took over, presence rows, broadcasts), and its own (sends, closes and
 * handovers for the connections it holds). Letters are hub mail (runtime/hub/mail.ts),
 * one message each.
 *
 * A letter that does not read, or holds mail that does not belong on its channel, is
 * reported and dropped; so is one whose handling throws. Nothing a process hears can stop it.
 */
import { decodeLetter, encodeLetter, type Letter, type Mail } from '../hub/index.ts';
import { keys } from './keys.ts';
import type { RedisLink } from './link.ts';

/** Mail every process hears. */
export type HubMail = Extract<Mail, { type: 'hello' | 'bye' | 'rows' | 'took-over' | 'broadcast' }>;
/** Mail for the one process that holds a connection, or that asked. */
export type OwnMail = Extract<Mail, { type: 'send' | 'close' | 'inbox' | 'handover' | 'handover-answer' }>;

const HUB_MAIL: ReadonlySet<Mail['type']> = new Set<HubMail['type']>(['hello', 'bye', 'rows', 'took-over', 'broadcast']);
const OWN_MAIL: ReadonlySet<Mail['type']> = new Set<OwnMail['type']>(['send', 'close', 'inbox', 'handover', 'handover-answer']);

/** Where what a process hears goes. */
export interface MailHandlers {
  /** From another process, on the hub's channel (a process never hears its own). */
  hub(from: string, mail: HubMail): void;
  /** On this process's own channel. */
  own(from: string, mail: OwnMail): void;
}

export interface DispatchOptions {
  link: RedisLink;
  prefix: string;
  node: string;
  log: (line: string) => void;
}

export class Dispatch {
  readonly #options: DispatchOptions;

  constructor(options: DispatchOptions) {
    this.#options = options;
  }

  /** Listens on the hub's channel and this process's own, handing what it hears to `handlers`. */
  async listen(handlers: MailHandlers): Promise<void> {
    const { link, prefix, node } = this.#options;
    await link.subscribe(keys.hubChannel(prefix), (text) => this.#heard('hub', text, handlers));
    await link.subscribe(keys.nodeChannel(prefix, node), (text) => this.#heard('own', text, handlers));
  }

  /** To every other process. Never rejects: pub/sub is at most once, and a process cut from Redis misses it anyway. */
  toHub(mail: HubMail): Promise<void> {
    return this.#publish(keys.hubChannel(this.#options.prefix), mail);
  }

  /** To one process. Never rejects, as `toHub`. */
  toNode(node: string, mail: OwnMail): Promise<void> {
    return this.#publish(keys.nodeChannel(this.#options.prefix, node), mail);
  }

  async #publish(channel: string, mail: Mail): Promise<void> {
    await this.#options.link.publish(channel, encodeLetter({ from: this.#options.node, mail: [mail] })).catch(() => {});
  }

  #heard(channel: 'hub' | 'own', text: string, handlers: MailHandlers): void {
    let letter: Letter;
    try {
      letter = decodeLetter(text);
    } catch (error) {
      this.#drop(channel, error instanceof Error ? error.message : String(error));
      return;
    }
    const { from, mail } = letter;
    if (channel === 'hub') {
      if (!mail.every(isHubMail)) return this.#drop(channel, `${strays(mail, isHubMail)} from node ${from}: not mail for every process`);
      if (from === this.#options.node) return;
      for (const m of mail) this.#handle(from, m, () => handlers.hub(from, m));
    } else {
      if (!mail.every(isOwnMail)) return this.#drop(channel, `${strays(mail, isOwnMail)} from node ${from}: not mail for one process`);
      for (const m of mail) this.#handle(from, m, () => handlers.own(from, m));
    }
  }

  #handle(from: string, mail: Mail, handle: () => void): void {
    try {
      handle();
    } catch (error) {
      this.#options.log(`"${mail.type}" from node ${from} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  #drop(channel: 'hub' | 'own', why: string): void {
    this.#options.log(`dropped a letter on the ${channel === 'hub' ? "hub's" : "process's own"} channel: ${why}`);
  }
}

const isHubMail = (mail: Mail): mail is HubMail => HUB_MAIL.has(mail.type);
const isOwnMail = (mail: Mail): mail is OwnMail => OWN_MAIL.has(mail.type);

/** The types in `mail` that `belongs` refuses, for a log line. */
function strays(mail: readonly Mail[], belongs: (mail: Mail) => boolean): string {
  return [...new Set(mail.filter((m) => !belongs(m)).map((m) => `"${m.type}"`))].join(', ');
}
