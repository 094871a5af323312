/**
 * The page, the same from both servers. `connect` is where the page's WebSocket goes,
 * `{hub}` standing for the hub it shows (`?hub=NAME`, default `lobby`): `/connect` on
 * Node (one hub), `/connect/{hub}` on the Worker (a Durable Object per hub).
 * The script is /app.js: bundle.ts builds it from app.ts.
 */
import { COUNT, INTERVAL, MAX_TEXT } from './protocol.ts';

const CSS = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #667085; --bg: #f6f7f9; --card: #fff; --line: #e3e6ea;
  --online: #12805c; --gone: #a0a6b1; --accent: #3056d3; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8ec; --muted: #98a1b2; --bg: #14161b; --card: #1d2027; --line: #2c313a; --accent: #7c9cff; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
main { max-width: 36rem; margin: 0 auto; padding: 1.5rem 1rem 2rem; }
header { display: flex; align-items: baseline; gap: .75rem; flex-wrap: wrap; }
h1 { font-size: 1.4rem; margin: 0; }
h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 1.25rem 0 .5rem; }
.hub { margin: 0; color: var(--muted); }
#status { margin: 0 0 0 auto; font-size: .85rem; padding: .1rem .6rem; border-radius: 1rem; border: 1px solid var(--line); }
#status[data-state="online"] { color: var(--online); border-color: currentColor; }
#status[data-state="reconnecting"], #status[data-state="closed"] { color: #b54708; border-color: currentColor; }
form { display: flex; gap: .5rem; align-items: center; margin-top: 1rem; }
label { font-weight: 600; white-space: nowrap; }
input { flex: 1; min-width: 0; font: inherit; padding: .45rem .6rem; border: 1px solid var(--line); border-radius: .4rem; background: var(--card); color: inherit; }
input:invalid { border-color: #d92d20; }
button { font: inherit; padding: .45rem .9rem; border: 0; border-radius: .4rem; background: var(--accent); color: #fff; cursor: pointer; }
input:focus-visible, button:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
ul { list-style: none; margin: 0; padding: 0; background: var(--card); border: 1px solid var(--line); border-radius: .6rem; }
li { display: grid; grid-template-columns: auto 1fr auto; gap: .15rem .6rem; padding: .6rem .8rem; border-top: 1px solid var(--line); }
li:first-child { border-top: 0; }
.dot { width: .6rem; height: .6rem; border-radius: 50%; margin-top: .45rem; background: var(--online); }
li[data-state="gone"] .dot { background: var(--gone); }
li[data-state="gone"] .name { color: var(--muted); }
.name { font-weight: 600; }
.you { font-weight: 400; color: var(--muted); }
.badge { font-size: .8rem; color: var(--online); }
li[data-state="gone"] .badge { color: var(--muted); }
.said, .why { grid-column: 2 / 4; margin: 0; color: var(--muted); overflow-wrap: anywhere; }
.said q { color: var(--fg); }
.why { font-size: .8rem; }
#empty { color: var(--muted); }
footer { margin-top: 1.5rem; font-size: .8rem; color: var(--muted); }
`;

export function pageHtml(options: { connect: string }): string {
  const bound = (INTERVAL * (COUNT + 1)) / 1000;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Who is online · keepalive-actors</title>
<style>${CSS}</style>
</head>
<body data-connect="${escapeAttribute(options.connect)}">
<main>
  <header>
    <h1>Who is online</h1>
    <p class="hub">hub <strong id="hub"></strong></p>
    <p id="status" role="status" data-state="connecting">connecting…</p>
  </header>
  <form id="name-form">
    <label for="name">Your name</label>
    <input id="name" name="name" required maxlength="64" pattern="[A-Za-z0-9._:@\\-]{1,64}" autocomplete="nickname"
      title="1 to 64 letters, digits or . _ : @ -">
    <button type="submit">Rename</button>
  </form>
  <section aria-labelledby="peers-title">
    <h2 id="peers-title">Peers</h2>
    <ul id="peers" aria-live="polite"></ul>
    <p id="empty">Nobody here yet.</p>
  </section>
  <form id="say-form">
    <label for="say">Say something</label>
    <input id="say" name="say" maxlength="${MAX_TEXT}" autocomplete="off">
    <button type="submit">Say</button>
  </form>
  <footer>Keepalive every ${INTERVAL / 1000} s, ${COUNT} unanswered PINGs: a tab that freezes or loses its
    network is shown gone about ${bound} s after its last sign of life, not when TCP gives up.</footer>
</main>
<script type="module" src="/app.js"></script>
</body>
</html>
`;
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}
