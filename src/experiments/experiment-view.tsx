/**
 * An experiment's runs as a main-area tab: the runs table with every
 * parameter and last metric as a column (sortable, choosable), and the
 * selected runs compared on full-width charts. Restored after a reload.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import {
  EventStream,
  IExperimentSummary,
  MlbenchClient,
  errorMessage
} from '../api';
import { TranslationContext, useTrans } from '../i18n';
import { mlbenchIcon } from '../icons';
import { RunsView } from './experiments-section';
import { mlflowUiBase } from './model';

/**
 * Runs per page in the main area.
 */
export const MAIN_AREA_PAGE_SIZE = 50;

/**
 * The page sizes to choose from (the server sends at most 1,000 a page).
 */
export const PAGE_SIZES = [50, 200, 1000];

function ExperimentPanel(props: {
  client: MlbenchClient;
  stream?: EventStream;
  experimentId: string;
  onOpenJob: (jobId: string) => void;
  onLoaded: (experiment: IExperimentSummary) => void;
}): JSX.Element {
  const { client, experimentId } = props;
  const trans = useTrans();
  const [experiment, setExperiment] = useState<IExperimentSummary | null>(null);
  const [mlflowBase, setMlflowBase] = useState('');
  const [error, setError] = useState('');
  useEffect(() => {
    client
      .getExperiment(experimentId)
      .then(e => {
        setExperiment(e);
        props.onLoaded(e);
      })
      .catch(reason => setError(errorMessage(reason)));
    client
      .health()
      .then(health => setMlflowBase(mlflowUiBase(health.mlflow_ui_url)))
      .catch(() => setMlflowBase(''));
  }, [client, experimentId]);
  if (!experiment) {
    return (
      <div className="mlbench-Experiments-empty" role="status">
        {error || trans.__('Loading the experiment…')}
      </div>
    );
  }
  return (
    <RunsView
      client={client}
      experiment={experiment}
      mlflowBase={mlflowBase}
      stream={props.stream}
      onOpenJob={props.onOpenJob}
      pageSize={MAIN_AREA_PAGE_SIZE}
      pageSizes={PAGE_SIZES}
    />
  );
}

/**
 * The main-area widget of one experiment's runs.
 */
export class ExperimentView extends MainAreaWidget<ReactWidget> {
  constructor(options: {
    client: MlbenchClient;
    stream?: EventStream;
    experimentId: string;
    name?: string;
    onOpenJob: (jobId: string) => void;
    trans?: TranslationBundle;
  }) {
    const trans = options.trans ?? nullTranslator.load('mlbench');
    const setTitle = (name: string) => {
      this.title.label = trans.__('Runs: %1', name);
      this.title.caption = trans.__('mlbench experiment %1', name);
    };
    const content = ReactWidget.create(
      <TranslationContext.Provider value={trans}>
        <ExperimentPanel
          client={options.client}
          stream={options.stream}
          experimentId={options.experimentId}
          onOpenJob={options.onOpenJob}
          onLoaded={e => setTitle(e.name)}
        />
      </TranslationContext.Provider>
    );
    content.addClass('mlbench-ExperimentView');
    content.addClass('mlbench-Experiments');
    super({ content });
    this.experimentId = options.experimentId;
    this.id = `mlbench-experiment-${options.experimentId}`;
    this.title.icon = mlbenchIcon;
    this.title.closable = true;
    setTitle(options.name ?? options.experimentId);
  }

  readonly experimentId: string;
}
