import {
  IChartSeriesInput,
  alignSeries,
  ascendingOrder,
  formatValue,
  preferredXAxis,
  runLabels,
  xValues
} from '../components/chart-data';

function series(
  label: string,
  steps: number[],
  values: (number | null)[],
  timestamps?: number[]
): IChartSeriesInput {
  return {
    label,
    steps,
    values,
    timestamps: timestamps ?? steps.map(s => 1_700_000_000_000 + s * 1000)
  };
}

/**
 * Min/max-bucket downsampling as the server documents it (API.md): first
 * and last point, then each bucket's smallest and largest value, in index
 * order. Written here to produce series of the shape the chart receives.
 */
function downsample(values: number[], maxPoints: number): number[] {
  const n = values.length;
  if (n <= maxPoints) {
    return values.map((_, i) => i);
  }
  const buckets = Math.floor((maxPoints - 2) / 2);
  const size = Math.ceil((n - 2) / buckets);
  const picked = new Set<number>([0, n - 1]);
  for (let start = 1; start < n - 1; start += size) {
    let lo = start;
    let hi = start;
    for (let i = start; i < Math.min(start + size, n - 1); i++) {
      if (values[i] < values[lo]) {
        lo = i;
      }
      if (values[i] > values[hi]) {
        hi = i;
      }
    }
    picked.add(lo);
    picked.add(hi);
  }
  return [...picked].sort((a, b) => a - b);
}

function definedValues(ys: (number | null | undefined)[]): number[] {
  return ys.filter((v): v is number => typeof v === 'number');
}

describe('xValues', () => {
  const s = series('a', [0, 1, 2], [1, 2, 3], [5000, 6000, 8500]);

  it('uses steps as they are', () => {
    expect(Array.from(xValues(s, 'step'))).toEqual([0, 1, 2]);
  });

  it('counts wall time in seconds (uPlot time scale)', () => {
    expect(Array.from(xValues(s, 'wall'))).toEqual([5, 6, 8.5]);
  });

  it('counts relative time from the earliest point, not the first', () => {
    const late = series('b', [0, 1], [1, 2], [9000, 4000]);
    expect(Array.from(xValues(late, 'relative'))).toEqual([5, 0]);
  });
});

describe('ascendingOrder', () => {
  it('costs nothing for sorted input', () => {
    expect(ascendingOrder([1, 2, 2, 3])).toBeNull();
  });

  it('sorts stably', () => {
    expect(Array.from(ascendingOrder([3, 1, 2, 1])!)).toEqual([1, 3, 2, 0]);
  });
});

