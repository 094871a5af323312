/**
 * A V8 `.heapsnapshot` read into flat arrays, with what a memory breakdown needs: each
 * object's class, its self size, and its retained size (what would be freed with it: the
 * sum over the objects it dominates). Dominators by Cooper, Harvey and Kennedy's
 * iterative algorithm over reverse postorder, weak edges left out, as DevTools does.
 */
import { readFile } from 'node:fs/promises';

interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] }; node_count: number };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export class HeapSnapshot {
  readonly count: number;
  /** Per node: index into `classes`. */
  readonly classOf: Uint32Array;
  readonly selfSize: Float64Array;
  readonly retained: Float64Array;
  /** Per node: its immediate dominator (the root's is itself). */
  readonly idom: Uint32Array;
  readonly classes: string[];
  /** Per node: 1 if reachable from the root along strong edges. */
  readonly reachable: Uint8Array;

  private constructor(raw: RawSnapshot) {
    const meta = raw.snapshot.meta;
    const nodeWidth = meta.node_fields.length;
    const edgeWidth = meta.edge_fields.length;
    const [typeAt, nameAt, sizeAt, edgesAt] = ['type', 'name', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f)) as [number, number, number, number];
    const [edgeTypeAt, toAt] = ['type', 'to_node'].map((f) => meta.edge_fields.indexOf(f)) as [number, number];
    const nodeTypes = meta.node_types[0];
    const weak = meta.edge_types[0].indexOf('weak');
    const shortcut = meta.edge_types[0].indexOf('shortcut');
    const n = (this.count = raw.nodes.length / nodeWidth);
    const { nodes, edges, strings } = raw;

    // Class names: an object's constructor, a closure's function, else the node type.
    const classIndex = new Map<string, number>();
    this.classes = [];
    this.classOf = new Uint32Array(n);
    this.selfSize = new Float64Array(n);
    const firstEdge = new Uint32Array(n + 1);
    for (let i = 0, e = 0; i < n; i++) {
      const type = nodeTypes[nodes[i * nodeWidth + typeAt]!]!;
      const name = strings[nodes[i * nodeWidth + nameAt]!]!;
      const label = type === 'object' || type === 'native' ? name : type === 'closure' ? `closure ${name || '(anonymous)'}` : `(${type})`;
      let c = classIndex.get(label);
      if (c === undefined) classIndex.set(label, (c = this.classes.push(label) - 1));
      this.classOf[i] = c;
      this.selfSize[i] = nodes[i * nodeWidth + sizeAt]!;
      firstEdge[i] = e;
      e += nodes[i * nodeWidth + edgesAt]!;
      firstEdge[i + 1] = e;
    }
    const target = (e: number) => edges[e * edgeWidth + toAt]! / nodeWidth;
    const followed = (e: number) => {
      const type = edges[e * edgeWidth + edgeTypeAt];
      return type !== weak && type !== shortcut;
    };

    // Postorder from the root (node 0), iteratively.
    const order = new Uint32Array(n); // postorder number -> node
    const post = new Int32Array(n).fill(-1); // node -> postorder number
    const visited = new Uint8Array(n);
    const stack = new Uint32Array(n);
    const cursor = new Uint32Array(n);
    let top = 0;
    let counter = 0;
    stack[0] = 0;
    visited[0] = 1;
    cursor[0] = firstEdge[0]!;
    while (top >= 0) {
      const v = stack[top]!;
      if (cursor[v]! < firstEdge[v + 1]!) {
        const e = cursor[v]!++;
        if (!followed(e)) continue;
        const w = target(e);
        if (visited[w]) continue;
        visited[w] = 1;
        cursor[w] = firstEdge[w]!;
        stack[++top] = w;
      } else {
        post[v] = counter;
        order[counter++] = v;
        top--;
      }
    }

    // Predecessors of reachable nodes, as CSR.
    const predCount = new Uint32Array(n + 1);
    for (let v = 0; v < n; v++) {
      if (post[v]! < 0) continue;
      for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e++) if (followed(e)) predCount[target(e) + 1]!++;
    }
    for (let v = 0; v < n; v++) predCount[v + 1]! += predCount[v]!;
    const preds = new Uint32Array(predCount[n]!);
    const fill = predCount.slice(0, n);
    for (let v = 0; v < n; v++) {
      if (post[v]! < 0) continue;
      for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e++) if (followed(e)) preds[fill[target(e)]!++] = v;
    }

    // Dominators, in postorder numbers; -1: not yet known.
    const dom = new Int32Array(counter).fill(-1);
    const root = counter - 1;
    dom[root] = root;
    const intersect = (a: number, b: number) => {
      while (a !== b) {
        while (a < b) a = dom[a]!;
        while (b < a) b = dom[b]!;
      }
      return a;
    };
    for (let changed = true; changed; ) {
      changed = false;
      for (let p = root - 1; p >= 0; p--) {
        const v = order[p]!;
        let idom = -1;
        for (let k = predCount[v]!; k < predCount[v + 1]!; k++) {
          const q = post[preds[k]!]!;
          if (dom[q] === -1) continue;
          idom = idom === -1 ? q : intersect(q, idom);
        }
        if (idom !== -1 && dom[p] !== idom) {
          dom[p] = idom;
          changed = true;
        }
      }
    }

    this.reachable = visited;
    this.idom = new Uint32Array(n);
    this.retained = new Float64Array(n);
    for (let p = 0; p < counter; p++) this.retained[order[p]!] = this.selfSize[order[p]!]!;
    // Children before their dominators: postorder.
    for (let p = 0; p < root; p++) {
      const v = order[p]!;
      const d = order[dom[p]!]!;
      this.idom[v] = d;
      this.retained[d]! += this.retained[v]!;
    }
  }

  static async read(path: string): Promise<HeapSnapshot> {
    return new HeapSnapshot(JSON.parse(await readFile(path, 'utf8')) as RawSnapshot);
  }

  /** Bytes and objects per class, over every reachable object. */
  byClass(): Map<string, { count: number; bytes: number }> {
    const out = new Map<string, { count: number; bytes: number }>();
    for (let v = 0; v < this.count; v++) {
      if (!this.reachable[v]) continue;
      const name = this.classes[this.classOf[v]!]!;
      const row = out.get(name) ?? { count: 0, bytes: 0 };
      row.count++;
      row.bytes += this.selfSize[v]!;
      out.set(name, row);
    }
    return out;
  }

  /**
   * Objects that come many to one dominator (a collection's backing store holding each
   * connection's object): per (dominator, class) with at least `min` of them, how many and
   * their mean retained size.
   */
  populations(min: number): { class: string; holder: string; count: number; retainedEach: number }[] {
    const key = (v: number) => `${this.idom[v]}:${this.classOf[v]}`;
    const counts = new Map<string, { count: number; retained: number; v: number }>();
    for (let v = 1; v < this.count; v++) {
      if (!this.reachable[v]) continue;
      const k = key(v);
      const row = counts.get(k) ?? { count: 0, retained: 0, v };
      row.count++;
      row.retained += this.retained[v]!;
      counts.set(k, row);
    }
    return [...counts.values()]
      .filter((row) => row.count >= min)
      .map((row) => ({ class: this.classes[this.classOf[row.v]!]!, holder: this.classes[this.classOf[this.idom[row.v]!]!]!, count: row.count, retainedEach: row.retained / row.count }))
      .sort((a, b) => b.retainedEach * b.count - a.retainedEach * a.count);
  }
}
