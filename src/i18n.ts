import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import React, { useContext } from 'react';

/**
 * The translation bundle of mlbench's React views (the plugin provides the
 * application's translator; untranslated English without one).
 */
export const TranslationContext = React.createContext<TranslationBundle>(
  nullTranslator.load('mlbench')
);

export function useTrans(): TranslationBundle {
  return useContext(TranslationContext);
}
