/**
 * A pipeline run in the main area: its DAG as an SVG graph (each step a node
 * with its live status, a reused marker and its duration; edges labelled
 * with the data they carry), cancel and rerun (all that did not succeed, or
 * from a chosen step), and the steps' table. A step opens its job view.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import React, {
  useCallback,
  useEffect,
  useMemo,
  useState,
  useSyncExternalStore
} from 'react';

import {
  EventStream,
  IPipelineRun,
  IPipelineStep,
  MlbenchClient,
  isPipelineFinal
} from '../api';
import { TranslationContext, useTrans } from '../i18n';
import { mlbenchIcon } from '../icons';
import { formatSeconds, formatTime } from '../jobs/format';
import { StatusBadge } from '../jobs/jobs-list';
import {
  IGraphLayout,
  NODE_HEIGHT,
  NODE_WIDTH,
  bindingLabels,
  elapsedSeconds,
  layoutGraph,
  runProgress,
  stepJob
} from './model';
import { PipelineViewModel } from './store';

const PAD = 12;
const NAME_CHARS = 22;

/**
 * What the view's buttons and steps do (wired to the plugin's commands).
 */
export interface IPipelineActions {
  openJob(jobId: string): void;
  cancel(run: IPipelineRun): void;
  /** `fromStep` null: rerun what did not succeed. */
  rerun(run: IPipelineRun, fromStep: string | null): void;
}

function useModel(model: PipelineViewModel): number {
  const subscribe = useCallback(
    (onChange: () => void) => {
      model.changed.connect(onChange);
      return () => {
        model.changed.disconnect(onChange);
      };
    },
    [model]
  );
  return useSyncExternalStore(subscribe, () => model.version);
}

/** The clock, ticking each second while `live` (running steps' durations). */
function useNow(live: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!live) {
      return;
    }
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [live]);
  return now;
}

function short(text: string): string {
  return text.length > NAME_CHARS ? `${text.slice(0, NAME_CHARS - 1)}…` : text;
}

