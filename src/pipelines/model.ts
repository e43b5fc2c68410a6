/**
 * What the pipeline views show, as pure functions: the DAG's layered
 * left-to-right layout, the edges with the data each carries, and a run's
 * progress (steps done of total, reused, duration).
 */
import {
  IPipelineRun,
  IPipelineRunInfo,
  IPipelineStep,
  StepStatus
} from '../api';

export const NODE_WIDTH = 168;
export const NODE_HEIGHT = 56;
export const LAYER_GAP = 64;
export const ROW_GAP = 20;
/** Barycenter passes that order each layer to uncross edges (down, then up). */
const ORDER_PASSES = 4;

export interface IGraphStep {
  name: string;
  depends_on: string[];
}

export interface INodeBox {
  name: string;
  layer: number;
  /** Position in its layer, top first. */
  row: number;
  x: number;
  y: number;
}

export interface IEdgeLine {
  from: string;
  to: string;
  /** What flows along it: `OUTPUT → INPUT` for each binding, or none (order only). */
  labels: string[];
  /** An SVG path from the right side of `from` to the left side of `to`. */
  path: string;
  /** The curve's middle, where its label goes. */
  mid: { x: number; y: number };
}

export interface IGraphLayout {
  nodes: Map<string, INodeBox>;
  edges: IEdgeLine[];
  width: number;
  height: number;
}

/**
 * Each step's layer: the longest path from a step with no upstream step
 * (so every edge goes left to right). Upstream names that are not steps are
 * ignored; a cycle (refused by the server) cannot loop here.
 */
export function layers(steps: IGraphStep[]): Map<string, number> {
  const byName = new Map(steps.map(s => [s.name, s]));
  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (name: string): number => {
    const known = layer.get(name);
    if (known !== undefined) {
      return known;
    }
    if (visiting.has(name)) {
      return 0;
    }
    visiting.add(name);
    let depth = 0;
    for (const up of byName.get(name)?.depends_on ?? []) {
      if (byName.has(up)) {
        depth = Math.max(depth, visit(up) + 1);
      }
    }
    visiting.delete(name);
    layer.set(name, depth);
    return depth;
  };
  for (const s of steps) {
    visit(s.name);
  }
  return layer;
}

/**
 * The layered layout: columns by `layers`, each column ordered by the mean
 * row of its neighbours (barycenter heuristic) so edges cross little, in the
 * pipeline's own order at first.
 */
