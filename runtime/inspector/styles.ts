/** The inspector page's stylesheet: no web fonts, no external assets; light and dark. */
export const STYLES = String.raw`
:root {
  color-scheme: light dark;
  --bg: #f4f6f9;
  --panel: #ffffff;
  --text: #1b2230;
  --muted: #5c667a;
  --faint: #8b94a6;
  --border: #dde2ea;
  --state-bg: #ffffff;
  --state-border: #a3acbd;
  --compound-bg: #f3f5f9;
  --root-bg: #fafbfc;
  --edge: #7d8799;
  --accent: #2563eb;
  --accent-bg: #dce8ff;
  --advertise: #7c3aed;
  --ping: #c2410c;
  --pong: #047857;
  --message: #64748b;
  --dead: #dc2626;
  --dead-bg: #fde2e2;
  --ok: #16a34a;
  --warn: #b45309;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0e1117;
    --panel: #161b24;
    --text: #e5e9f0;
    --muted: #a0a9ba;
    --faint: #6f7a8e;
    --border: #2a3140;
    --state-bg: #1b212c;
    --state-border: #56607a;
    --compound-bg: #141922;
    --root-bg: #12161e;
    --edge: #8590a6;
    --accent: #6ea8ff;
    --accent-bg: #1d3461;
    --advertise: #a78bfa;
    --ping: #fb923c;
    --pong: #34d399;
    --message: #94a3b8;
    --dead: #f87171;
    --dead-bg: #4a1d22;
    --ok: #4ade80;
    --warn: #fbbf24;
  }
}
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.45 var(--sans); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.muted { color: var(--muted); }
code, .mono { font-family: var(--mono); font-size: 0.92em; }

header.top {
  display: flex; align-items: center; gap: 14px; flex-wrap: wrap;
  padding: 12px 20px; background: var(--panel); border-bottom: 1px solid var(--border);
}
header.top h1 { font-size: 17px; margin: 0; font-weight: 650; letter-spacing: -0.01em; }
header.top h1 span { color: var(--muted); font-weight: 500; }
.status { font-size: 12px; font-weight: 600; padding: 2px 10px 2px 8px; border-radius: 999px; border: 1px solid var(--border); }
.node { font-size: 12px; font-family: var(--mono, monospace); padding: 2px 8px; border-radius: 4px; border: 1px solid var(--border); }
.status::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 6px; background: currentColor; vertical-align: 0; }
.status.live { color: var(--ok); }
.status.waiting { color: var(--warn); }
.status.down { color: var(--dead); }
.legend { display: flex; gap: 14px; flex-wrap: wrap; margin-left: auto; font-size: 12px; color: var(--muted); }
.legend b { font-family: var(--mono); font-weight: 600; }
.legend .advertise { color: var(--advertise); }
.legend .ping { color: var(--ping); }
.legend .pong { color: var(--pong); }
.legend .dead { color: var(--dead); }

main { padding: 16px 20px 24px; display: grid; gap: 16px; grid-template-columns: minmax(0, 1.4fr) minmax(0, 1fr); grid-template-areas: "chart chart" "list timeline"; }
@media (max-width: 1100px) { main { grid-template-columns: minmax(0, 1fr); grid-template-areas: "chart" "list" "timeline"; } }
section.panel { background: var(--panel); border: 1px solid var(--border); border-radius: 12px; padding: 14px 16px; min-width: 0; }
section.panel > h2 { font-size: 13px; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); margin: 0 0 10px; font-weight: 650; display: flex; gap: 10px; align-items: baseline; }
section.panel > h2 .count { text-transform: none; letter-spacing: 0; font-weight: 500; color: var(--faint); }
#chart-panel { grid-area: chart; }
#list-panel { grid-area: list; }
#timeline-panel { grid-area: timeline; display: flex; flex-direction: column; }
figure { margin: 0; }
.chart-scroll { overflow: auto; }
figcaption { font-size: 12px; color: var(--muted); margin-top: 8px; }

/* ---- the chart ---- */
svg.chart { display: block; margin: 0 auto; width: 100%; min-width: 900px; max-width: 1700px; height: auto; font-family: var(--mono); }
svg.chart .state > .body { fill: var(--state-bg); stroke: var(--state-border); stroke-width: 1.2; transition: fill 0.2s, stroke 0.2s; }
svg.chart .state.kind-compound > .body { fill: var(--compound-bg); }
svg.chart .state.root > .body { fill: var(--root-bg); stroke-dasharray: 4 3; }
svg.chart .state > .inner-border { fill: none; stroke: var(--state-border); stroke-width: 1.2; }
svg.chart .state > .divider { stroke: var(--border); }
svg.chart .state .title { font-size: 13px; font-weight: 700; fill: var(--text); }
svg.chart .state .description { font-size: 11px; font-style: italic; fill: var(--muted); }
svg.chart .tag rect { fill: var(--accent-bg); }
svg.chart .tag text { font-size: 10px; fill: var(--accent); }
svg.chart .transition { font-size: 11px; fill: var(--muted); }
svg.chart .transition .event { fill: var(--text); font-weight: 600; }
svg.chart .transition.is-taken, svg.chart .transition.is-taken .event { fill: var(--accent); }
svg.chart .edge path { fill: none; stroke: var(--edge); stroke-width: 1.3; transition: stroke 0.25s, stroke-width 0.25s; }
svg.chart .edge.is-taken path { stroke: var(--accent); stroke-width: 2.6; }
svg.chart marker path { fill: var(--edge); }
svg.chart .label rect { fill: var(--panel); opacity: 0.92; }
svg.chart .initial-dot { fill: var(--text); }
svg.chart .occupancy rect { fill: var(--accent); }
svg.chart .occupancy text { font-size: 10px; font-weight: 700; fill: var(--panel); text-anchor: middle; }
svg.chart .occupancy.empty { display: none; }
svg.chart .state.is-active > .body { stroke: var(--accent); stroke-width: 2; }
svg.chart .state.is-current > .body { fill: var(--accent-bg); stroke: var(--accent); stroke-width: 3; }
svg.chart .state.is-current .title { fill: var(--accent); }
svg.chart .state[data-state="dead"].is-current > .body { fill: var(--dead-bg); stroke: var(--dead); }
svg.chart .state[data-state="dead"].is-current .title { fill: var(--dead); }

/* ---- connections ---- */
.table-scroll { overflow: auto; max-height: min(70vh, 640px); }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 6px 7px; border-bottom: 1px solid var(--border); white-space: nowrap; }
thead th { position: sticky; top: 0; background: var(--panel); white-space: normal; vertical-align: bottom; line-height: 1.2; font-size: 11px; text-transform: uppercase; letter-spacing: 0.05em; color: var(--muted); font-weight: 650; z-index: 1; }
td.pings, td.pongs, td.unanswered, thead th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.life, td.wake { color: var(--muted); font-variant-numeric: tabular-nums; }
td.unanswered.warn { color: var(--warn); font-weight: 600; }
tbody tr { cursor: pointer; }
tbody tr:hover { background: color-mix(in srgb, var(--accent-bg) 45%, transparent); }
tbody tr.selected { background: var(--accent-bg); }
tbody tr.ended { opacity: 0.75; }
tbody tr.tone-dead { opacity: 1; background: color-mix(in srgb, var(--dead-bg) 70%, transparent); }
tbody tr.tone-dead.selected { box-shadow: inset 3px 0 0 var(--dead); }
tbody tr.selected:not(.tone-dead) { box-shadow: inset 3px 0 0 var(--accent); }
tr.empty td { white-space: normal; color: var(--muted); padding: 18px 8px; }
button.select { font: 600 12.5px var(--mono); color: var(--text); background: none; border: 0; padding: 0; cursor: pointer; text-align: left; }
button.select:focus-visible { outline: 2px solid var(--accent); outline-offset: 3px; border-radius: 3px; }
.badge { display: inline-block; font: 600 12px var(--mono); padding: 1px 8px; border-radius: 999px; background: var(--compound-bg); border: 1px solid var(--border); }
.badge.tone-alive { color: var(--pong); border-color: color-mix(in srgb, var(--pong) 40%, transparent); }
.badge.tone-awaitingAdvertise, .badge.tone-opening { color: var(--advertise); border-color: color-mix(in srgb, var(--advertise) 40%, transparent); }
.badge.tone-dead, .badge.tone-rejected { color: #fff; background: var(--dead); border-color: var(--dead); }
.badge.tone-closed, .badge.tone-gone { color: var(--muted); }
.badge.big { font-size: 13px; padding: 2px 10px; }

/* ---- the selected connection ---- */
.detail-head { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.detail-head h3 { margin: 0; font: 700 15px var(--mono); }
.end-reason { margin: 8px 0 0; font-size: 13px; }
.end-reason.tone-dead { color: var(--dead); font-weight: 600; }
dl.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 6px 16px; margin: 10px 0 12px; }
dl.facts dt { font-size: 11px; text-transform: uppercase; letter-spacing: 0.05em; color: var(--muted); }
dl.facts dd { margin: 0; font-variant-numeric: tabular-nums; }

/* ---- sequence diagram ---- */
.seq-head, .seq-row { display: grid; grid-template-columns: 92px minmax(0, 1fr); align-items: center; }
.seq-head { font-size: 12px; font-weight: 650; color: var(--muted); border-bottom: 1px solid var(--border); padding-bottom: 6px; }
.seq-head .lanes { display: flex; justify-content: space-between; padding: 0 2px; }
#sequence { list-style: none; margin: 0; padding: 0; overflow-y: auto; max-height: min(70vh, 640px); min-height: 160px; flex: 1; }
.seq-row { min-height: 28px; font-size: 12px; }
.seq-time { font: 11px var(--mono); color: var(--muted); display: flex; flex-direction: column; line-height: 1.15; }
.seq-time .delta { color: var(--faint); font-size: 10px; }
.seq-lanes { position: relative; height: 100%; min-height: 28px; margin: 0 44px; }
.seq-lanes::before, .seq-lanes::after { content: ""; position: absolute; top: 0; bottom: 0; width: 0; border-left: 2px dotted var(--border); }
.seq-lanes::before { left: 0; }
.seq-lanes::after { right: 0; }
.seq-arrow { position: absolute; left: 0; right: 0; top: 50%; height: 0; border-top: 2px solid var(--c, var(--edge)); }
.seq-arrow::after { content: ""; position: absolute; top: -6px; border: 5px solid transparent; }
.seq-row.in .seq-arrow::after { right: -2px; border-left: 8px solid var(--c, var(--edge)); border-right: 0; }
.seq-row.out .seq-arrow::after { left: -2px; border-right: 8px solid var(--c, var(--edge)); border-left: 0; }
.seq-label { position: absolute; left: 50%; transform: translate(-50%, -120%); font: 700 11.5px var(--mono); color: var(--c, var(--text)); background: var(--panel); padding: 0 6px; }
.msg-advertise { --c: var(--advertise); }
.msg-ping { --c: var(--ping); }
.msg-pong { --c: var(--pong); }
.msg-message { --c: var(--message); }
.seq-note { position: absolute; right: 8px; top: 50%; transform: translateY(-50%); font: 11.5px var(--mono); padding: 1px 8px; border-radius: 6px; background: var(--compound-bg); border: 1px solid var(--border); color: var(--muted); max-width: calc(100% - 16px); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.seq-row.tone-state .seq-note { color: var(--accent); border-color: color-mix(in srgb, var(--accent) 40%, transparent); }
.seq-row.tone-tick .seq-note { border-style: dashed; }
.seq-row.tone-dead .seq-note, .seq-row.tone-rejected .seq-note { color: #fff; background: var(--dead); border-color: var(--dead); font-weight: 600; white-space: normal; position: relative; right: auto; top: auto; transform: none; display: block; margin: 4px 8px 4px auto; width: fit-content; }
.seq-row.tone-open .seq-note { color: var(--text); }
.seq-dropped { text-align: center; color: var(--faint); font-size: 12px; padding: 4px; }
#sequence-empty { color: var(--muted); font-size: 13px; }
footer { padding: 0 20px 20px; color: var(--faint); font-size: 12px; }
`;
