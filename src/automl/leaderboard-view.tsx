/**
 * An AutoML run's leaderboard in the main area: the trials ranked by the
 * primary metric (the best highlighted), the run's settings, its guardrails
 * (Passed / Done / Alerted with what they found) and its registered model.
 * Follows the job on the event stream and re-reads the board while the
 * search runs; restored after a reload.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import React, { useEffect, useMemo, useState } from 'react';

import { EventStream, JobStatus, MlbenchClient, errorMessage } from '../api';
import { useEventReloads } from '../components/use-events';
import { TranslationContext, useTrans } from '../i18n';
import { mlbenchIcon } from '../icons';
import { StatusBadge } from '../jobs/jobs-list';
import {
  IAutoMLRun,
  IAutoMLTrial,
  configText,
  formatMetric,
  formatSeconds,
  guardrailTitle,
  higherIsBetter,
  isFinalStatus,
  metricValue,
  modelRef,
  rankTrials,
  sortGuardrails
} from './automl';

/** The board is not on the event stream: re-read while the search runs. */
export const LEADERBOARD_POLL_MS = 5000;

/**
 * What the view's buttons do (wired to the plugin's commands).
 */
export interface ILeaderboardActions {
  openJob(jobId: string): void;
  openModel(name: string): void;
  /** Ask for a table and sensitive columns, run a report, open its tab. */
  reportOn(run: IAutoMLRun): void;
}

