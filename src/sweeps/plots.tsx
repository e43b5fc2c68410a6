/**
 * The sweep view's two plots, hand-rolled SVG (no chart library): parallel
 * coordinates of parameters vs objective, and the primary metric's curve of
 * each trial. Colours are the theme's variables, so light and dark both work.
 */
import React, { useMemo, useState } from 'react';

import { IMetricSeries, ITrial } from '../api';
import { useTrans } from '../i18n';
import {
  Goal,
  IAxis,
  axisPosition,
  cellText,
  cellValue,
  formatValue,
  goodness,
  goodnessColor,
  terminationText
} from './model';

const PC_HEIGHT = 260;
const PC_PAD_TOP = 28;
const PC_PAD_BOTTOM = 24;
const PC_AXIS_GAP = 150;
const PC_PAD_LEFT = 72;
const PC_PAD_RIGHT = 24;

function axisTicks(axis: IAxis): { pos: number; text: string }[] {
  if (axis.kind === 'categorical') {
    return axis.categories.map(c => ({
      pos: axisPosition(axis, c === '' ? undefined : c) ?? 0,
      text: c
    }));
  }
  const out: { pos: number; text: string }[] = [];
  for (let i = 0; i <= 4; i++) {
    const f = i / 4;
    const v =
      axis.kind === 'log'
        ? Math.exp(
            Math.log(axis.min) + f * (Math.log(axis.max) - Math.log(axis.min))
          )
        : axis.min + f * (axis.max - axis.min);
    out.push({ pos: f, text: formatValue(v) });
    if (axis.max === axis.min) {
      break;
    }
  }
  return out;
}

/**
 * One polyline per trial across one axis per parameter plus the objective.
 */