describe('alignSeries', () => {
  it('shares the x column of runs with the same steps', () => {
    const a = series('a', [0, 1, 2], [3, 2, 1]);
    const b = series('b', [0, 1, 2], [4, 5, 6]);

    const data = alignSeries([a, b]);

    expect(Array.from(data.x)).toEqual([0, 1, 2]);
    expect(data.ys).toEqual([
      [3, 2, 1],
      [4, 5, 6]
    ]);
    expect(data.points).toBe(6);
  });

  it('unions different steps, leaving undefined where a run has no point', () => {
    const a = series('a', [0, 2, 4], [1, 2, 3]);
    const b = series('b', [1, 2, 5], [7, 8, 9]);

    const data = alignSeries([a, b]);

    expect(Array.from(data.x)).toEqual([0, 1, 2, 4, 5]);
    expect(data.ys[0]).toEqual([1, undefined, 2, 3, undefined]);
    expect(data.ys[1]).toEqual([undefined, 7, 8, undefined, 9]);
  });

  it('keeps NaN/infinity (null) as gaps, distinct from missing points', () => {
    const data = alignSeries([series('a', [0, 1, 2], [1, null, 3])]);
    expect(data.ys[0]).toEqual([1, null, 3]);
  });

  it('keeps every point logged at one step (multiset union)', () => {
    // Two values at step 1 in run a, one in run b: two slots at x = 1.
    const a = series('a', [0, 1, 1, 2], [5, 9, -9, 5]);
    const b = series('b', [1, 2], [0, 1]);

    const data = alignSeries([a, b]);

    expect(Array.from(data.x)).toEqual([0, 1, 1, 2]);
    expect(data.ys[0]).toEqual([5, 9, -9, 5]);
    expect(data.ys[1]).toEqual([undefined, 0, undefined, 1]);
  });

  it('sorts by time when time does not follow the step order', () => {
    const s = series('a', [0, 1, 2], [10, 20, 30], [3000, 1000, 2000]);

    const data = alignSeries([s], 'wall');

    expect(Array.from(data.x)).toEqual([1, 2, 3]);
    expect(data.ys[0]).toEqual([20, 30, 10]);
  });

  it('keeps the extremes of independently downsampled runs', () => {
    // Runs of different lengths downsample to different steps: their union
    // must still hold each run's every kept point, minimum and maximum too.
    const runs = [100_000, 73_000].map((n, r) => {
      const values = Array.from(
        { length: n },
        (_, i) => Math.sin(i / (500 + r * 77)) * (1 + (i % 997) / 997)
      );
      const kept = downsample(values, 2000);
      return {
        values,
        input: series(
          `run ${r}`,
          kept.map(i => i),
          kept.map(i => values[i])
        )
      };
    });

    const data = alignSeries(runs.map(r => r.input));

    runs.forEach((run, j) => {
      expect(run.input.steps.length).toBeLessThanOrEqual(2000);
      const ys = definedValues(data.ys[j]);
      expect(ys).toHaveLength(run.input.steps.length);
      expect(Math.max(...ys)).toBe(Math.max(...run.values));
      expect(Math.min(...ys)).toBe(Math.min(...run.values));
    });
    // Strictly ascending here: no step repeats within a run.
    for (let i = 1; i < data.x.length; i++) {
      expect(data.x[i]).toBeGreaterThan(data.x[i - 1]);
    }
  });

  it('aligns 4 runs x 100,000 points quickly', () => {
    const n = 100_000;
    const steps = Array.from({ length: n }, (_, i) => i);
    const input = [0, 1, 2, 3].map(r =>
      series(
        `run ${r}`,
        steps,
        steps.map(i => Math.exp(-i / 20_000) + r * 0.1)
      )
    );

    const start = performance.now();
    const data = alignSeries(input);
    const ms = performance.now() - start;

    expect(data.x.length).toBe(n);
    expect(data.points).toBe(4 * n);
    // The chart's whole budget is 300 ms; alignment must be a small part
    // of it even on a slow shared machine.
    expect(ms).toBeLessThan(250);
  });
});

describe('preferredXAxis', () => {
  it('is the step when steps vary', () => {
    expect(preferredXAxis([series('a', [0, 1], [1, 2])])).toBe('step');
  });

  it('is relative time when every point sits at one step', () => {
    expect(
      preferredXAxis([series('a', [0, 0, 0], [1, 2, 3], [1000, 2000, 3000])])
    ).toBe('relative');
  });

  it('is the step for single points', () => {
    expect(preferredXAxis([series('a', [0], [1])])).toBe('step');
  });
});

describe('runLabels', () => {
  it('names runs, disambiguating shared names by id', () => {
    expect(
      runLabels([
        { run_id: 'aaaaaaaa1111', run_name: 'train' },
        { run_id: 'bbbbbbbb2222', run_name: 'train' },
        { run_id: 'cccccccc3333', run_name: 'other' },
        { run_id: 'dddddddd4444', run_name: '' }
      ])
    ).toEqual(['train (aaaaaaaa)', 'train (bbbbbbbb)', 'other', 'dddddddd']);
  });
});

describe('formatValue', () => {
  it.each([
    [null, 'NaN'],
    [undefined, '—'],
    [3, '3'],
    [0.123456, '0.1235'],
    [0.0000123, '1.230e-5'],
    [12345678.9, '1.235e+7'],
    [0, '0']
  ])('%p -> %p', (v, text) => {
    expect(formatValue(v)).toBe(text);
  });
});
