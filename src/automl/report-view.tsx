/**
 * A Responsible AI report in a main-area tab: the report job's static HTML
 * page (metrics, fairness, error cohorts, importance) in a sandboxed frame
 * that runs no script. Until the job completes the tab says where it is and
 * follows the job on the event stream; restored after a reload.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import { EventStream, JobStatus, MlbenchClient, errorMessage } from '../api';
import { useEventReloads } from '../components/use-events';
import { TranslationContext, useTrans } from '../i18n';
import { mlbenchIcon } from '../icons';
import { StatusBadge } from '../jobs/jobs-list';
import { IRaiReport, isFinalStatus } from './automl';

export interface IReportActions {
  openJob(jobId: string): void;
}

export function ReportBody(props: {
  client: MlbenchClient;
  stream: EventStream;
  jobId: string;
  actions: IReportActions;
  onReport?: (report: IRaiReport) => void;
}): JSX.Element {
  const { client, stream, jobId, actions, onReport } = props;
  const trans = useTrans();
  const [report, setReport] = useState<IRaiReport | null>(null);
  const [html, setHtml] = useState<string | null>(null);
  const [error, setError] = useState('');
  const changes = useEventReloads(
    stream,
    event => event.job_id === jobId && event.kind === 'status'
  );

  useEffect(() => {
    let live = true;
    const fail = (reason: unknown) => {
      if (live) {
        setError(errorMessage(reason));
      }
    };
    client.getRaiReport(jobId).then(info => {
      if (!live) {
        return;
      }
      setReport(info);
      setError('');
      onReport?.(info);
      if (info.status === 'completed' && info.html_artifact) {
        client.raiReportHtml(jobId).then(page => {
          if (live) {
            setHtml(page.html);
          }
        }, fail);
      }
    }, fail);
    return () => {
      live = false;
    };
  }, [client, jobId, changes]);

  return (
    <div className="mlbench-RaiReport-body" data-job-id={jobId}>
      <div className="mlbench-RaiReport-header">
        <span className="mlbench-RaiReport-what">
          {report
            ? trans.__(
                '%1 on %2 (target %3%4)',
                report.model,
                report.data.replace(/^data:/, ''),
                report.target,
                report.sensitive.length
                  ? trans.__('; sensitive %1', report.sensitive.join(', '))
                  : ''
              )
            : trans.__('Responsible AI report')}
        </span>
        {report && <StatusBadge status={report.status as JobStatus} />}
        <button
          type="button"
          className="jp-mod-styled jp-mod-reject"
          onClick={() => actions.openJob(jobId)}
        >
          {trans.__('Open job')}
        </button>
      </div>
      {error && (
        <div className="mlbench-Section-error" role="alert">
          {error}
        </div>
      )}
      {report?.error && (
        <div className="mlbench-Section-error" role="alert">
          {report.error}
        </div>
      )}
      {html !== null ? (
        <iframe
          className="mlbench-RaiReport-frame"
          title={trans.__('Responsible AI report of %1', report?.model ?? '')}
          // no script, no same origin: the page is the job's output
          sandbox=""
          srcDoc={html}
        />
      ) : (
        <div className="mlbench-Section-empty" role="status">
          {!report
            ? error
              ? ''
              : trans.__('Loading the report…')
            : !isFinalStatus(report.status)
              ? trans.__(
                  'The report job is %1: the page opens here when it completes.',
                  report.status
                )
              : report.status === 'completed'
                ? trans.__('Reading the report…')
                : trans.__('The report job ended without a report.')}
        </div>
      )}
    </div>
  );
}

/**
 * The main-area widget of one Responsible AI report.
 */
export class RaiReportView extends MainAreaWidget<ReactWidget> {
  constructor(options: {
    client: MlbenchClient;
    stream: EventStream;
    jobId: string;
    actions: IReportActions;
    trans?: TranslationBundle;
  }) {
    const trans = options.trans ?? nullTranslator.load('mlbench');
    let title: (report: IRaiReport) => void = () => undefined;
    const content = ReactWidget.create(
      <TranslationContext.Provider value={trans}>
        <ReportBody
          client={options.client}
          stream={options.stream}
          jobId={options.jobId}
          actions={options.actions}
          onReport={report => title(report)}
        />
      </TranslationContext.Provider>
    );
    content.addClass('mlbench-RaiReport');
    super({ content });
    this.jobId = options.jobId;
    this.id = `mlbench-rai-${options.jobId}`;
    this.title.label = trans.__('RAI report %1', options.jobId.slice(0, 8));
    this.title.caption = trans.__(
      'mlbench Responsible AI report %1',
      options.jobId
    );
    this.title.icon = mlbenchIcon;
    this.title.closable = true;
    title = report => {
      this.title.label = trans.__('RAI report: %1', report.model);
    };
  }

  readonly jobId: string;
}