export function ParallelCoordinates(props: {
  axes: IAxis[];
  trials: ITrial[];
  goal: Goal;
  best: number | null;
  onOpen(trial: ITrial): void;
}): JSX.Element {
  const { axes, trials, goal, best, onOpen } = props;
  const trans = useTrans();
  const [hover, setHover] = useState<number | null>(null);
  const width =
    PC_PAD_LEFT + PC_PAD_RIGHT + PC_AXIS_GAP * Math.max(axes.length - 1, 1);
  const plotH = PC_HEIGHT - PC_PAD_TOP - PC_PAD_BOTTOM;
  const objective = axes[axes.length - 1];
  const x = (i: number) => PC_PAD_LEFT + i * PC_AXIS_GAP;
  const y = (f: number) => PC_PAD_TOP + (1 - f) * plotH;

  const lines = useMemo(() => {
    const out: { trial: ITrial; d: string; color: string; g: number }[] = [];
    for (const trial of trials) {
      let d = '';
      let pen = false;
      axes.forEach((axis, i) => {
        const column =
          axis.id === 'value'
            ? ({ id: 'value', label: '', kind: 'objective' } as const)
            : ({
                id: axis.id,
                label: axis.label,
                kind: 'param',
                name: axis.label
              } as const);
        const f = axisPosition(axis, cellValue(trial, column));
        if (f === null) {
          pen = false;
          return;
        }
        d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)} ${y(f).toFixed(1)}`;
        pen = true;
      });
      const g = goodness(trial.value, objective.min, objective.max, goal);
      out.push({ trial, d, color: goodnessColor(g), g: g ?? -1 });
    }
    // the best on top
    return out.sort((a, b) => a.g - b.g);
  }, [axes, trials, goal]);

  const hovered =
    hover === null ? null : (trials.find(t => t.index === hover) ?? null);
  return (
    <div className="mlbench-ParallelCoords-box">
      <svg
        className="mlbench-ParallelCoords"
        viewBox={`0 0 ${width} ${PC_HEIGHT}`}
        preserveAspectRatio="xMinYMin meet"
        role="img"
        aria-label={trans.__(
          'Parallel coordinates of %1 trials: %2',
          trials.length,
          axes.map(a => a.label).join(', ')
        )}
        style={{ maxWidth: width }}
      >
        <g className="mlbench-ParallelCoords-lines">
          {lines.map(({ trial, d, color }) => (
            <path
              key={trial.index}
              d={d}
              data-trial={trial.index}
              className={
                'mlbench-ParallelCoords-line' +
                (trial.index === best ? ' mlbench-mod-best' : '') +
                (trial.status === 'early_terminated'
                  ? ' mlbench-mod-early_terminated'
                  : '') +
                (trial.index === hover ? ' mlbench-mod-hover' : '')
              }
              style={{ stroke: color }}
              onMouseEnter={() => setHover(trial.index)}
              onMouseLeave={() => setHover(null)}
              onClick={() => onOpen(trial)}
            />
          ))}
        </g>
        {axes.map((axis, i) => (
          <g
            key={axis.id}
            className="mlbench-ParallelCoords-axis"
            data-axis={axis.id}
            data-kind={axis.kind}
          >
            <line x1={x(i)} x2={x(i)} y1={y(0)} y2={y(1)} />
            <text
              className="mlbench-ParallelCoords-label"
              x={x(i)}
              y={PC_PAD_TOP - 12}
              textAnchor="middle"
            >
              {axis.label}
              {axis.kind === 'log' ? ` ${trans.__('(log)')}` : ''}
            </text>
            {axisTicks(axis).map(t => (
              <text
                key={t.text + t.pos}
                className="mlbench-ParallelCoords-tick"
                x={x(i) - 4}
                y={y(t.pos) + 3}
                textAnchor="end"
              >
                {t.text}
              </text>
            ))}
          </g>
        ))}
      </svg>
      <div className="mlbench-ParallelCoords-hover" aria-live="polite">
        {hovered
          ? trans.__('Trial %1', hovered.index) +
            ': ' +
            axes
              .slice(0, -1)
              .map(a => `${a.label}=${cellText(hovered.parameters[a.label])}`)
              .join(', ') +
            ` → ${objective.label}=${cellText(hovered.value)}` +
            (hovered.termination ? ` (${terminationText(hovered)})` : '')
          : trans.__('Point at a line to read its trial; click to open it.')}
      </div>
    </div>
  );
}

const CV_WIDTH = 720;
const CV_HEIGHT = 240;
const CV_PAD = { left: 56, right: 16, top: 12, bottom: 28 };

/**
 * The primary metric against the step, one line per trial; early-terminated
 * trials dashed and crossed where they stopped, the best trial thick.
 */
export function TrialCurves(props: {
  trials: ITrial[];
  curves: Map<number, IMetricSeries>;
  metric: string;
  goal: Goal;
  best: number | null;
  onOpen(trial: ITrial): void;
}): JSX.Element {
  const { trials, curves, metric, goal, best, onOpen } = props;
  const trans = useTrans();
  const drawn = useMemo(() => {
    let xMin = Infinity;
    let xMax = -Infinity;
    let yMin = Infinity;
    let yMax = -Infinity;
    let vMin = Infinity;
    let vMax = -Infinity;
    const present: { trial: ITrial; series: IMetricSeries }[] = [];
    for (const trial of trials) {
      const series = curves.get(trial.index);
      if (!series || !series.steps.length) {
        continue;
      }
      present.push({ trial, series });
      for (let i = 0; i < series.steps.length; i++) {
        const v = series.values[i];
        if (v === null || v === undefined || !Number.isFinite(v)) {
          continue;
        }
        xMin = Math.min(xMin, series.steps[i]);
        xMax = Math.max(xMax, series.steps[i]);
        yMin = Math.min(yMin, v);
        yMax = Math.max(yMax, v);
      }
      if (typeof trial.value === 'number') {
        vMin = Math.min(vMin, trial.value);
        vMax = Math.max(vMax, trial.value);
      }
    }
    if (!present.length || xMin > xMax) {
      return null;
    }
    if (xMax === xMin) {
      xMax = xMin + 1;
    }
    if (yMax === yMin) {
      yMax = yMin + 1;
    }
    const w = CV_WIDTH - CV_PAD.left - CV_PAD.right;
    const h = CV_HEIGHT - CV_PAD.top - CV_PAD.bottom;
    const sx = (s: number) => CV_PAD.left + ((s - xMin) / (xMax - xMin)) * w;
    const sy = (v: number) => CV_PAD.top + (1 - (v - yMin) / (yMax - yMin)) * h;
    const lines = present.map(({ trial, series }) => {
      let d = '';
      let pen = false;
      let last: [number, number] | null = null;
      for (let i = 0; i < series.steps.length; i++) {
        const v = series.values[i];
        if (v === null || v === undefined || !Number.isFinite(v)) {
          pen = false;
          continue;
        }
        const px = sx(series.steps[i]);
        const py = sy(v);
        d += `${pen ? 'L' : 'M'}${px.toFixed(1)} ${py.toFixed(1)}`;
        pen = true;
        last = [px, py];
      }
      const g = goodness(trial.value, vMin, vMax, goal);
      return { trial, d, last, color: goodnessColor(g), g: g ?? -1 };
    });
    lines.sort((a, b) => a.g - b.g);
    const yTicks = [0, 0.25, 0.5, 0.75, 1].map(f => ({
      y: CV_PAD.top + (1 - f) * h,
      text: formatValue(yMin + f * (yMax - yMin))
    }));
    const xTicks = [0, 0.5, 1].map(f => ({
      x: CV_PAD.left + f * w,
      text: formatValue(Math.round(xMin + f * (xMax - xMin)))
    }));
    return { lines, yTicks, xTicks };
  }, [trials, curves, goal]);

  if (!drawn) {
    return (
      <div className="mlbench-Section-empty">
        {trans.__('No trial has reported %1 yet.', metric)}
      </div>
    );
  }
  return (
    <svg
      className="mlbench-TrialCurves"
      viewBox={`0 0 ${CV_WIDTH} ${CV_HEIGHT}`}
      preserveAspectRatio="xMinYMin meet"
      role="img"
      aria-label={trans.__(
        '%1 of %2 trials by step',
        metric,
        drawn.lines.length
      )}
    >
      <g className="mlbench-TrialCurves-grid">
        {drawn.yTicks.map(t => (
          <g key={t.y}>
            <line
              x1={CV_PAD.left}
              x2={CV_WIDTH - CV_PAD.right}
              y1={t.y}
              y2={t.y}
            />
            <text x={CV_PAD.left - 6} y={t.y + 3} textAnchor="end">
              {t.text}
            </text>
          </g>
        ))}
        {drawn.xTicks.map(t => (
          <text
            key={t.x}
            x={t.x}
            y={CV_HEIGHT - CV_PAD.bottom + 16}
            textAnchor="middle"
          >
            {t.text}
          </text>
        ))}
        <text
          x={CV_WIDTH - CV_PAD.right}
          y={CV_HEIGHT - 2}
          textAnchor="end"
          className="mlbench-TrialCurves-axisLabel"
        >
          {trans.__('step')}
        </text>
      </g>
      {drawn.lines.map(({ trial, d, last, color }) => {
        const stopped = trial.status === 'early_terminated';
        return (
          <g
            key={trial.index}
            data-trial={trial.index}
            className={
              'mlbench-TrialCurves-trial' +
              (stopped ? ' mlbench-mod-early_terminated' : '') +
              (trial.index === best ? ' mlbench-mod-best' : '')
            }
            style={{ stroke: color }}
            onClick={() => onOpen(trial)}
          >
            <title>
              {trans.__('Trial %1', trial.index) +
                `: ${metric}=${cellText(trial.value)}` +
                (stopped ? ` (${terminationText(trial)})` : '')}
            </title>
            <path d={d} />
            {stopped && last && (
              <path
                className="mlbench-TrialCurves-stop"
                d={`M${last[0] - 4} ${last[1] - 4}l8 8m0 -8l-8 8`}
              />
            )}
          </g>
        );
      })}
    </svg>
  );
}
