/**
 * The presence page's script (bundled by bundle.ts into /app.js): one keepalive client
 * named after the name field, the list drawn from the server's `presence` and `said`
 * frames. `?name=` and `?hub=` in the page's address set the defaults.
 */
import { connect, type ClientEventMap, type KeepaliveClient } from '../../adapters/browser/index.ts';
import { COUNT, encode, INTERVAL, parseServerMessage, type PeerRow } from './protocol.ts';

const NAME = /^[A-Za-z0-9._:@-]{1,64}$/;
const HUB = /^[\w.-]{1,64}$/;

const byId = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} missing from the page`);
  return element as T;
};
const status = byId<HTMLParagraphElement>('status');
const list = byId<HTMLUListElement>('peers');
const empty = byId<HTMLParagraphElement>('empty');
const nameInput = byId<HTMLInputElement>('name');
const sayInput = byId<HTMLInputElement>('say');

const query = new URLSearchParams(location.search);
const hubParam = query.get('hub');
const hub = hubParam !== null && HUB.test(hubParam) ? hubParam : 'lobby';
const nameParam = query.get('name');
let me = nameParam !== null && NAME.test(nameParam) ? nameParam : `guest-${Math.floor(1000 + Math.random() * 9000)}`;
nameInput.value = me;
byId('hub').textContent = document.body.dataset.connect?.includes('{hub}') ? hub : 'default';
const url = new URL((document.body.dataset.connect ?? '/connect').replace('{hub}', hub), location.href);

/** The rows as the server last described them, by name. */
const rows = new Map<string, PeerRow>();
let client: KeepaliveClient;

function setStatus(state: 'connecting' | 'online' | 'reconnecting' | 'closed', text: string): void {
  status.dataset.state = state;
  status.textContent = text;
}

function start(): void {
  const mine = connect(url, { peer: me, interval: INTERVAL, count: COUNT });
  client = mine;
  // After a rename the old client's last events (its close) are no news.
  const on = <K extends keyof ClientEventMap>(type: K, listener: (event: ClientEventMap[K]) => void): void =>
    mine.addEventListener(type, (event) => {
      if (mine === client) listener(event);
    });
  on('open', () => {
    status.dataset.openedAt = String(Date.now());
    setStatus('online', `online as ${me}`);
  });
  on('message', (event) => {
    const message = parseServerMessage(event.data);
    if (message?.type === 'presence') {
      rows.clear();
      for (const row of message.peers) rows.set(row.peer, row);
    } else if (message?.type === 'said') {
      const row = rows.get(message.peer);
      if (row) row.said = { text: message.text, at: message.at };
    }
    render();
  });
  on('dead', (event) => setStatus('reconnecting', `server silent for ${(event.silentFor / 1000).toFixed(1)} s`));
  on('reconnecting', (event) => setStatus('reconnecting', `reconnecting (attempt ${event.attempt})…`));
  on('close', (event) => setStatus('closed', `disconnected: ${event.reason || event.code}`));
}

const time = (at: number) => new Date(at).toLocaleTimeString();

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

/** Redrawn whole on each frame (a few dozen rows); `data-shown-at` keeps when each name first appeared online. */
function render(): void {
  const shownAt = new Map<string, string>();
  for (const li of list.querySelectorAll<HTMLLIElement>('li[data-state="online"]')) shownAt.set(li.dataset.peer!, li.dataset.shownAt!);
  list.replaceChildren(
    ...[...rows.values()].map((row) => {
      const li = element('li', '');
      li.dataset.peer = row.peer;
      li.dataset.state = row.online ? 'online' : 'gone';
      if (row.online) li.dataset.shownAt = shownAt.get(row.peer) ?? String(Date.now());
      else if (row.left) li.dataset.leftAt = String(row.left.at);
      const name = element('span', 'name', row.peer);
      if (row.peer === me) name.append(' ', element('span', 'you', '(you)'));
      const badge = element('span', 'badge', row.online ? 'online' : `gone ${time(row.left?.at ?? Date.now())}`);
      // The keepalive statechart's state on hover: `alive.probing` while the server waits for an answer.
      if (row.state) badge.title = row.state;
      li.append(element('span', 'dot'), name, badge);
      li.firstElementChild!.setAttribute('aria-hidden', 'true');
      if (row.said) {
        const said = element('p', 'said');
        said.append(element('q', '', row.said.text), ` · ${time(row.said.at)}`);
        li.append(said);
      }
      if (!row.online && row.left) li.append(element('p', 'why', row.left.reason));
      return li;
    }),
  );
  empty.hidden = rows.size > 0;
}

byId<HTMLFormElement>('say-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = sayInput.value.trim();
  if (text === '') return;
  // Held by the client while it reconnects, sent on the next open.
  try {
    client.send(encode({ type: 'say', text }));
    sayInput.value = '';
  } catch (error) {
    // Closed for good, or the reconnect buffer is full: keep the text, say why.
    setStatus('closed', error instanceof Error ? error.message : String(error));
  }
});

byId<HTMLFormElement>('name-form').addEventListener('submit', (event) => {
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
