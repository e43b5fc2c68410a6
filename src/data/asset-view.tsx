/**
 * A data asset as a main-area tab: its versions, the chosen version's
 * details, a preview and its lineage. Restored after a reload.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import React from 'react';

import { MlbenchClient, errorMessage } from '../api';
import { TranslationContext } from '../i18n';
import { mlbenchIcon } from '../icons';
import { AssetView } from './data-section';

/**
 * The main-area widget of one data asset.
 */
export class DataAssetView extends MainAreaWidget<ReactWidget> {
  constructor(options: {
    client: MlbenchClient;
    name: string;
    trans?: TranslationBundle;
  }) {
    const trans = options.trans ?? nullTranslator.load('mlbench');
    const content = ReactWidget.create(
      <TranslationContext.Provider value={trans}>
        <div className="mlbench-Data mlbench-DataAssetView-body">
          <AssetView
            client={options.client}
            name={options.name}
            onError={errorMessage}
          />
        </div>
      </TranslationContext.Provider>
    );
    content.addClass('mlbench-DataAssetView');
    super({ content });
    this.assetName = options.name;
    this.id = `mlbench-data-${options.name}`;
    this.title.label = trans.__('Data: %1', options.name);
    this.title.caption = trans.__('mlbench data asset %1', options.name);
    this.title.icon = mlbenchIcon;
    this.title.closable = true;
  }

  readonly assetName: string;
}
