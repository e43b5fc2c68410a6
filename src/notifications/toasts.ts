/**
 * Notification rules with the `jupyterlab` channel: the server's event
 * stream carries each matched event as a `notification` event, shown here
 * as a toast with a button that opens what it is about.
 */
import { Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { EventStream, IJobEvent } from '../api';

/** What a `notification` event's data holds (see mlbench/notify/notifier.py). */
export interface INotificationEvent {
  delivery: number;
  rule: string;
  event: string;
  title: string;
  text: string;
  target: { kind: string; id: string };
}

/** Opens a job, sweep, pipeline run or schedule by id. */
export type TargetOpeners = {
  [kind: string]: ((id: string) => void) | undefined;
};

/** The notification in a feed event, or null when it is another kind. */
export function notificationOf(event: IJobEvent): INotificationEvent | null {
  if (event.kind !== 'notification') {
    return null;
  }
  const data = event.data as Partial<INotificationEvent>;
  if (typeof data.delivery !== 'number' || typeof data.text !== 'string') {
    return null;
  }
  return {
    delivery: data.delivery,
    rule: String(data.rule ?? ''),
    event: String(data.event ?? ''),
    title: String(data.title ?? ''),
    text: data.text,
    target: data.target ?? { kind: 'test', id: '' }
  };
}

/** How loud a toast is: failures stay until closed, successes fade. */
export function toastType(event: string): Notification.TypeOptions {
  if (/\.(failed|timed_out|missed)$/.test(event)) {
    return 'error';
  }
  if (event.endsWith('.canceled')) {
    return 'warning';
  }
  if (event.endsWith('.completed')) {
    return 'success';
  }
  return 'info';
}

/**
 * Shows every notification the stream brings, once per delivery (a stream
 * that resumes after a disconnect may bring one again). Returns a disconnect.
 */
export function connectNotificationToasts(
  stream: EventStream,
  trans: TranslationBundle,
  open: TargetOpeners,
  emit: typeof Notification.emit = Notification.emit.bind(Notification)
): () => void {
  const shown = new Set<number>();
  const labels: { [kind: string]: string } = {
    job: trans.__('Open job'),
    sweep: trans.__('Open sweep'),
    pipeline: trans.__('Open pipeline'),
    schedule: trans.__('Open schedules')
  };
  const onEvent = (_: EventStream, event: IJobEvent) => {
    const note = notificationOf(event);
    if (!note || shown.has(note.delivery)) {
      return;
    }
    shown.add(note.delivery);
    const { kind, id } = note.target;
    const opener = open[kind];
    const type = toastType(note.event);
    emit(trans.__('%1 (rule %2)', note.text, note.rule), type, {
      autoClose: type === 'error' ? false : 8000,
      actions:
        opener && labels[kind]
          ? [
              {
                label: labels[kind],
                caption: trans.__('%1 %2', labels[kind], id),
                callback: () => opener(id)
              }
            ]
          : []
    });
  };
  stream.event.connect(onEvent);
  return () => stream.event.disconnect(onEvent);
}
