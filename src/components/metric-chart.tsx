import React, { useContext, useEffect, useRef } from 'react';
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import uPlot from 'uplot';

import {
  IChartData,
  IChartSeriesInput,
  XAxisMode,
  alignSeries,
  formatValue
} from './chart-data';
import { TranslationContext } from '../i18n';

/**
 * JupyterLab theme variables the series cycle through. Canvas cannot use
 * `var(...)`, so their computed values are read when the chart is built and
 * again when the theme changes: each theme defines them in its own tones.
 */
export const SERIES_COLOR_VARIABLES = [
  '--jp-brand-color1',
  '--jp-warn-color1',
  '--jp-success-color1',
  '--jp-error-color1',
  '--jp-mirror-editor-keyword-color',
  '--jp-mirror-editor-variable-2-color',
  '--jp-mirror-editor-number-color',
  '--jp-mirror-editor-string-color',
  '--jp-mirror-editor-builtin-color',
  '--jp-mirror-editor-atom-color'
];

// 1, 2, 5, 10, 20, 50, ... up to 50 million
const STEP_INCREMENTS: number[] = [];
for (let e = 0; e < 8; e++) {
  STEP_INCREMENTS.push(10 ** e, 2 * 10 ** e, 5 * 10 ** e);
}

/**
 * Colors and fonts of the chart, resolved from the theme's CSS variables.
 */
export interface IChartTheme {
  series: string[];
  axis: string;
  grid: string;
  font: string;
  labelFont: string;
}

/**
 * Resolve the chart's theme from the CSS variables in effect at `el`.
 */
export function readChartTheme(el: Element): IChartTheme {
  const style = getComputedStyle(el);
  // Outside JupyterLab (unit tests) the variables are undefined.
  const css = (name: string, fallback: string): string =>
    style.getPropertyValue(name).trim() || fallback;
  const family = css('--jp-ui-font-family', 'sans-serif');
  return {
    series: SERIES_COLOR_VARIABLES.map(v => css(v, '#808080')),
    axis: css('--jp-ui-font-color2', '#808080'),
    grid: css('--jp-border-color2', '#e0e0e0'),
    font: `${fontPx(el, '--jp-ui-font-size0', 11)}px ${family}`,
    labelFont: `${fontPx(el, '--jp-ui-font-size1', 13)}px ${family}`
  };
}

/**
 * A font-size variable in pixels: the theme's sizes are in `em`, but uPlot
 * scales canvas fonts by the pixel ratio and understands only `px`.
 */
function fontPx(el: Element, variable: string, fallback: number): number {
  const probe = document.createElement('span');
  probe.style.fontSize = `var(${variable})`;
  probe.style.position = 'absolute';
  probe.style.visibility = 'hidden';
  el.appendChild(probe);
  const px = parseFloat(getComputedStyle(probe).fontSize);
  probe.remove();
  return Number.isFinite(px) && px > 0 ? Math.round(px * 10) / 10 : fallback;
}

/**
 * What a chart shows.
 */
export interface IMetricChartOptions {
  series: IChartSeriesInput[];
  xAxis?: XAxisMode;
  /**
   * The y axis label, usually the metric's key.
   */
  yLabel?: string;
  /**
   * Height of the plotting area with its axes, in CSS pixels (the legend
   * comes below).
   */
  height?: number;
  /**
   * Called after each first draw with its duration in milliseconds.
   */
  onRender?: (ms: number) => void;
  /**
   * Translates the axis names (default: English).
   */
  trans?: TranslationBundle;
}

/**
 * A uPlot chart of metric series in a host element, themed, resize-aware and
 * timed. Usable from Lumino widgets as well as through `MetricChart`.
 */