function Guardrails(props: { run: IAutoMLRun }): JSX.Element {
  const trans = useTrans();
  const rails = sortGuardrails(props.run.guardrails ?? []);
  return (
    <section
      className="mlbench-Leaderboard-section"
      aria-label={trans.__('Guardrails')}
    >
      <h3>{trans.__('Data guardrails')}</h3>
      {rails.length === 0 ? (
        <div className="mlbench-Section-empty">
          {isFinalStatus(props.run.status)
            ? trans.__('No guardrails were recorded.')
            : trans.__('Checked when the job has read the table.')}
        </div>
      ) : (
        <ul className="mlbench-Guardrails">
          {rails.map(r => (
            <li
              key={r.name}
              className={`mlbench-Guardrail mlbench-mod-${r.status.toLowerCase()}`}
              data-guardrail={r.name}
              data-status={r.status}
            >
              <span className="mlbench-Guardrail-status">{r.status}</span>
              <span className="mlbench-Guardrail-name">
                {guardrailTitle(r.name)}
              </span>
              <span className="mlbench-Guardrail-message">{r.message}</span>
              {(r.columns ?? []).length > 0 && (
                <span className="mlbench-Guardrail-columns">
                  {trans.__('Columns: %1', (r.columns ?? []).join(', '))}
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Board(props: {
  run: IAutoMLRun;
  trials: IAutoMLTrial[];
}): JSX.Element {
  const { run, trials } = props;
  const trans = useTrans();
  const metric = run.settings.metric ?? '';
  const ranked = useMemo(() => rankTrials(trials), [trials]);
  if (ranked.length === 0) {
    return (
      <div className="mlbench-Section-empty">
        {run.status === 'completed' || !isFinalStatus(run.status)
          ? trans.__(
              'The trials are listed once the search has logged them (at its end).'
            )
          : trans.__('The search logged no trials.')}
      </div>
    );
  }
  return (
    <table
      className="mlbench-Leaderboard-table"
      aria-label={trans.__('Leaderboard')}
    >
      <thead>
        <tr>
          <th scope="col">{trans.__('Rank')}</th>
          <th scope="col">{trans.__('Trial')}</th>
          <th scope="col">{trans.__('Estimator')}</th>
          <th
            scope="col"
            title={
              higherIsBetter(metric)
                ? trans.__('Higher is better')
                : trans.__('Lower is better')
            }
          >
            {`${metric} ${higherIsBetter(metric) ? '↑' : '↓'}`}
          </th>
          <th scope="col">{trans.__('Validation loss')}</th>
          <th scope="col">{trans.__('Train time')}</th>
          <th scope="col">{trans.__('Found after')}</th>
          <th scope="col">{trans.__('Rows')}</th>
          <th scope="col">{trans.__('Hyperparameters')}</th>
          <th scope="col">{trans.__('MLflow run')}</th>
        </tr>
      </thead>
      <tbody>
        {ranked.map(t => (
          <tr
            key={t.number}
            data-trial={t.number}
            data-estimator={t.estimator}
            className={t.best ? 'mlbench-mod-best' : undefined}
            aria-label={
              t.best
                ? trans.__('Best trial %1', t.number)
                : trans.__('Trial %1', t.number)
            }
          >
            <td className="mlbench-Leaderboard-num">
              {t.rank}
              {t.best && (
                <span className="mlbench-Leaderboard-best">
                  {trans.__('best')}
                </span>
              )}
            </td>
            <td className="mlbench-Leaderboard-num">{t.number}</td>
            <td>{t.estimator}</td>
            <td className="mlbench-Leaderboard-num">
              {formatMetric(metricValue(t, metric))}
            </td>
            <td className="mlbench-Leaderboard-num">
              {formatMetric(t.validation_loss)}
            </td>
            <td className="mlbench-Leaderboard-num">
              {formatSeconds(t.trial_time_s)}
            </td>
            <td className="mlbench-Leaderboard-num">
              {formatSeconds(t.wall_clock_s)}
            </td>
            <td className="mlbench-Leaderboard-num">{t.sample_size}</td>
            <td
              className="mlbench-Leaderboard-config"
              title={configText(t.config, 4000)}
            >
              {configText(t.config)}
            </td>
            <td>
              <code className="mlbench-Leaderboard-run">{t.run_id ?? '-'}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function LeaderboardBody(props: {
  client: MlbenchClient;
  stream: EventStream;
  jobId: string;
  actions: ILeaderboardActions;
  onRun?: (run: IAutoMLRun) => void;
}): JSX.Element {
  const { client, stream, jobId, actions, onRun } = props;
  const trans = useTrans();
  const [run, setRun] = useState<IAutoMLRun | null>(null);
  const [trials, setTrials] = useState<IAutoMLTrial[]>([]);
  const [error, setError] = useState('');
  const [reloads, setReloads] = useState(0);
  const changes = useEventReloads(
    stream,
    event => event.job_id === jobId && event.kind === 'status'
  );

  useEffect(() => {
    let live = true;
    Promise.all([
      client.getAutoMLRun(jobId),
      client.autoMLLeaderboard(jobId)
    ]).then(
      ([info, board]) => {
        if (!live) {
          return;
        }
        setRun(info);
        setTrials(board.items);
        setError('');
        onRun?.(info);
      },
      reason => {
        if (live) {
          setError(errorMessage(reason));
        }
      }
    );
    return () => {
      live = false;
    };
  }, [client, jobId, reloads, changes]);

  // a status change of the job (the search ended, the model registered)

  // the trials and guardrails are artifacts, not events: look again while
  // the job runs
  const running = run !== null && !isFinalStatus(run.status);
  useEffect(() => {
    if (!running) {
      return;
    }
    const timer = setTimeout(() => setReloads(n => n + 1), LEADERBOARD_POLL_MS);
    return () => clearTimeout(timer);
  }, [running, reloads]);

  if (!run) {
    return (
      <div className="mlbench-Leaderboard-body">
        <div
          className={error ? 'mlbench-Section-error' : 'mlbench-Section-empty'}
          role={error ? 'alert' : 'status'}
        >
          {error || trans.__('Loading the AutoML run…')}
        </div>
      </div>
    );
  }
  const { settings } = run;
  const model = modelRef(run.model);
  return (
    <div className="mlbench-Leaderboard-body" data-job-id={run.job_id}>
      <div className="mlbench-Leaderboard-header">
        <h2 className="mlbench-Leaderboard-title">
          {trans.__(
            'AutoML on %1: %2 of %3',
            (run.data ?? '-').replace(/^data:/, ''),
            settings.task,
            settings.target
          )}
        </h2>
        <StatusBadge status={run.status as JobStatus} />
        <span className="mlbench-Leaderboard-buttons">
          <button
            type="button"
            className="jp-mod-styled jp-mod-reject"
            onClick={() => actions.openJob(run.job_id)}
          >
            {trans.__('Open job')}
          </button>
          <button
            type="button"
            className="jp-mod-styled jp-mod-accept"
            disabled={!model}
            title={
              model
                ? trans.__('Open the registered model %1', run.model ?? '')
                : trans.__(
                    'The best model is registered when the job completes'
                  )
            }
            onClick={() => model && actions.openModel(model.name)}
          >
            {trans.__('Open best model')}
          </button>
          <button
            type="button"
            className="jp-mod-styled jp-mod-accept"
            disabled={!model}
            title={
              model
                ? trans.__(
                    'Fairness, error cohorts and feature importance of %1 on a test table',
                    run.model ?? ''
                  )
                : trans.__(
                    'The best model is registered when the job completes'
                  )
            }
            onClick={() => actions.reportOn(run)}
          >
            {trans.__('Responsible AI report…')}
          </button>
        </span>
      </div>
      {error && (
        <div className="mlbench-Section-error" role="alert">
          {error}
        </div>
      )}
      {run.error && (
        <div className="mlbench-Section-error" role="alert">
          {run.error}
        </div>
      )}
      <dl className="mlbench-Leaderboard-fields">
        <dt>{trans.__('Primary metric')}</dt>
        <dd>{settings.metric}</dd>
        <dt>{trans.__('Best')}</dt>
        <dd data-field="best">
          {run.best_estimator
            ? `${run.best_estimator} · ${settings.metric} ${formatMetric(run.best_score)}`
            : '-'}
        </dd>
        <dt>{trans.__('Registered model')}</dt>
        <dd>{run.model ?? '-'}</dd>
        <dt>{trans.__('Trials')}</dt>
        <dd>
          {settings.max_trials
            ? trans.__('%1 (at most %2)', run.trials ?? 0, settings.max_trials)
            : String(run.trials ?? 0)}
        </dd>
        <dt>{trans.__('Budget')}</dt>
        <dd>
          {trans.__(
            '%1 (searched %2)',
            formatSeconds(settings.budget_s),
            formatSeconds(run.search_time_s)
          )}
        </dd>
        <dt>{trans.__('Validation')}</dt>
        <dd>{run.validation ?? '-'}</dd>
        <dt>{trans.__('Estimators')}</dt>
        <dd>
          {(settings.estimators ?? []).join(', ') || trans.__("FLAML's choice")}
        </dd>
        <dt>{trans.__('MLflow run')}</dt>
        <dd>
          <code>{run.run_id ?? '-'}</code>
        </dd>
      </dl>
      <section
        className="mlbench-Leaderboard-section"
        aria-label={trans.__('Trials')}
      >
        <h3>{trans.__('Trials')}</h3>
        <Board run={run} trials={trials} />
      </section>
      <Guardrails run={run} />
    </div>
  );
}

/**
 * The main-area widget of one AutoML run's leaderboard.
 */
export class LeaderboardView extends MainAreaWidget<ReactWidget> {
  constructor(options: {
    client: MlbenchClient;
    stream: EventStream;
    jobId: string;
    actions: ILeaderboardActions;
    trans?: TranslationBundle;
  }) {
    const trans = options.trans ?? nullTranslator.load('mlbench');
    const short = options.jobId.slice(0, 8);
    let title: (run: IAutoMLRun) => void = () => undefined;
    const content = ReactWidget.create(
      <TranslationContext.Provider value={trans}>
        <LeaderboardBody
          client={options.client}
          stream={options.stream}
          jobId={options.jobId}
          actions={options.actions}
          onRun={run => title(run)}
        />
      </TranslationContext.Provider>
    );
    content.addClass('mlbench-Leaderboard');
    super({ content });
    this.jobId = options.jobId;
    this.id = `mlbench-automl-${options.jobId}`;
    this.title.label = trans.__('Leaderboard %1', short);
    this.title.caption = trans.__('mlbench AutoML run %1', options.jobId);
    this.title.icon = mlbenchIcon;
    this.title.closable = true;
    title = run => {
      const data = (run.data ?? '').replace(/^data:/, '');
      this.title.label = trans.__(
        'Leaderboard: %1 → %2',
        data || short,
        run.settings.target
      );
    };
  }

  readonly jobId: string;
}
