/**
 * The Data section's logic, free of React so it is unit-tested directly:
 * sizes, "routes not available" detection, preview columns and the lineage
 * layout.
 */
import { MlbenchAPIError } from '../api';
import type {
  IColumnInfo,
  IDataPreview,
  ILineageGraph,
  ILineageNode
} from '../api';

/**
 * Whether an error means the server has no data routes (an mlbench from
 * before datastores: 501 "planned", or 404 from a server without them), as
 * opposed to a failure worth showing as an error.
 */
export function isDataUnavailable(error: unknown): boolean {
  if (!(error instanceof MlbenchAPIError)) {
    return false;
  }
  if (error.status === 501) {
    return true;
  }
  // A missing asset is a 404 too, but with its own code; an unknown route
  // answers `not_found` (mlbench's catch-all) or a plain HTTP 404.
  return (
    error.status === 404 &&
    (error.code === 'not_found' ||
      error.code === 'http_error' ||
      error.code === 'route_not_found')
  );
}

/**
 * A byte count for people: 1 KiB = 1024 bytes, three significant digits.
 */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) {
    return '';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0
    ? `${bytes} B`
    : `${Number(value.toPrecision(3))} ${units[unit]}`;
}

/**
 * The columns of a table preview: the schema when the server sent one,
 * else the keys of the rows in first-seen order.
 */
export function previewColumns(preview: IDataPreview): string[] {
  if (preview.columns && preview.columns.length > 0) {
    return preview.columns.map((c: IColumnInfo) => c.name);
  }
  const seen = new Set<string>();
  for (const row of preview.rows ?? []) {
    Object.keys(row).forEach(k => seen.add(k));
  }
  return [...seen];
}

/**
 * The text of a preview cell: JSON for structures, empty for null.
 */
export function previewCell(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (typeof value === 'object') {
    return JSON.stringify(value);
  }
  return String(value);
}

/**
 * A lineage graph laid out in levels: negative levels are upstream of the
 * root (what it was made from), positive downstream (what used it), 0 the
 * root itself. Each node sits at its shortest distance from the root.
 */
export interface ILineageLevel {
  level: number;
  nodes: ILineageNode[];
}

export function lineageLevels(graph: ILineageGraph): ILineageLevel[] {
  const byId = new Map(graph.nodes.map(n => [n.id, n]));
  const level = new Map<string, number>([[graph.root, 0]]);
  // Breadth-first in each direction so the distance is the shortest one.
  const walk = (forward: boolean) => {
    let frontier = [graph.root];
    let depth = 0;
    while (frontier.length > 0) {
      depth++;
      const next: string[] = [];
      for (const id of frontier) {
        for (const e of graph.edges) {
          const [from, to] = forward
            ? [e.source, e.target]
            : [e.target, e.source];
          if (from === id && !level.has(to)) {
            level.set(to, forward ? depth : -depth);
            next.push(to);
          }
        }
      }
      frontier = next;
    }
  };
  walk(false);
  walk(true);
  const levels = new Map<number, ILineageNode[]>();
  for (const [id, l] of level) {
    const node = byId.get(id);
    if (node) {
      levels.set(l, [...(levels.get(l) ?? []), node]);
    }
  }
  return [...levels.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([l, nodes]) => ({
      level: l,
      nodes: nodes.sort((a, b) => a.label.localeCompare(b.label))
    }));
}

/**
 * How a level of the lineage is titled.
 */
export function levelTitle(level: number): string {
  if (level === 0) {
    return 'This version';
  }
  const steps = Math.abs(level);
  const dir = level < 0 ? 'Upstream' : 'Downstream';
  return steps === 1 ? dir : `${dir} (${steps} steps)`;
}
