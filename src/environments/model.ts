/**
 * The Environments section's logic, free of React so it is unit-tested
 * directly: what a row says, which versions a job can run in, when to poll,
 * and following a build log by offset.
 */
import type {
  EnvironmentStatus,
  IEnvironmentInfo,
  IEnvironmentLog
} from '../api';

/**
 * How long the section waits between two reads while a build runs (no
 * environment events on the stream: builds are followed by polling, and
 * only while one runs).
 */
export const POLL_MS = 1000;

/**
 * A version's one-line summary: `CPython 3.11.7 · 30 packages`.
 */
export function environmentSummary(info: IEnvironmentInfo): string {
  const count = info.packages?.length ?? 0;
  return `${info.python} · ${count} package${count === 1 ? '' : 's'}`;
}

/**
 * Whether a version is still being built (its log grows, its status moves).
 */
export function isBuilding(info: { status: EnvironmentStatus }): boolean {
  return info.status === 'building';
}

/**
 * Whether the list must be read again soon: some version is building.
 */
export function needsPolling(items: IEnvironmentInfo[] | null): boolean {
  return (items ?? []).some(isBuilding);
}

/**
 * The versions a job can run in, by name: ready ones only (a job on a
 * building or failed version is refused by the server).
 */
export function readyEnvironments(
  items: IEnvironmentInfo[]
): IEnvironmentInfo[] {
  return items
    .filter(i => i.status === 'ready')
    .sort((a, b) => a.name.localeCompare(b.name) || b.version - a.version);
}

/**
 * The package lines matching a filter (on the name, case-insensitive).
 */
export function filterPackages(packages: string[], text: string): string[] {
  const needle = text.trim().toLowerCase();
  if (!needle) {
    return packages;
  }
  return packages.filter(p =>
    p
      .toLowerCase()
      .split(/[=@ [<>~!;]/, 1)[0]
      .includes(needle)
  );
}

/**
 * A build log as read so far: its text and the offset to read on from.
 */
export interface ILogState {
  text: string;
  offset: number;
  status: EnvironmentStatus | null;
}

export const EMPTY_LOG: ILogState = { text: '', offset: 0, status: null };

/**
 * The log with the next slice read from `state.offset` appended; a slice
 * read from another offset (a stale answer) leaves it as it was.
 */
export function appendLog(
  state: ILogState,
  slice: IEnvironmentLog,
  readFrom: number
): ILogState {
  if (readFrom !== state.offset) {
    return state;
  }
  return {
    text: state.text + slice.text,
    offset: slice.offset,
    status: slice.status
  };
}

/**
 * Whether a log may still grow: not read yet, or its version is building.
 */
export function logFollows(state: ILogState): boolean {
  return state.status === null || state.status === 'building';
}
