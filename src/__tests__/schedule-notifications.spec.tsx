import { Signal } from '@lumino/signaling';
import { nullTranslator } from '@jupyterlab/translation';

import type { EventStream, IJobEvent } from '../api';
import {
  connectNotificationToasts,
  notificationOf,
  toastType
} from '../notifications/toasts';

class StreamDouble {
  event = new Signal<any, IJobEvent>(this);
}

function note(
  id: number,
  data: { [key: string]: unknown },
  kind = 'notification'
): IJobEvent {
  return {
    id,
    job_id: 'job1',
    kind,
    data,
    created_at: '2026-12-02T10:00:00Z'
  };
}

const failed = {
  delivery: 7,
  rule: 'lab',
  event: 'job.failed',
  title: 'job train (job1) failed',
  text: 'job train (job1) failed: cell 3 raised ValueError',
  target: { kind: 'job', id: 'job1' }
};

describe('notification toasts', () => {
  it('reads notification events only', () => {
    expect(notificationOf(note(1, failed))?.target).toEqual({
      kind: 'job',
      id: 'job1'
    });
    expect(notificationOf(note(2, { status: 'failed' }, 'status'))).toBeNull();
    expect(notificationOf(note(3, { delivery: 'x', text: 1 }))).toBeNull();
  });

  it('picks the toast type from the event', () => {
    expect(toastType('job.failed')).toBe('error');
    expect(toastType('job.timed_out')).toBe('error');
    expect(toastType('schedule.missed')).toBe('error');
    expect(toastType('sweep.canceled')).toBe('warning');
    expect(toastType('pipeline.completed')).toBe('success');
    expect(toastType('test')).toBe('info');
  });

  it('shows each delivery once, with a button that opens its target', () => {
    const stream = new StreamDouble();
    const emit = jest.fn();
    const openJob = jest.fn();
    const disconnect = connectNotificationToasts(
      stream as unknown as EventStream,
      nullTranslator.load('mlbench'),
      { job: openJob },
      emit
    );
    stream.event.emit(note(1, { status: 'failed' }, 'status'));
    stream.event.emit(note(2, failed));
    stream.event.emit(note(2, failed)); // replayed after a reconnect
    expect(emit).toHaveBeenCalledTimes(1);
    const [message, type, options] = emit.mock.calls[0];
    expect(message).toBe(
      'job train (job1) failed: cell 3 raised ValueError (rule lab)'
    );
    expect(type).toBe('error');
    expect(options.autoClose).toBe(false);
    expect(options.actions.map((a: { label: string }) => a.label)).toEqual([
      'Open job'
    ]);
    options.actions[0].callback();
    expect(openJob).toHaveBeenCalledWith('job1');

    // a test delivery has nothing to open; nothing after disconnecting
    stream.event.emit(
      note(3, {
        ...failed,
        delivery: 8,
        event: 'test',
        target: { kind: 'test', id: 'r1' }
      })
    );
    expect(emit.mock.calls[1][2].actions).toEqual([]);
    disconnect();
    stream.event.emit(note(4, { ...failed, delivery: 9 }));
    expect(emit).toHaveBeenCalledTimes(2);
  });
});