export function PipelineGraph(props: {
  steps: IPipelineStep[];
  layout: IGraphLayout;
  now: number;
  onOpen(step: IPipelineStep): void;
}): JSX.Element {
  const { steps, layout, now, onOpen } = props;
  const trans = useTrans();
  const width = layout.width + 2 * PAD;
  const height = layout.height + 2 * PAD;
  return (
    <svg
      className="mlbench-PipelineGraph"
      role="group"
      aria-label={trans.__('Pipeline graph')}
      width={width}
      height={height}
      viewBox={`${-PAD} ${-PAD} ${width} ${height}`}
    >
      <defs>
        <marker
          id="mlbench-pipeline-arrow"
          viewBox="0 0 8 8"
          refX="8"
          refY="4"
          markerWidth="8"
          markerHeight="8"
          orient="auto"
        >
          <path d="M0,0 L8,4 L0,8 z" className="mlbench-PipelineGraph-arrow" />
        </marker>
      </defs>
      {layout.edges.map(e => (
        <g
          key={`${e.from}>${e.to}`}
          className="mlbench-PipelineEdge"
          data-from={e.from}
          data-to={e.to}
        >
          <path d={e.path} markerEnd="url(#mlbench-pipeline-arrow)">
            <title>
              {e.labels.length
                ? `${e.from} → ${e.to}: ${e.labels.join(', ')}`
                : trans.__('%1 runs after %2', e.to, e.from)}
            </title>
          </path>
          {e.labels.length > 0 && (
            <text x={e.mid.x} y={e.mid.y - 4} textAnchor="middle">
              {short(e.labels[0].split(' → ')[0])}
              {e.labels.length > 1 ? ` +${e.labels.length - 1}` : ''}
            </text>
          )}
        </g>
      ))}
      {steps.map(step => {
        const box = layout.nodes.get(step.name);
        if (!box) {
          return null;
        }
        const seconds = elapsedSeconds(step, now);
        const job = stepJob(step);
        const reused = step.status === 'reused';
        const label = trans.__('Step %1, %2', step.name, step.status);
        return (
          <g
            key={step.name}
            className={`mlbench-PipelineNode mlbench-mod-${step.status}${job ? ' mlbench-mod-openable' : ''}`}
            data-step={step.name}
            data-status={step.status}
            transform={`translate(${box.x},${box.y})`}
            role="button"
            tabIndex={0}
            aria-label={label}
            onClick={() => onOpen(step)}
            onKeyDown={event => {
              if (event.key === 'Enter') {
                onOpen(step);
              }
            }}
          >
            <title>
              {step.status_reason ? `${label}: ${step.status_reason}` : label}
            </title>
            <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx={6} ry={6} />
            <rect
              className="mlbench-PipelineNode-bar"
              width={6}
              height={NODE_HEIGHT}
              rx={3}
              ry={3}
            />
            <text className="mlbench-PipelineNode-name" x={14} y={20}>
              {short(step.name)}
            </text>
            <text className="mlbench-PipelineNode-status" x={14} y={40}>
              {step.status}
              {seconds !== null && !reused
                ? ` · ${formatSeconds(seconds)}`
                : ''}
            </text>
            {reused && (
              <text
                className="mlbench-PipelineNode-reused"
                x={NODE_WIDTH - 8}
                y={40}
                textAnchor="end"
              >
                {trans.__('↺ reused')}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}

export function PipelineDetail(props: {
  model: PipelineViewModel;
  actions: IPipelineActions;
}): JSX.Element {
  const { model, actions } = props;
  const trans = useTrans();
  useModel(model);
  const run = model.run;
  const steps = run?.steps ?? [];
  const live = !!run && !isPipelineFinal(run.status);
  const now = useNow(live);
  const [from, setFrom] = useState('');
  const layout = useMemo(
    () => (run ? layoutGraph(steps, bindingLabels(run)) : null),
    // the graph's shape changes only with the spec (one per run)
    [run?.id, steps.length]
  );
  if (!run || !layout) {
    return (
      <div className="mlbench-PipelineView-body">
        {model.error ? (
          <div className="mlbench-Section-error" role="alert">
            {model.error}
          </div>
        ) : (
          <div className="mlbench-Section-empty">
            {trans.__('Loading pipeline run…')}
          </div>
        )}
      </div>
    );
  }
  const { done, total, reused } = runProgress(run);
  const seconds = elapsedSeconds(run, now);
  const open = (step: IPipelineStep) => {
    const job = stepJob(step);
    if (job) {
      actions.openJob(job);
    }
  };
  return (
    <div className="mlbench-PipelineView-body">
      {model.error && (
        <div className="mlbench-Section-error" role="alert">
          {model.error}
        </div>
      )}
      <div className="mlbench-PipelineView-header">
        <StatusBadge status={run.status} />
        <h2>{run.display_name}</h2>
        <span className="mlbench-PipelineView-progress">
          {trans.__('%1/%2 steps', done, total)}
          {reused ? ` · ${trans.__('%1 reused', reused)}` : ''}
          {seconds !== null ? ` · ${formatSeconds(seconds)}` : ''}
        </span>
        <span className="mlbench-PipelineView-actions">
          <button
            type="button"
            className="jp-mod-styled jp-mod-warn"
            disabled={!live || run.cancel_requested}
            onClick={() => actions.cancel(run)}
          >
            {trans.__('Cancel')}
          </button>
          <label>
            {trans.__('Rerun')}{' '}
            <select
              className="jp-mod-styled"
              aria-label={trans.__('Rerun from step')}
              value={from}
              onChange={event => setFrom(event.target.value)}
            >
              <option value="">{trans.__('what did not succeed')}</option>
              {steps.map(s => (
                <option key={s.name} value={s.name}>
                  {trans.__('from %1', s.name)}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            className="jp-mod-styled jp-mod-accept"
            disabled={live}
            title={
              live ? trans.__('The run has not finished') : trans.__('Rerun')
            }
            onClick={() => actions.rerun(run, from || null)}
          >
            {trans.__('Rerun')}
          </button>
        </span>
      </div>
      {run.status_reason && (
        <div className="mlbench-PipelineView-reason">{run.status_reason}</div>
      )}
      <section
        className="mlbench-JobView-section"
        aria-label={trans.__('Graph')}
      >
        <div className="mlbench-PipelineView-graph">
          <PipelineGraph
            steps={steps}
            layout={layout}
            now={now}
            onOpen={open}
          />
        </div>
      </section>
      <section
        className="mlbench-JobView-section"
        aria-label={trans.__('Steps')}
      >
        <h3>{trans.__('Steps')}</h3>
        <table className="mlbench-PipelineSteps">
          <thead>
            <tr>
              <th scope="col">{trans.__('step')}</th>
              <th scope="col">{trans.__('status')}</th>
              <th scope="col">{trans.__('duration')}</th>
              <th scope="col">{trans.__('job')}</th>
              <th scope="col">{trans.__('why')}</th>
            </tr>
          </thead>
          <tbody>
            {steps.map(s => {
              const job = stepJob(s);
              const took = elapsedSeconds(s, now);
              return (
                <tr key={s.name} data-step={s.name}>
                  <td>{s.name}</td>
                  <td>
                    <span
                      className={`mlbench-PipelineStatus mlbench-mod-${s.status}`}
                    >
                      {s.status}
                    </span>
                  </td>
                  <td>{took !== null ? formatSeconds(took) : ''}</td>
                  <td>
                    {job && (
                      <button
                        type="button"
                        className="mlbench-PipelineSteps-job"
                        onClick={() => actions.openJob(job)}
                      >
                        {job.slice(0, 8)}
                      </button>
                    )}
                  </td>
                  <td className="mlbench-PipelineSteps-reason">
                    {s.status_reason}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
      <dl className="mlbench-JobView-meta">
        <dt>{trans.__('Compute')}</dt>
        <dd>{run.compute}</dd>
        <dt>{trans.__('Experiment')}</dt>
        <dd>{run.experiment}</dd>
        <dt>{trans.__('Created')}</dt>
        <dd>{formatTime(run.created_at)}</dd>
        <dt>{trans.__('Run')}</dt>
        <dd>{run.id}</dd>
        {run.source_run_id && (
          <>
            <dt>{trans.__('Reruns')}</dt>
            <dd>{run.source_run_id}</dd>
          </>
        )}
      </dl>
    </div>
  );
}

/**
 * The main-area widget of one pipeline run.
 */
export class PipelineView extends MainAreaWidget<ReactWidget> {
  constructor(options: {
    client: MlbenchClient;
    stream: EventStream;
    runId: string;
    actions: IPipelineActions;
    trans?: TranslationBundle;
  }) {
    const trans = options.trans ?? nullTranslator.load('mlbench');
    const model = new PipelineViewModel(
      options.client,
      options.runId,
      options.stream
    );
    const content = ReactWidget.create(
      <TranslationContext.Provider value={trans}>
        <PipelineDetail model={model} actions={options.actions} />
      </TranslationContext.Provider>
    );
    content.addClass('mlbench-PipelineView');
    super({ content });
    this.model = model;
    this.id = `mlbench-pipeline-${options.runId}`;
    this.title.label = trans.__('Pipeline %1', options.runId.slice(0, 8));
    this.title.icon = mlbenchIcon;
    this.title.closable = true;
    model.changed.connect(() => {
      const run = model.run;
      if (run) {
        this.title.label = `${run.display_name} (${run.status})`;
        this.title.caption = trans.__('mlbench pipeline run %1', run.id);
      }
    });
    void model.load();
  }

  readonly model: PipelineViewModel;

  dispose(): void {
    this.model.dispose();
    super.dispose();
  }
}
