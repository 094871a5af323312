/// <reference lib="dom" />
/**
 * The inspector page's script (browser code, type-checked here, shipped compiled as a
 * string by `client.generated.ts`; rebuild with `npm run build:inspector`).
 *
 * Follows the host's event stream (Server-Sent Events): keeps every connection with its
 * latest view and a timeline, lists them, lights up the selected one's state on the
 * chart (and the transition it just took), and draws its timeline as a sequence
 * diagram between the peer and this host.
 */
import type { ConnectionView, HostEvent } from '../host/index.ts';

interface Config {
  /** URL of the event stream, with the token when one is needed (EventSource cannot send a header). */
  events: string;
}

type EndKind = 'dead' | 'closed' | 'rejected' | 'gone';

type Entry =
  | { kind: 'in' | 'out'; at: number; message: string }
  | { kind: 'note'; at: number; tone: 'open' | 'state' | 'tick' | EndKind; text: string };

interface Conn {
  id: string;
  role: string;
  openedAt: number;
  view: ConnectionView | null;
  ended: { kind: EndKind; at: number; reason: string } | null;
  entries: Entry[];
  dropped: number;
  row: HTMLTableRowElement | null;
}

const MAX_ENTRIES = 500;
/** With many connections, each one not selected keeps a shorter history. */
const MAX_ENTRIES_CROWDED = 50;
const CROWDED = 200;
const MAX_ENDED = 100;
const MAX_ROWS = 500;

const config = JSON.parse(document.getElementById('inspector-config')!.textContent!) as Config;
const conns = new Map<string, Conn>();
let selected: string | null = null;
/** Host clock minus ours, from the last message: "ago" is measured in the host's time. */
let clockOffset = 0;
const hostNow = () => Date.now() + clockOffset;

const $ = <T extends Element>(selector: string): T => document.querySelector<T>(selector)!;
const chart = $<SVGSVGElement>('svg.chart');
const tableBody = $<HTMLTableSectionElement>('#connections tbody');
const emptyRow = $<HTMLTableRowElement>('#connections tr.empty');
const countLabel = $<HTMLElement>('#connection-count');
const statusPill = $<HTMLElement>('#status');
const detail = $<HTMLElement>('#detail');
const sequence = $<HTMLOListElement>('#sequence');
const sequenceEmpty = $<HTMLElement>('#sequence-empty');
const announcer = $<HTMLElement>('#announcer');

// ---- small DOM and text helpers ----

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { class?: string; text?: string; title?: string; attrs?: Record<string, string> } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.text !== undefined) el.textContent = props.text;
  if (props.title) el.title = props.title;
  for (const [name, value] of Object.entries(props.attrs ?? {})) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

