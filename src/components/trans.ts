/**
 * The translator of the mlbench sections, passed down through React context
 * so nested components need no prop for it.
 */
import React, { useContext, useMemo } from 'react';
import {
  ITranslator,
  TranslationBundle,
  nullTranslator
} from '@jupyterlab/translation';

export const TranslatorContext =
  React.createContext<ITranslator>(nullTranslator);

/**
 * The mlbench translation bundle of the nearest translator (the null
 * translator, i.e. English, when none was given).
 */
export function useTrans(): TranslationBundle {
  const translator = useContext(TranslatorContext);
  return useMemo(() => translator.load('mlbench'), [translator]);
}
