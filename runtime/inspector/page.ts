/**
 * The inspector page as one HTML document: the chart drawn on the server (so it reads
 * without JavaScript and a test can check it), the stylesheet and the script inline, a
 * nonce for both. No fonts, images or scripts from anywhere else.
 */
import { CLIENT_SCRIPT } from './client.generated.ts';
import { STYLES } from './styles.ts';
import { escapeXml } from './svg.ts';

export interface PageOptions {
  /** The chart, from `renderChartSvg`. */
  svg: string;
  machineId: string;
  states: number;
  transitions: number;
  /** Path of the event stream. */
  events: string;
  /** Allows the inline style and script under the page's Content-Security-Policy. */
  nonce: string;
  /** In a hub over many processes: this one's name (the page shows the connections it holds). */
  node?: string | undefined;
  /** In a hub over many Durable Objects: this page's shard and a link to each shard's page. */
  shards?: { current: number; links: readonly string[] } | undefined;
}

/** `</script>` inside inline script text would end the element early. */
const inlineScript = (text: string) => text.replace(/<\/(script)/gi, '<\\/$1');

export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Every shard's page, this one marked: each page shows the connections its shard holds. */
function shardNav(shards: NonNullable<PageOptions['shards']>): string {
  const links = shards.links.map((href, shard) =>
    shard === shards.current ? `<a href="${escapeXml(href)}" aria-current="page">${shard}</a>` : `<a href="${escapeXml(href)}">${shard}</a>`,
  );
  return `
  <nav class="node" data-testid="shards" aria-label="Shards of this hub" title="This hub is spread over ${shards.links.length} Durable Objects; this page shows the connections one holds">shard ${links.join(' ')}</nav>`;
}

export function renderPage(options: PageOptions): string {
  const nonce = escapeXml(options.nonce);
  const config = JSON.stringify({ events: options.events }).replace(/</g, '\\u003c');
  const id = escapeXml(options.machineId);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>keepalive inspector</title>
<style nonce="${nonce}">${STYLES}</style>
</head>
<body>
<header class="top">
  <h1>keepalive <span>inspector</span></h1>${options.node === undefined ? '' : `
  <span class="node" data-testid="node" title="In a hub over many processes, this page shows the connections this one holds">process ${escapeXml(options.node)}</span>`}${options.shards === undefined ? '' : shardNav(options.shards)}
  <span id="status" class="status waiting" role="status">connecting…</span>
  <ul class="legend" aria-label="The protocol in one line each">
    <li><b class="advertise">ADVERTISE</b> peer speaks keepalive</li>
    <li><b class="ping">PING</b> after an interval of silence</li>
    <li><b class="pong">PONG</b> the answer; any message is a sign of life</li>
    <li><b class="dead">dead</b> count PINGs unanswered, then one more interval</li>
  </ul>
</header>
<main>
  <section class="panel" id="chart-panel" aria-labelledby="chart-heading">
    <h2 id="chart-heading">Statechart <span class="count">${id}: ${options.states} states, ${options.transitions} transitions, drawn from the machine definition</span></h2>
    <figure>
      <div class="chart-scroll">${options.svg}</div>
      <figcaption>The selected connection's state is outlined; the transition a step takes lights up; badges count live connections per state. Hover a transition for its actions.</figcaption>
    </figure>
  </section>
  <section class="panel" id="list-panel" aria-labelledby="list-heading">
    <h2 id="list-heading">Connections <span class="count" id="connection-count">0 live</span></h2>
    <div class="table-scroll">
      <table id="connections">
        <caption class="visually-hidden">Connection actors on this host; select one to follow it</caption>
        <thead><tr>
          <th scope="col">Connection</th><th scope="col">Role</th><th scope="col">State</th>
          <th scope="col" class="num">PINGs sent</th><th scope="col" class="num">PONGs received</th><th scope="col" class="num">Unanswered</th>
          <th scope="col">Last sign of life</th><th scope="col">Next wake</th>
        </tr></thead>
        <tbody><tr class="empty"><td colspan="8">No connections yet. Start a client: <code id="connect-hint">npm run connect -- ws://HOST/connect</code></td></tr></tbody>
      </table>
    </div>
  </section>
  <section class="panel" id="timeline-panel" aria-labelledby="timeline-heading">
    <h2 id="timeline-heading">Selected connection</h2>
    <div id="detail"><p class="muted">Select a connection to follow it.</p></div>
    <div class="seq-head" aria-hidden="true"><span>time (s)</span><span class="lanes"><span id="lifeline-peer">peer</span><span id="lifeline-host">this host</span></span></div>
    <ol id="sequence" aria-label="Timeline of the selected connection: messages between the peer and this host, ticks and state changes"></ol>
    <p id="sequence-empty">Messages, ticks and state changes appear here as they happen.</p>
  </section>
</main>
<footer>Live from the host's event stream (Server-Sent Events). While this page is open the host steps every frame, so each PING and PONG shows.</footer>
<div id="announcer" class="visually-hidden" aria-live="polite"></div>
<noscript><p>The chart is drawn without JavaScript; the live list and timeline need it.</p></noscript>
<script type="application/json" id="inspector-config">${config}</script>
<script type="module" nonce="${nonce}">${inlineScript(CLIENT_SCRIPT)}</script>
</body>
</html>
`;
}
