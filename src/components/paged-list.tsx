import React, { useCallback, useEffect, useRef, useState } from 'react';
import { refreshIcon } from '@jupyterlab/ui-components';

import { IPage, errorMessage } from '../api';

/**
 * What `usePagedList` gives a list: the items shown (null until the first
 * page answered), the cursor of the next page (null when there is none),
 * the last error's message ('' when none), and `load`, which fetches the
 * first page (`null`) or appends the page at `cursor`.
 */
export interface IPagedList<T> {
  items: T[] | null;
  cursor: string | null;
  error: string;
  load: (append: string | null) => Promise<void>;
}

/**
 * Options of `usePagedList`.
 */
export interface IPagedListOptions {
  /**
   * Called when a page arrived (and is still the latest request).
   */
  onPage?: () => void;
  /**
   * The message to show for a failed request (default: `errorMessage`).
   */
  onError?: (error: unknown) => string;
}

/**
 * A cursor-paged list: loads the first page now and whenever `deps` change,
 * and drops the answers of requests that a newer one superseded.
 *
 * `fetchPage`, `onPage` and `onError` are taken as they are when `deps`
 * last changed, so `deps` must name what `fetchPage` depends on.
 */
export function usePagedList<T>(
  fetchPage: (cursor: string | null) => Promise<IPage<T>>,
  deps: React.DependencyList,
  options: IPagedListOptions = {}
): IPagedList<T> {
  const { onPage, onError = errorMessage } = options;
  const [items, setItems] = useState<T[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState('');
  const request = useRef(0);

  const load = useCallback(async (append: string | null) => {
    const id = ++request.current;
    try {
      const page = await fetchPage(append);
      if (id !== request.current) {
        return;
      }
      onPage?.();
      setItems(prev =>
        append && prev ? [...prev, ...page.items] : page.items
      );
      setCursor(page.next_cursor ?? null);
      setError('');
    } catch (reason) {
      if (id === request.current) {
        setError(onError(reason));
      }
    }
  }, deps);

  useEffect(() => {
    void load(null);
  }, [load]);

  return { items, cursor, error, load };
}

/**
 * Properties of `ListToolbar`.
 */
export interface IListToolbarProps {
  /**
   * The class name prefix of the section, e.g. `mlbench-Data`.
   */
  prefix: string;
  placeholder: string;
  /**
   * The accessible label of the search field.
   */
  searchLabel: string;
  /**
   * The title and accessible label of the refresh button.
   */
  refreshLabel: string;
  value: string;
  onChange: (value: string) => void;
  onRefresh: () => void;
}

/**
 * A list's toolbar: a search field and a refresh button.
 */
export function ListToolbar(props: IListToolbarProps): JSX.Element {
  const { prefix, refreshLabel } = props;
  return (
    <div className={`${prefix}-toolbar`}>
      <input
        className={`jp-mod-styled ${prefix}-search`}
        type="search"
        placeholder={props.placeholder}
        aria-label={props.searchLabel}
        value={props.value}
        onChange={e => props.onChange(e.target.value)}
      />
      <button
        className={`jp-mod-styled ${prefix}-iconButton`}
        title={refreshLabel}
        aria-label={refreshLabel}
        onClick={props.onRefresh}
      >
        <refreshIcon.react tag="span" />
      </button>
    </div>
  );
}

/**
 * A list's error, loading and empty states.
 */
export function ListStates(props: {
  /**
   * The class name prefix of the section, e.g. `mlbench-Data`.
   */
  prefix: string;
  error: string;
  items: unknown[] | null;
  loading: React.ReactNode;
  empty: React.ReactNode;
}): JSX.Element {
  const { prefix, error, items } = props;
  return (
    <>
      {error && (
        <div className={`${prefix}-error`} role="alert">
          {error}
        </div>
      )}
      {items === null && !error && (
        <div className={`${prefix}-empty`}>{props.loading}</div>
      )}
      {items !== null && items.length === 0 && (
        <div className={`${prefix}-empty`}>{props.empty}</div>
      )}
    </>
  );
}