export function layoutGraph(
  steps: IGraphStep[],
  labels: Map<string, string[]> = new Map()
): IGraphLayout {
  const layerOf = layers(steps);
  const known = new Set(steps.map(s => s.name));
  const columns: string[][] = [];
  for (const s of steps) {
    const l = layerOf.get(s.name) ?? 0;
    (columns[l] ??= []).push(s.name);
  }
  const ups = new Map<string, string[]>();
  const downs = new Map<string, string[]>();
  for (const s of steps) {
    const deps = s.depends_on.filter(d => known.has(d));
    ups.set(s.name, deps);
    for (const d of deps) {
      (downs.get(d) ?? downs.set(d, []).get(d)!).push(s.name);
    }
  }
  const rowOf = new Map<string, number>();
  const place = () =>
    columns.forEach(col => col.forEach((n, i) => rowOf.set(n, i)));
  place();
  for (let pass = 0; pass < ORDER_PASSES; pass++) {
    const forward = pass % 2 === 0;
    const order = forward
      ? columns.map((_, i) => i)
      : columns.map((_, i) => columns.length - 1 - i);
    for (const i of order) {
      const col = columns[i];
      if (!col) {
        continue;
      }
      const center = new Map<string, number>();
      col.forEach((n, at) => {
        const near = (forward ? ups : downs).get(n) ?? [];
        center.set(
          n,
          near.length
            ? near.reduce((sum, m) => sum + (rowOf.get(m) ?? 0), 0) /
                near.length
            : at
        );
      });
      // stable: ties keep their order
      col.sort((a, b) => center.get(a)! - center.get(b)!);
      col.forEach((n, at) => rowOf.set(n, at));
    }
  }
  const tallest = Math.max(0, ...columns.map(c => c?.length ?? 0));
  const nodes = new Map<string, INodeBox>();
  columns.forEach((col, layer) => {
    // a short column is centred against the tallest
    const offset = ((tallest - col.length) * (NODE_HEIGHT + ROW_GAP)) / 2;
    col.forEach((name, row) => {
      nodes.set(name, {
        name,
        layer,
        row,
        x: layer * (NODE_WIDTH + LAYER_GAP),
        y: offset + row * (NODE_HEIGHT + ROW_GAP)
      });
    });
  });
  const edges: IEdgeLine[] = [];
  for (const s of steps) {
    const to = nodes.get(s.name)!;
    for (const d of ups.get(s.name) ?? []) {
      const from = nodes.get(d)!;
      const x1 = from.x + NODE_WIDTH;
      const y1 = from.y + NODE_HEIGHT / 2;
      const x2 = to.x;
      const y2 = to.y + NODE_HEIGHT / 2;
      const bend = (x2 - x1) / 2;
      edges.push({
        from: d,
        to: s.name,
        labels: labels.get(`${d}\u0000${s.name}`) ?? [],
        path: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`,
        mid: { x: (x1 + x2) / 2, y: (y1 + y2) / 2 }
      });
    }
  }
  return {
    nodes,
    edges,
    width: columns.length
      ? columns.length * NODE_WIDTH + (columns.length - 1) * LAYER_GAP
      : 0,
    height: tallest ? tallest * NODE_HEIGHT + (tallest - 1) * ROW_GAP : 0
  };
}

const STEP_OUTPUT =
  /^\$\{\{\s*parent\.jobs\.([^.\s}]+)\.outputs\.([^.\s}]+)\s*\}\}$/;

/**
 * The data bindings of a run's spec, by edge (`FROM\0TO`): `OUTPUT → INPUT`.
 */
export function bindingLabels(run: IPipelineRun): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, step] of Object.entries(run.spec.jobs)) {
    for (const [input, value] of Object.entries(step.inputs ?? {})) {
      const m = typeof value === 'string' ? STEP_OUTPUT.exec(value) : null;
      if (m) {
        const key = `${m[1]}\u0000${name}`;
        (out.get(key) ?? out.set(key, []).get(key)!).push(`${m[2]} → ${input}`);
      }
    }
  }
  return out;
}

/** Step states that will not change. */
const FINAL_STEP: readonly StepStatus[] = [
  'completed',
  'reused',
  'failed',
  'canceled',
  'skipped',
  'excluded'
];

export function isStepFinal(status: StepStatus): boolean {
  return FINAL_STEP.includes(status);
}

/** A step that has a job to open: its own, or the one it reused. */
export function stepJob(step: IPipelineStep): string | null {
  return step.job_id ?? step.reused_from_job ?? null;
}

/**
 * Steps done (finished, whatever the outcome) of the run's total, and how
 * many were reused; excluded steps are not part of the run.
 */
export function runProgress(run: IPipelineRunInfo): {
  done: number;
  total: number;
  reused: number;
} {
  const c = run.counts ?? {};
  const done =
    (c.completed ?? 0) +
    (c.reused ?? 0) +
    (c.failed ?? 0) +
    (c.canceled ?? 0) +
    (c.skipped ?? 0);
  return {
    done,
    total: done + (c.pending ?? 0) + (c.running ?? 0),
    reused: c.reused ?? 0
  };
}

/**
 * Seconds from start to finish, or to `now` while it runs; null before it starts.
 */
export function elapsedSeconds(
  item: { started_at?: string | null; finished_at?: string | null },
  now: number = Date.now()
): number | null {
  if (!item.started_at) {
    return null;
  }
  const start = Date.parse(item.started_at);
  const end = item.finished_at ? Date.parse(item.finished_at) : now;
  return Math.max(0, (end - start) / 1000);
}