export class MetricChartView {
  constructor(host: HTMLElement, options: IMetricChartOptions) {
    this._host = host;
    this._options = options;
    this._resizeObserver = new ResizeObserver(() => this._scheduleResize());
    this._resizeObserver.observe(host);
    // JupyterLab switches themes by changing this attribute on <body>.
    this._themeObserver = new MutationObserver(() => this._rebuild());
    this._themeObserver.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light']
    });
    this._rebuild();
  }

  /**
   * Milliseconds from receiving the series to the end of the first draw
   * (aligning the data, building the chart and drawing it); null until drawn.
   * Also written to the host's `data-render-ms` attribute.
   */
  get renderMs(): number | null {
    return this._renderMs;
  }

  /**
   * The aligned data last drawn.
   */
  get data(): IChartData | null {
    return this._data;
  }

  /**
   * The uPlot instance (null when there is nothing to draw).
   */
  get plot(): uPlot | null {
    return this._plot;
  }

  /**
   * Show other series or options.
   */
  update(options: IMetricChartOptions): void {
    this._options = options;
    this._rebuild();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._resizeObserver.disconnect();
    this._themeObserver.disconnect();
    if (this._frame !== null) {
      cancelAnimationFrame(this._frame);
    }
    this._plot?.destroy();
    this._plot = null;
  }

  private _rebuild(): void {
    if (this._disposed) {
      return;
    }
    const start = performance.now();
    this._renderMs = null;
    this._host.removeAttribute('data-render-ms');
    this._lastWidth = this._plot?.width ?? this._lastWidth;
    this._plot?.destroy();
    this._plot = null;
    const { series, xAxis = 'step', yLabel = '', height = 220 } = this._options;
    if (series.length === 0) {
      this._data = null;
      return;
    }
    const data = alignSeries(series, xAxis);
    this._data = data;
    const theme = readChartTheme(this._host);
    const trans = this._options.trans ?? nullTranslator.load('mlbench');
    const axis: uPlot.Axis = {
      stroke: theme.axis,
      font: theme.font,
      labelFont: theme.labelFont,
      grid: { stroke: theme.grid, width: 1 },
      ticks: { stroke: theme.grid, width: 1 }
    };
    const opts: uPlot.Options = {
      width: this._width(),
      height,
      // Many points per pixel: skip the point markers and pixel snapping.
      pxAlign: false,
      scales: { x: { time: xAxis === 'wall' } },
      axes: [
        {
          ...axis,
          // steps are whole numbers: no 0.5 ticks on a short run
          ...(xAxis === 'step' ? { incrs: STEP_INCREMENTS } : {}),
          label:
            xAxis === 'step'
              ? trans.__('step')
              : xAxis === 'relative'
                ? trans.__('seconds since start')
                : trans.__('time')
        },
        {
          ...axis,
          label: yLabel,
          values: (_u, ticks) => ticks.map(t => formatValue(t)),
          size: 56
        }
      ],
      series: [
        {
          label: xAxis === 'step' ? trans.__('step') : trans.__('time'),
          value: (_u, v) =>
            v === null
              ? '—'
              : xAxis === 'wall'
                ? new Date(v * 1000).toLocaleString()
                : formatValue(v)
        },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: theme.series[i % theme.series.length],
          width: 1.5,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => formatValue(v ?? undefined)
        }))
      ],
      legend: { live: true },
      cursor: { focus: { prox: 16 } },
      focus: { alpha: 0.3 },
      hooks: {
        draw: [
          () => {
            if (this._renderMs === null) {
              this._renderMs = performance.now() - start;
              this._host.setAttribute(
                'data-render-ms',
                this._renderMs.toFixed(1)
              );
              this._options.onRender?.(this._renderMs);
            }
          }
        ]
      }
    };
    this._plot = new uPlot(
      opts,
      [data.x, ...data.ys] as uPlot.AlignedData,
      this._host
    );
    // A rebuild during a theme switch can measure the host while the page
    // lays out without the theme's styles: check the width again once the
    // frame settles (the resize observer sees no change to report).
    this._scheduleResize();
  }

  private _width(): number {
    // A hidden host (a collapsed section) has no width yet: draw at a
    // default and let the resize observer fix it when it appears.
    return Math.max(this._host.clientWidth, 0) || this._lastWidth || 300;
  }

  private _scheduleResize(): void {
    // Coalesce bursts of resize events (panel drags) into one per frame.
    if (this._frame !== null || this._disposed) {
      return;
    }
    this._frame = requestAnimationFrame(() => {
      this._frame = null;
      const plot = this._plot;
      const width = this._host.clientWidth;
      if (plot && width > 0 && width !== plot.width) {
        plot.setSize({ width, height: plot.height });
      }
    });
  }

  private _host: HTMLElement;
  private _options: IMetricChartOptions;
  private _plot: uPlot | null = null;
  private _lastWidth = 0;
  private _data: IChartData | null = null;
  private _renderMs: number | null = null;
  private _frame: number | null = null;
  private _disposed = false;
  private _resizeObserver: ResizeObserver;
  private _themeObserver: MutationObserver;
}

/**
 * Properties of `MetricChart`.
 */
export interface IMetricChartProps extends IMetricChartOptions {
  /**
   * Accessible name of the chart, e.g. "loss of 3 runs".
   */
  label: string;
}

/**
 * A metric chart (one line per run) as a React component.
 */
export function MetricChart(props: IMetricChartProps): JSX.Element {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<MetricChartView | null>(null);
  const { series, xAxis, yLabel, height, onRender } = props;
  const trans = useContext(TranslationContext);

  useEffect(() => {
    return () => {
      view.current?.dispose();
      view.current = null;
    };
  }, []);

  useEffect(() => {
    if (!host.current) {
      return;
    }
    const options = { series, xAxis, yLabel, height, onRender, trans };
    if (view.current) {
      view.current.update(options);
    } else {
      view.current = new MetricChartView(host.current, options);
    }
  }, [series, xAxis, yLabel, height, trans]);

  return (
    <div
      ref={host}
      className="mlbench-MetricChart"
      role="figure"
      aria-label={props.label}
    />
  );
}
