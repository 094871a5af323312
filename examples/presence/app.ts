/**
 * The presence page's script (bundled by bundle.ts into /app.js): one keepalive client named
 * after the name field. The list is the hub's presence (`client.presence`): one row per name,
 * however many tabs it has open, with what it last said (its presence state). Names that
 * left while this page was open stay listed as gone. `?name=` and `?hub=` set the defaults.
 */
import { connect, type KeepaliveClient, type PresenceEvent, type PresencePeer } from '../../adapters/browser/index.ts';
import { COUNT, INTERVAL, type Said } from './protocol.ts';

const NAME = /^[A-Za-z0-9._:@-]{1,64}$/;
const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const [status, list, empty] = [byId('status'), byId<HTMLUListElement>('peers'), byId('empty')];
const [nameInput, sayInput] = [byId<HTMLInputElement>('name'), byId<HTMLInputElement>('say')];

const query = new URLSearchParams(location.search);
const hub = /^[\w.-]{1,64}$/.test(query.get('hub') ?? '') ? query.get('hub')! : 'lobby';
let me = NAME.test(query.get('name') ?? '') ? query.get('name')! : `guest-${Math.floor(1000 + Math.random() * 9000)}`;
nameInput.value = me;
byId('hub').textContent = document.body.dataset.connect?.includes('{hub}') ? hub : 'default';
const url = new URL((document.body.dataset.connect ?? '/connect').replace('{hub}', hub), location.href);

/** Names that left while this page watched: when (page clock), and their last words. */
const gone = new Map<string, { at: number; said?: Said }>();
/** When each name first showed online here (page clock). */
const shownAt = new Map<string, number>();
let client: KeepaliveClient;

function setStatus(state: string, text: string): void {
  status.dataset.state = state;
  status.textContent = text;
}

function start(): void {
  const mine = (client = connect(url, { peer: me, interval: INTERVAL, count: COUNT }));
  const ours = <E extends Event>(listener: (event: E) => void) => (event: E) => mine === client && listener(event);
  mine.addEventListener('open', ours(() => ((status.dataset.openedAt = String(Date.now())), setStatus('online', `online as ${me}`))));
  mine.addEventListener('dead', ours(() => setStatus('reconnecting', 'server silent: reconnecting…')));
  mine.addEventListener('reconnecting', ours(() => setStatus('reconnecting', 'reconnecting…')));
  mine.addEventListener('close', ours(() => setStatus('closed', 'disconnected')));
  for (const type of ['sync', 'join', 'update'] as const) mine.presence.addEventListener(type, ours(render));
  mine.presence.addEventListener('leave', ours(({ entry }: PresenceEvent) => {
    if (entry?.peer) gone.set(entry.peer, { at: Date.now(), ...(isSaid(entry.state) ? { said: entry.state } : {}) });
    render();
  }));
  mine.presence.addEventListener('refused', ours(({ reason }: PresenceEvent) => setStatus('online', reason)));
}

const isSaid = (state: unknown): state is Said => typeof state === 'object' && state !== null && typeof (state as Said).said === 'string';
const time = (at: number) => new Date(at).toLocaleTimeString();

function element(tag: string, className: string, text = ''): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

function row(peer: string, online: PresencePeer | undefined, said: Said | undefined): HTMLLIElement {
  const li = document.createElement('li');
  Object.assign(li.dataset, { peer, state: online ? 'online' : 'gone' });
  if (online) {
    if (!shownAt.has(peer)) shownAt.set(peer, Date.now());
    Object.assign(li.dataset, { ids: online.connections.map((c) => c.id).join(','), shownAt: String(shownAt.get(peer)) });
  } else li.dataset.leftAt = String(gone.get(peer)!.at);
  const tabs = online && online.connections.length > 1 ? ` · ${online.connections.length} tabs` : '';
  const name = element('span', 'name', peer);
  if (peer === me) name.append(' ', element('span', 'you', '(you)'));
  li.append(element('span', 'dot'), name, element('span', 'badge', online ? `online${tabs}` : `gone ${time(gone.get(peer)!.at)}`));
  li.firstElementChild!.setAttribute('aria-hidden', 'true');
  if (said) {
    const p = element('p', 'said');
    p.append(element('q', '', said.said), ` · ${time(said.at)}`);
    li.append(p);
  }
  return li;
}

/** Redrawn whole on each change (a few dozen rows): online names first, then the gone ones. */
function render(): void {
  const online = new Map(client.presence.list().flatMap((entry) => (entry.peer === null ? [] : [[entry.peer, entry] as const])));
  for (const peer of online.keys()) gone.delete(peer);
  for (const peer of shownAt.keys()) if (!online.has(peer)) shownAt.delete(peer);
  const byName = (a: string, b: string) => a.localeCompare(b);
  list.replaceChildren(
    ...[...online].sort(([a], [b]) => byName(a, b)).map(([peer, entry]) => row(peer, entry, isSaid(entry.state) ? entry.state : undefined)),
    ...[...gone.keys()].sort(byName).map((peer) => row(peer, undefined, gone.get(peer)!.said)),
  );
  empty.hidden = online.size + gone.size > 0;
}

byId('say-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = sayInput.value.trim();
  if (text === '') return;
  // Kept by the client and set again on every reconnect; the hub stamps it.
  client.presence.set({ said: text });
  sayInput.value = '';
});

byId('name-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  if (!NAME.test(name) || name === me) return;
  // A new name is a new connection: the old one says goodbye (the others see it gone).
  client.close();
  me = name;
  setStatus('connecting', 'connecting…');
  start();
});

start();
