/**
 * Hooks that keep a list in step with the event stream.
 */
import { useEffect, useRef, useState } from 'react';

import { EventStream, IJobEvent, JobStatus, isFinal } from '../api';

/**
 * Calls `refresh` (once, a second after the last of a burst) when a job
 * starts or reaches a final state, or when the stream says events were
 * missed: what a runs or assets list shows changes then.
 */
export function useJobsEnded(
  stream: EventStream | undefined,
  refresh: () => void
): void {
  const latest = useRef(refresh);
  latest.current = refresh;
  useEffect(() => {
    if (!stream) {
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const later = () => {
      clearTimeout(timer);
      timer = setTimeout(() => latest.current(), 1000);
    };
    const onEvent = (_: EventStream, event: IJobEvent) => {
      if (
        event.kind === 'status' &&
        (isFinal(event.data.status as JobStatus) ||
          event.data.status === 'running')
      ) {
        later();
      }
    };
    stream.event.connect(onEvent);
    stream.reset.connect(later);
    return () => {
      clearTimeout(timer);
      stream.event.disconnect(onEvent);
      stream.reset.disconnect(later);
    };
  }, [stream]);
}

/**
 * A count that goes up when an event `matches`, or when the stream says
 * events were missed: a view that reads its data in an effect depending on
 * it reads again. With `delayMs`, a burst of events counts once, after the
 * last of them.
 */
export function useEventReloads(
  stream: EventStream | undefined,
  matches: (event: IJobEvent) => boolean,
  delayMs = 0
): number {
  const [count, setCount] = useState(0);
  const latest = useRef(matches);
  latest.current = matches;
  useEffect(() => {
    if (!stream) {
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bump = () => {
      if (delayMs <= 0) {
        setCount(n => n + 1);
        return;
      }
      clearTimeout(timer);
      timer = setTimeout(() => setCount(n => n + 1), delayMs);
    };
    const onEvent = (_: EventStream, event: IJobEvent) => {
      if (latest.current(event)) {
        bump();
      }
    };
    stream.event.connect(onEvent);
    stream.reset.connect(bump);
    return () => {
      clearTimeout(timer);
      stream.event.disconnect(onEvent);
      stream.reset.disconnect(bump);
    };
  }, [stream, delayMs]);
  return count;
}
