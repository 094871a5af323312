/**
 * What one shard passes another (shards.ts): broadcasts, sends, closes and presence rows
 * (shard-presence.ts), in the order they
 * were made, several to a request. Hub mail (runtime/hub/mail.ts; the wire format is in
 * docs/cluster.md, "Messages between the parts of a hub"), as a clustered hub's processes
 * send it over Redis: a letter from the sending shard. A shard takes no other mail.
 */
import { decodeLetter, encodeLetter, MailError, type Mail } from '../../runtime/hub/index.ts';

export type ShardMail = Extract<Mail, { type: 'broadcast' | 'send' | 'close' | 'rows' }>;

export function encodeMail(from: number, mail: readonly ShardMail[]): string {
  return encodeLetter({ from: String(from), mail });
}

/** The sending shard and its mail; throws a `MailError` on anything else (only sibling shards call the route). */
export function decodeMail(text: string): { from: number; mail: ShardMail[] } {
  const letter = decodeLetter(text);
  if (!/^(0|[1-9]\d?)$/.test(letter.from)) throw new MailError(`shard mail is from a shard's number, not "${letter.from}"`);
  const stray = letter.mail.find((m) => !isShardMail(m));
  if (stray) throw new MailError(`"${stray.type}" is not mail for a shard`);
  return { from: Number(letter.from), mail: letter.mail.filter(isShardMail) };
}

function isShardMail(mail: Mail): mail is ShardMail {
  return mail.type === 'broadcast' || mail.type === 'send' || mail.type === 'close' || mail.type === 'rows';
}