function seconds(ms: number): string {
  const s = ms / 1000;
  return s < 10 ? `${s.toFixed(1)} s` : s < 120 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`;
}

function ago(at: number): string {
  const ms = hostNow() - at;
  return ms < 100 ? 'just now' : `${seconds(ms)} ago`;
}

function until(at: number | null): string {
  if (at === null) return '—';
  const ms = at - hostNow();
  return ms <= 0 ? 'due' : `in ${seconds(ms)}`;
}

const clockTime = (at: number) => new Date(at).toISOString().slice(11, 23);
const stateTone = (conn: Conn) => (conn.ended ? conn.ended.kind : (conn.view?.state.split('.')[0] ?? 'opening'));
const peerRole = (role: string) => (role === 'server' ? 'client' : role === 'client' ? 'server' : 'peer');

// ---- the model: host events in, connections and timelines out ----

function connOf(id: string, at: number): Conn {
  let conn = conns.get(id);
  if (!conn) {
    conn = { id, role: '?', openedAt: at, view: null, ended: null, entries: [], dropped: 0, row: null };
    conns.set(id, conn);
    pruneEnded();
  }
  return conn;
}

function pruneEnded(): void {
  const ended = [...conns.values()].filter((c) => c.ended);
  for (const conn of ended.slice(0, Math.max(0, ended.length - MAX_ENDED))) {
    if (conn.id === selected) continue;
    conn.row?.remove();
    conns.delete(conn.id);
  }
}

function push(conn: Conn, entry: Entry): void {
  conn.entries.push(entry);
  const limit = conn.id !== selected && conns.size > CROWDED ? MAX_ENTRIES_CROWDED : MAX_ENTRIES;
  while (conn.entries.length > limit) {
    conn.entries.shift();
    conn.dropped++;
  }
  if (conn.id === selected) appendEntry(conn, entry, conn.entries.length - 2);
}

function end(conn: Conn, kind: EndKind, at: number, reason: string): void {
  if (conn.ended) return;
  conn.ended = { kind, at, reason };
  if (kind === 'dead') announcer.textContent = `Connection ${conn.id} is dead: ${reason}`;
}

function apply(event: HostEvent): void {
  const conn = connOf(event.id, event.at);
  switch (event.type) {
    case 'opened':
      conn.role = event.role;
      conn.openedAt = event.at;
      push(conn, { kind: 'note', at: event.at, tone: 'open', text: `opened as ${event.role}` });
      break;
    case 'received':
      push(conn, { kind: 'in', at: event.at, message: event.message });
      break;
    case 'sent':
      push(conn, { kind: 'out', at: event.at, message: event.message });
      break;
    case 'stepped': {
      conn.view = event.connection;
      conn.role = event.connection.role;
      const moved = event.from !== event.state;
      if (event.event === 'start') push(conn, { kind: 'note', at: event.at, tone: 'state', text: `starts in ${event.state}` });
      else if (event.event === 'tick') push(conn, { kind: 'note', at: event.at, tone: 'tick', text: moved ? `tick: ${event.from} → ${event.state}` : `tick in ${event.state}` });
      else if (moved) push(conn, { kind: 'note', at: event.at, tone: 'state', text: `${event.event}: ${event.from} → ${event.state}` });
      if (conn.id === selected && event.from !== null) flashTransition(event.from, event.state, event.event);
      break;
    }
    case 'dead':
      push(conn, { kind: 'note', at: event.at, tone: 'dead', text: event.reason });
      end(conn, 'dead', event.at, event.reason);
      break;
    case 'closed':
      push(conn, { kind: 'note', at: event.at, tone: 'closed', text: `closed: ${event.reason}` });
      end(conn, 'closed', event.at, event.reason);
      break;
    case 'rejected':
      push(conn, { kind: 'note', at: event.at, tone: 'rejected', text: event.reason });
      end(conn, 'rejected', event.at, event.reason);
      break;
  }
  dirty.add(conn.id);
}

/** A fresh list from the host (page load, reconnect): whatever is missing ended meanwhile. */
function applySnapshot(now: number, views: ConnectionView[]): void {
  const live = new Set(views.map((v) => v.id));
  for (const conn of conns.values()) {
    if (!conn.ended && !live.has(conn.id)) {
      end(conn, 'gone', now, 'ended while the page was not connected');
      push(conn, { kind: 'note', at: now, tone: 'gone', text: 'ended while the page was not connected' });
      dirty.add(conn.id);
    }
  }
  for (const view of views) {
    const conn = connOf(view.id, view.lastSignOfLife);
    conn.view = view;
    conn.role = view.role;
    dirty.add(conn.id);
  }
}

// ---- rendering, batched per animation frame ----

const dirty = new Set<string>();
let framePending = false;

function schedule(): void {
  if (framePending) return;
  framePending = true;
  requestAnimationFrame(() => {
    framePending = false;
    render();
  });
}

function render(): void {
  if (selected === null || !conns.has(selected)) {
    const first = [...conns.values()].find((c) => !c.ended) ?? [...conns.values()].at(-1);
    if (first) select(first.id);
  }
  let shown = 0;
  for (const conn of conns.values()) {
    if (shown++ >= MAX_ROWS) break;
    if (!conn.row) {
      conn.row = buildRow(conn);
      tableBody.append(conn.row);
      dirty.add(conn.id);
    }
    if (dirty.has(conn.id)) updateRow(conn);
  }
  dirty.clear();
  const live = [...conns.values()].filter((c) => !c.ended).length;
  emptyRow.hidden = conns.size > 0;
  countLabel.textContent = `${live} live${conns.size > live ? `, ${conns.size - live} ended` : ''}${conns.size > MAX_ROWS ? ` (first ${MAX_ROWS} shown)` : ''}`;
  updateChart();
  updateDetail();
}

function buildRow(conn: Conn): HTMLTableRowElement {
  const button = h('button', { class: 'select', text: conn.id, attrs: { type: 'button', 'aria-pressed': 'false' } });
  const row = h('tr', { attrs: { 'data-id': conn.id } }, h('th', { attrs: { scope: 'row' } }, button));
  // The whole row is the target; the button (which a click on it reaches too) makes it keyboard-reachable.
  row.addEventListener('click', () => select(conn.id));
  for (const name of ['role', 'state', 'pings', 'pongs', 'unanswered', 'life', 'wake']) row.append(h('td', { class: name }));
  return row;
}

function cell(row: HTMLTableRowElement, name: string): HTMLTableCellElement {
  return row.querySelector<HTMLTableCellElement>(`td.${name}`)!;
}

function updateRow(conn: Conn): void {
  const row = conn.row!;
  const view = conn.view;
  row.className = `tone-${stateTone(conn)}${conn.ended ? ' ended' : ''}${conn.id === selected ? ' selected' : ''}`;
  row.querySelector('button')!.setAttribute('aria-pressed', String(conn.id === selected));
  cell(row, 'role').textContent = conn.role;
  const state = cell(row, 'state');
  state.replaceChildren(h('span', { class: `badge tone-${stateTone(conn)}`, text: conn.ended ? conn.ended.kind : (view?.state ?? 'opening') }));
  state.title = conn.ended ? conn.ended.reason : (view?.state ?? '');
  cell(row, 'pings').textContent = view ? String(view.pingsSent) : '';
  cell(row, 'pongs').textContent = view ? String(view.pongsReceived) : '';
  const unanswered = cell(row, 'unanswered');
  unanswered.textContent = view ? (view.sendPings ? `${view.unanswered} / ${view.count}` : 'pings off') : '';
  unanswered.classList.toggle('warn', !!view && view.unanswered > 0);
  updateTimes(conn);
}

function updateTimes(conn: Conn): void {
  if (!conn.row || !conn.view) return;
  const life = cell(conn.row, 'life');
  // An ended connection's last sign of life is a fixed moment, not a growing "ago".
  life.textContent = conn.ended ? clockTime(conn.view.lastSignOfLife).slice(0, 8) : ago(conn.view.lastSignOfLife);
  life.title = conn.ended ? `${conn.ended.at - conn.view.lastSignOfLife} ms before it ended` : clockTime(conn.view.lastSignOfLife);
  cell(conn.row, 'wake').textContent = conn.ended ? '—' : until(conn.view.wakeAt);
}

function select(id: string): void {
  if (selected === id) return;
  const previous = selected === null ? undefined : conns.get(selected);
  selected = id;
  if (previous) dirty.add(previous.id);
  dirty.add(id);
  rebuildSequence();
  schedule();
}

// ---- the chart: current state, how many are where, the transition just taken ----

const stateNodes = [...chart.querySelectorAll<SVGGElement>('g.state')];

/** `alive.watching` lights `alive` too: a state is active with all its ancestors. */
const ancestry = (state: string): string[] => state.split('.').map((_, i, parts) => parts.slice(0, i + 1).join('.'));

function updateChart(): void {
  const conn = selected === null ? undefined : conns.get(selected);
  const state = conn?.view ? (conn.ended?.kind === 'dead' ? 'dead' : conn.view.state) : null;
  const active = new Set(state ? ancestry(state) : []);
  const counts = new Map<string, number>();
  for (const c of conns.values()) {
    if (c.ended || !c.view) continue;
    for (const path of ['', ...ancestry(c.view.state)]) counts.set(path, (counts.get(path) ?? 0) + 1);
  }
  for (const node of stateNodes) {
    const path = node.dataset.state ?? '';
    node.classList.toggle('is-current', path === state);
    node.classList.toggle('is-active', active.has(path) && path !== state);
    const count = counts.get(path) ?? 0;
    const badge = node.querySelector<SVGGElement>('g.occupancy')!;
    badge.classList.toggle('empty', count === 0);
    badge.querySelector('text')!.textContent = count > 99 ? '99+' : String(count);
  }
  chart.classList.toggle('has-selection', state !== null);
}

function flashTransition(from: string, to: string, event: string): void {
  const sources = new Set(['', ...ancestry(from)]);
  const candidates = [...chart.querySelectorAll<SVGTextElement>('text.transition')].filter((t) => {
    const d = t.dataset;
    if ((d.event ?? '') !== (event === 'start' ? '' : event) || !sources.has(d.source ?? '')) return false;
    return d.target ? d.target.split(' ').includes(to) : from === to;
  });
  // Guards are not visible from outside the machine: light a line only when it is the only fit.
  if (candidates.length !== 1) return;
  const line = candidates[0]!;
  for (const el of [line, line.closest('g.edge')].filter((e): e is Element => e !== null)) {
    el.classList.remove('is-taken');
    void (el as SVGGraphicsElement).getBBox();
    el.classList.add('is-taken');
    setTimeout(() => el.classList.remove('is-taken'), 1200);
  }
}

// ---- the selected connection: details and its sequence diagram ----

function updateDetail(): void {
  const conn = selected === null ? undefined : conns.get(selected);
  if (!conn) {
    detail.replaceChildren(h('p', { class: 'muted', text: 'Select a connection to follow it.' }));
    return;
  }
  const v = conn.view;
  const facts: [string, string][] = v
    ? [
        ['role', `${v.role} (${v.codec})`],
        ['keepalive', `${v.interval} ms × ${v.count}${v.sendPings ? '' : ', pings off'}`],
        ['PINGs', `${v.pingsSent} sent · ${v.pingsReceived} received`],
        ['PONGs', `${v.pongsSent} sent · ${v.pongsReceived} received`],
        ['unanswered', v.sendPings ? `${v.unanswered} of ${v.count}` : '—'],
        ['last sign of life', ago(v.lastSignOfLife)],
        ['next wake', conn.ended ? '—' : until(v.wakeAt)],
      ]
    : [['role', conn.role]];
  const state = conn.ended ? conn.ended.kind : (v?.state ?? 'opening');
  detail.replaceChildren(
    h(
      'div',
      { class: 'detail-head' },
      h('h3', { class: 'conn-id', text: conn.id }),
      h('span', { class: `badge big tone-${stateTone(conn)}`, text: state, attrs: { 'data-testid': 'selected-state' } }),
    ),
    ...(conn.ended ? [h('p', { class: `end-reason tone-${conn.ended.kind}`, text: conn.ended.reason })] : []),
    h('dl', { class: 'facts' }, ...facts.map(([k, val]) => h('div', {}, h('dt', { text: k }), h('dd', { text: val })))),
  );
  const peer = $<HTMLElement>('#lifeline-peer');
  const self = $<HTMLElement>('#lifeline-host');
  peer.textContent = `peer (${peerRole(conn.role)})`;
  self.textContent = `this host (${conn.role})`;
}

function rebuildSequence(): void {
  sequence.replaceChildren();
  const conn = selected === null ? undefined : conns.get(selected);
  sequenceEmpty.hidden = !!conn && conn.entries.length > 0;
  if (!conn) return;
  if (conn.dropped > 0) sequence.append(h('li', { class: 'seq-dropped', text: `${conn.dropped} older events not shown` }));
  conn.entries.forEach((entry, i) => appendEntry(conn, entry, i - 1));
  sequence.scrollTop = sequence.scrollHeight;
}

function appendEntry(conn: Conn, entry: Entry, previousIndex: number): void {
  const stick = sequence.scrollHeight - sequence.scrollTop - sequence.clientHeight < 40;
  sequenceEmpty.hidden = true;
  const previous = previousIndex >= 0 ? conn.entries[previousIndex] : undefined;
  const time = h(
    'span',
    { class: 'seq-time', title: clockTime(entry.at) },
    h('span', { text: `+${((entry.at - conn.openedAt) / 1000).toFixed(3)}` }),
    h('span', { class: 'delta', text: previous ? `Δ${Math.max(0, entry.at - previous.at)}` : '' }),
  );
  let lanes: HTMLElement;
  if (entry.kind === 'note') {
    lanes = h('span', { class: 'seq-lanes' }, h('span', { class: 'seq-note', text: entry.text }));
  } else {
    const direction = entry.kind === 'in' ? 'peer to host' : 'host to peer';
    lanes = h(
      'span',
      { class: 'seq-lanes' },
      h('span', { class: 'seq-arrow', attrs: { 'aria-label': `${entry.message}, ${direction}` } }, h('span', { class: 'seq-label', text: entry.message })),
    );
  }
  const kind = entry.kind === 'note' ? `note tone-${entry.tone}` : `${entry.kind} msg-${entry.message.toLowerCase()}`;
  sequence.append(h('li', { class: `seq-row ${kind}` }, time, lanes));
  while (sequence.children.length > MAX_ENTRIES + 1) sequence.firstElementChild!.remove();
  if (stick) sequence.scrollTop = sequence.scrollHeight;
}

// ---- the stream ----

function setStatus(text: string, tone: 'live' | 'waiting' | 'down'): void {
  statusPill.textContent = text;
  statusPill.className = `status ${tone}`;
}

function connect(): void {
  const source = new EventSource(new URL(config.events, location.href));
  const clock = (now: number) => (clockOffset = now - Date.now());
  source.addEventListener('open', () => setStatus('live', 'live'));
  source.addEventListener('error', () => setStatus(source.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…', 'waiting'));
  source.addEventListener('snapshot', (message) => {
    const data = JSON.parse(message.data) as { now: number; connections: ConnectionView[] };
    clock(data.now);
    applySnapshot(data.now, data.connections);
    setStatus('live', 'live');
    schedule();
  });
  source.addEventListener('events', (message) => {
    const data = JSON.parse(message.data) as { now: number; events: HostEvent[] };
    clock(data.now);
    for (const event of data.events) apply(event);
    schedule();
  });
  source.addEventListener('clock', (message) => clock((JSON.parse(message.data) as { now: number }).now));
  source.addEventListener('overflow', () => setStatus('catching up…', 'waiting'));
}

// Relative times ("2.1 s ago", "in 0.4 s") move on their own between events.
setInterval(() => {
  for (const conn of conns.values()) if (!conn.ended) updateTimes(conn);
  if (selected !== null) updateDetail();
}, 250);

const hint = document.getElementById('connect-hint');
// `/inspect/<hub>` (the Worker) watches the connections made at `/connect/<hub>`.
const hub = /^\/inspect(\/[^/]+)\/?$/.exec(location.pathname)?.[1] ?? '';
const connectPath = `/connect${hub}`;
if (hint) hint.textContent = `npm run connect -- ${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${connectPath}`;

connect();
