/**
 * The drawing is derived: walking `keepaliveMachine` here (independently of the page's
 * own code) finds every state and every transition on the page /inspect serves, and a
 * different machine gets a different drawing. The layout is checked for what a reader
 * needs: states nested inside their parents, siblings apart, every edge drawn.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type AnyStateMachine, createMachine } from 'xstate';
import { keepaliveMachine } from '../../../actors/keepalive.ts';
import { Host } from '../../../runtime/host/host.ts';
import { inspectorRoutes } from '../../../runtime/inspector/routes.ts';
import { chartLayout } from '../../../runtime/inspector/layout.ts';
import { compileClient, GENERATED } from '../../../runtime/inspector/build-client.ts';
import { generateDrawing, GENERATED_DRAWING } from '../../../runtime/inspector/build-drawing.ts';
import { pregenerated } from '../../../runtime/inspector/drawing.ts';
import { KEEPALIVE_DRAWING } from '../../../runtime/inspector/drawing.generated.ts';
import { serveInspector } from '../../../runtime/inspector/serve.ts';

interface Walked {
  states: { path: string; key: string }[];
  transitions: { source: string; target: string; event: string; guard: string }[];
}

/** The test's own walk over XState's StateNode tree. */
function walk(machine: AnyStateMachine): Walked {
  const out: Walked = { states: [], transitions: [] };
  type Node = {
    key: string;
    path: string[];
    states: Record<string, Node>;
    transitions: Map<string, { target?: Node[]; guard?: unknown }[]>;
    always?: { target?: Node[]; guard?: unknown }[];
  };
  const visit = (node: Node) => {
    const path = node.path.join('.');
    out.states.push({ path, key: node.key });
    const lists: [string, { target?: Node[]; guard?: unknown }[]][] = [['', node.always ?? []], ...node.transitions];
    for (const [event, list] of lists) {
      for (const t of list) {
        const guard = typeof t.guard === 'string' ? t.guard : '';
        const targets = t.target?.map((n) => n.path.join('.')) ?? [];
        out.transitions.push({ source: path, target: targets.join(' '), event, guard });
      }
    }
    Object.values(node.states).forEach(visit);
  };
  visit(machine.root as unknown as Node);
  return out;
}

async function page(options: { machine?: AnyStateMachine; token?: string; path?: string } = {}, path = '/inspect', init?: RequestInit) {
  const host = new Host({ transport: { send() {}, close() {} } });
  return inspectorRoutes({ host, ...options }).request(path, init);
}

/** The page's own config: where its script opens the event stream. */
const streamOf = async (response: Response) => (JSON.parse(/<script type="application\/json" id="inspector-config">(.*?)<\/script>/.exec(await response.text())![1]!) as { events: string }).events;

