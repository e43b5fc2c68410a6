/**
 * Turning metric series into the column-aligned arrays uPlot draws.
 *
 * Kept apart from the chart widget so the data logic is unit-tested without
 * a canvas.
 */

/**
 * What the x axis shows: the step, seconds since each run's first point, or
 * wall-clock time.
 */
export type XAxisMode = 'step' | 'relative' | 'wall';

/**
 * One line on the chart: the columnar shape of the server's `MetricSeries`
 * (same-length arrays), plus a label. `null` values are NaN or infinities.
 */
export interface IChartSeriesInput {
  label: string;
  steps: ArrayLike<number>;
  values: ArrayLike<number | null>;
  /**
   * Milliseconds since the epoch.
   */
  timestamps: ArrayLike<number>;
}

/**
 * uPlot's aligned data: one shared, ascending x column and one y column per
 * series. In a y column `undefined` means "this series has no point at this
 * x" (uPlot draws across it) and `null` a NaN/infinity (a gap in the line).
 */
export interface IChartData {
  x: Float64Array;
  ys: (number | null | undefined)[][];
  /**
   * Points drawn, all series together.
   */
  points: number;
}

/**
 * The x values of one series in the given mode: steps as they are, times in
 * seconds (uPlot's time scale counts seconds).
 */
export function xValues(
  series: IChartSeriesInput,
  mode: XAxisMode
): Float64Array {
  const n = series.steps.length;
  const x = new Float64Array(n);
  if (mode === 'step') {
    for (let i = 0; i < n; i++) {
      x[i] = series.steps[i];
    }
    return x;
  }
  let origin = 0;
  if (mode === 'relative' && n > 0) {
    // The first point in time, which need not be the first by step.
    origin = Infinity;
    for (let i = 0; i < n; i++) {
      origin = Math.min(origin, series.timestamps[i]);
    }
  }
  for (let i = 0; i < n; i++) {
    x[i] = (series.timestamps[i] - origin) / 1000;
  }
  return x;
}

/**
 * The indices of `x` in ascending order of x, stably; `null` when x is
 * already non-decreasing (the server orders by step, so the common case
 * costs one pass and no copy).
 */
export function ascendingOrder(x: ArrayLike<number>): Uint32Array | null {
  let sorted = true;
  for (let i = 1; i < x.length; i++) {
    if (x[i] < x[i - 1]) {
      sorted = false;
      break;
    }
  }
  if (sorted) {
    return null;
  }
  const order = new Uint32Array(x.length);
  for (let i = 0; i < order.length; i++) {
    order[i] = i;
  }
  // Array.prototype.sort is stable, so equal x keep their logged order.
  return Uint32Array.from(Array.from(order).sort((a, b) => x[a] - x[b]));
}

/**
 * Align several series on one x column.
 *
 * The x column is the multiset union of the series' x values: an x that
 * appears c times in some series appears max(c) times, so no point is
 * dropped — in particular the minimum and maximum the server keeps for each
 * downsampling bucket both survive, even when they share a step. Runs that
 * share their steps (the usual case) give an x column as long as one run.
 * Linear in the total number of points times the number of series.
 */
export function alignSeries(
  series: IChartSeriesInput[],
  mode: XAxisMode = 'step'
): IChartData {
  const k = series.length;
  const xs: Float64Array[] = [];
  const vs: ArrayLike<number | null>[] = [];
  let points = 0;
  for (const s of series) {
    const x = xValues(s, mode);
    const order = ascendingOrder(x);
    if (order === null) {
      xs.push(x);
      vs.push(s.values);
    } else {
      xs.push(Float64Array.from(order, i => x[i]));
      vs.push(Array.from(order, i => s.values[i]));
    }
    points += x.length;
  }

  if (xs.every(x => sameValues(x, xs[0]))) {
    // The usual case (runs of one notebook log the same steps): no merge.
    return {
      x: xs[0],
      ys: vs.map(v => (Array.isArray(v) ? v : Array.from(v))),
      points
    };
  }

  // Worst case every point has its own x.
  const out = new Float64Array(points);
  const ys: (number | null | undefined)[][] = series.map(() => []);
  const pos = new Array<number>(k).fill(0);
  const runs = new Array<number>(k).fill(0);
  let n = 0;
  for (;;) {
    let v = Infinity;
    let done = true;
    for (let j = 0; j < k; j++) {
      if (pos[j] < xs[j].length) {
        done = false;
        if (xs[j][pos[j]] < v) {
          v = xs[j][pos[j]];
        }
      }
    }
    if (done) {
      break;
    }
    let slots = 0;
    for (let j = 0; j < k; j++) {
      let c = 0;
      const x = xs[j];
      while (pos[j] + c < x.length && x[pos[j] + c] === v) {
        c++;
      }
      runs[j] = c;
      slots = Math.max(slots, c);
    }
    for (let s = 0; s < slots; s++) {
      out[n + s] = v;
    }
    for (let j = 0; j < k; j++) {
      const y = ys[j];
      const c = runs[j];
      for (let s = 0; s < slots; s++) {
        y[n + s] = s < c ? vs[j][pos[j] + s] : undefined;
      }
      pos[j] += c;
    }
    n += slots;
  }
  return { x: out.subarray(0, n), ys, points };
}

/**
 * The x axis that suits some series: by step, unless every series logged all
 * its points at one step (`mlflow.log_metric` without `step` logs step 0),
 * where only time tells the points apart.
 */
export function preferredXAxis(series: IChartSeriesInput[]): XAxisMode {
  let points = 0;
  for (const s of series) {
    points += s.steps.length;
    for (let i = 1; i < s.steps.length; i++) {
      if (s.steps[i] !== s.steps[0]) {
        return 'step';
      }
    }
  }
  return points > series.length ? 'relative' : 'step';
}

function sameValues(a: Float64Array, b: Float64Array): boolean {
  if (a === b) {
    return true;
  }
  if (a.length !== b.length) {
    return false;
  }
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      return false;
    }
  }
  return true;
}

/**
 * Labels for runs, unique: a run name shared by several runs gets the
 * start of its run id appended.
 */
export function runLabels(
  runs: { run_id: string; run_name: string }[]
): string[] {
  const counts = new Map<string, number>();
  for (const r of runs) {
    const name = r.run_name || r.run_id.slice(0, 8);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return runs.map(r => {
    const name = r.run_name || r.run_id.slice(0, 8);
    return (counts.get(name) ?? 0) > 1
      ? `${name} (${r.run_id.slice(0, 8)})`
      : name;
  });
}

/**
 * Format a metric value compactly for legends and table cells.
 */
export function formatValue(v: number | null | undefined): string {
  if (v === null) {
    return 'NaN';
  }
  if (v === undefined || Number.isNaN(v)) {
    return '—';
  }
  if (Number.isInteger(v) && Math.abs(v) < 1e15) {
    return String(v);
  }
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) {
    return v.toExponential(3);
  }
  return String(Number(v.toPrecision(4)));
}