const attr = (value: string) => value.replace(/&/g, '&#38;').replace(/"/g, '&#34;').replace(/</g, '&#60;').replace(/>/g, '&#62;').replace(/'/g, '&#39;');

describe('the chart on /inspect is derived from the machine', () => {
  it('shows every state of keepaliveMachine, named, and every transition with its event, guard and target', async () => {
    const response = await page();
    expect(response.status).toBe(200);
    const html = await response.text();
    const machine = walk(keepaliveMachine);
    expect(machine.states.length).toBeGreaterThanOrEqual(9);
    expect(machine.transitions.length).toBeGreaterThanOrEqual(28);
    for (const state of machine.states) {
      const group = html.match(new RegExp(`<g class="state[^"]*" data-state="${attr(state.path)}"[^>]*>.*?<text class="title"[^>]*>([^<]*)</text>`));
      expect(group, `state ${state.path || '(root)'}`).not.toBeNull();
      expect(group![1]).toBe(state.key);
    }
    for (const t of machine.transitions) {
      const label = `data-source="${attr(t.source)}" data-target="${attr(t.target)}" data-event="${attr(t.event)}" data-guard="${attr(t.guard)}"`;
      expect(html, `${t.source} --${t.event || 'always'}[${t.guard}]--> ${t.target || '(stays)'}`).toContain(label);
    }
    // Each transition once (one line per target), nothing invented.
    const drawn = html.match(/<text class="transition/g) ?? [];
    expect(drawn).toHaveLength(machine.transitions.reduce((n, t) => n + Math.max(1, t.target.split(' ').filter(Boolean).length), 0));
    // Every event the machine accepts is on the chart as text a person can read.
    for (const event of new Set(machine.transitions.map((t) => t.event).filter(Boolean))) {
      expect(html).toContain(`<tspan class="event">${event}</tspan>`);
    }
    // Initial states are marked: one dot and arrow per compound state.
    expect(html.match(/class="initial-dot"/g)).toHaveLength(2);
    expect(html).toContain('data-source="initial:" data-target="opening"');
    expect(html).toContain('data-source="initial:alive" data-target="alive.watching"');
  });

  it('draws another machine the same way: change the machine, the drawing follows', async () => {
    const toy = createMachine({
      id: 'lamp',
      initial: 'off',
      states: {
        off: { on: { flip: 'on' } },
        on: {
          initial: 'dim',
          on: { flip: 'off', unplug: 'gone' },
          states: { dim: { on: { brighter: 'bright' } }, bright: { on: { dimmer: 'dim' } } },
        },
        gone: { type: 'final' },
      },
    });
    const html = await (await page({ machine: toy })).text();
    for (const path of ['', 'off', 'on', 'on.dim', 'on.bright', 'gone']) expect(html).toContain(`data-state="${path}"`);
    for (const event of ['flip', 'unplug', 'brighter', 'dimmer']) expect(html).toContain(`data-event="${event}"`);
    expect(html).toContain('lamp: 6 states, 5 transitions');
    const svg = html.slice(html.indexOf('<svg'), html.indexOf('</svg>'));
    expect(svg).not.toContain('awaitingAdvertise');
    expect(svg.match(/class="inner-border"/g)).toHaveLength(1); // `gone` is final
  });

  it('lays states out nested and apart, with every edge drawn between its ends', async () => {
    const layout = await chartLayout(keepaliveMachine);
    const boxes = new Map(layout.states.map((s) => [s.state.path, s.box]));
    const inside = (a: { x: number; y: number; width: number; height: number }, b: typeof a) =>
      a.x >= b.x && a.y >= b.y && a.x + a.width <= b.x + b.width && a.y + a.height <= b.y + b.height;
    const overlap = (a: { x: number; y: number; width: number; height: number }, b: typeof a) =>
      a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
    for (const { state } of layout.states) {
      const box = boxes.get(state.path)!;
      expect(box.width).toBeGreaterThan(0);
      for (const child of state.children) expect(inside(boxes.get(child.path)!, box), `${child.path} inside ${state.path}`).toBe(true);
      for (const a of state.children) {
        for (const b of state.children) if (a !== b) expect(overlap(boxes.get(a.path)!, boxes.get(b.path)!), `${a.path} / ${b.path}`).toBe(false);
      }
    }
    const near = (p: { x: number; y: number }, box: { x: number; y: number; width: number; height: number }) =>
      p.x >= box.x - 2 && p.x <= box.x + box.width + 2 && p.y >= box.y - 2 && p.y <= box.y + box.height + 2;
    const atomic = layout.states.filter((s) => s.state.children.length === 0);
    for (const edge of layout.edges) {
      expect(edge.points.length).toBeGreaterThanOrEqual(2);
      if (!edge.source.startsWith('initial:')) expect(near(edge.points[0]!, boxes.get(edge.source)!), `${edge.id} starts at its source`).toBe(true);
      expect(near(edge.points.at(-1)!, boxes.get(edge.target)!), `${edge.id} ends at its target`).toBe(true);
      // Labels never cover a state's name or its inner transitions.
      if (edge.label) for (const s of atomic) expect(overlap(edge.label.box, s.box), `${edge.id} label over ${s.state.path}`).toBe(false);
    }
  });
});

describe('the page', () => {
  it('ships everything it needs inline, locked down by a nonce-based Content-Security-Policy', async () => {
    const response = await page();
    const html = await response.text();
    const csp = response.headers.get('content-security-policy')!;
    const nonce = csp.match(/script-src 'nonce-([0-9a-f]+)'/)![1]!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(html).toContain(`<script type="module" nonce="${nonce}">`);
    expect(html).toContain(`<style nonce="${nonce}">`);
    // No CDN, no web font, no remote anything: the only absolute URL is the SVG namespace.
    const urls = (html.match(/https?:\/\/[^\s"'<>)]+/g) ?? []).filter((u) => u !== 'http://www.w3.org/2000/svg');
    expect(urls).toEqual([]);
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)="(?!data:)/);
    // A fresh nonce per response.
    const again = (await page()).headers.get('content-security-policy');
    expect(again).not.toBe(csp);
  });

  it('asks for the token on the page and on its stream when one is configured', async () => {
    expect((await page({ token: 's3cret' })).status).toBe(401);
    expect((await page({ token: 's3cret' }, '/inspect/events')).status).toBe(401);
    expect((await page({ token: 's3cret' }, '/inspect?token=wrong')).status).toBe(401);
    const ok = await page({ token: 's3cret' }, '/inspect?token=s3cret');
    expect(ok.status).toBe(200);
    expect(await streamOf(ok)).toBe('/inspect/events?token=s3cret');
  });

  it('hands the token to its own stream however the page was authorised (EventSource cannot send a header)', async () => {
    const byHeader = await page({ token: 'a b&c' }, '/inspect', { headers: { Authorization: 'Bearer a b&c' } });
    expect(byHeader.status).toBe(200);
    expect(await streamOf(byHeader)).toBe('/inspect/events?token=a+b%26c');
    const stream = await page({ token: 'a b&c' }, '/inspect/events?token=a+b%26c');
    expect(stream.status).toBe(200);
    await stream.body!.cancel();
    // No token configured: none on the stream either.
    expect(await streamOf(await page())).toBe('/inspect/events');
  });

  it('names its stream under the path it was served at, parameters and all (the Worker\'s /inspect/<hub>)', async () => {
    const served = await page({ path: '/inspect/:hub', token: 't' }, '/inspect/room-1?token=t');
    expect(served.status).toBe(200);
    expect(await streamOf(served)).toBe('/inspect/room-1/events?token=t');
    expect((await page({ path: '/inspect/:hub' }, '/inspect')).status).toBe(404);
    const stream = await page({ path: '/inspect/:hub', token: 't' }, '/inspect/room-1/events?token=t');
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    await stream.body!.cancel();
  });

  it('runs the script compiled from the current client.ts (npm run build:inspector)', () => {
    expect(readFileSync(GENERATED, 'utf8')).toBe(compileClient());
  });
});

describe('the chart drawn at build time (the Worker\'s)', () => {
  it('is what the live layout draws for the current machine (npm run build:inspector)', async () => {
    expect(readFileSync(GENERATED_DRAWING, 'utf8')).toBe(await generateDrawing());
  });

  it('is refused for a machine it was not drawn from, with a page that says why', async () => {
    const toy = createMachine({ id: 'lamp', initial: 'off', states: { off: { on: { flip: 'on' } }, on: {} } });
    expect(pregenerated(KEEPALIVE_DRAWING, keepaliveMachine)).toBe(KEEPALIVE_DRAWING);
    expect(() => pregenerated(KEEPALIVE_DRAWING, toy)).toThrow(/stale: the machine "lamp" changed since it was drawn \(npm run build:inspector\)/);
    const host = new Host({ transport: { send() {}, close() {} } });
    const response = await serveInspector({ host, drawing: () => pregenerated(KEEPALIVE_DRAWING, toy) }).request('/inspect');
    expect(response.status).toBe(500);
    expect(((await response.json()) as { error: string }).error).toMatch(/^the chart could not be drawn: the pregenerated chart is stale/);
  });
});
