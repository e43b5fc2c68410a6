import { ServerConnection } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';
import { nullTranslator } from '@jupyterlab/translation';
import React, { act } from 'react';
import { createRoot } from 'react-dom/client';

import {
  EventStream,
  IJobEvent,
  INotificationRule,
  MlbenchClient
} from '../api';
import {
  EMPTY_FORM,
  NotificationsPanel,
  ruleBody
} from '../notifications/notifications-panel';
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

// -- the Notifications panel ----------------------------------------------------------------

function rule(extra: Partial<INotificationRule> = {}): INotificationRule {
  return {
    id: 'r1',
    name: 'ops',
    enabled: true,
    events: ['job.failed'],
    channel: 'webhook',
    config: { url: 'http://127.0.0.1:9/hook', max_attempts: 5 },
    secrets: ['secret'],
    filters: { include_trials: false },
    created_at: '2026-12-02T10:00:00Z',
    updated_at: '2026-12-02T10:00:00Z',
    ...extra
  } as INotificationRule;
}

function typeInto(el: HTMLInputElement | HTMLSelectElement, value: string) {
  const proto = Object.getPrototypeOf(el);
  act(() => {
    Object.getOwnPropertyDescriptor(proto, 'value')!.set!.call(el, value);
    el.dispatchEvent(
      new Event(el instanceof HTMLSelectElement ? 'change' : 'input', {
        bubbles: true
      })
    );
  });
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await act(async () => {
      await Promise.resolve();
    });
  }
}

function labelled(host: HTMLElement, text: string): HTMLInputElement {
  const label = Array.from(host.querySelectorAll('label')).find(
    l => l.querySelector('span')?.textContent === text
  );
  return label!.querySelector('input, select') as HTMLInputElement;
}

describe('NotificationsPanel', () => {
  beforeAll(() => {
    (
      globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }
    ).IS_REACT_ACT_ENVIRONMENT = true;
  });

  it('builds each channel’s body from its own fields only', () => {
    expect(ruleBody({ ...EMPTY_FORM, name: ' lab ', url: 'x' })).toEqual({
      name: 'lab',
      events: ['job.failed', 'job.timed_out'],
      channel: 'jupyterlab'
    });
    expect(
      ruleBody({
        ...EMPTY_FORM,
        name: 'mail',
        channel: 'email',
        to: 'a@x.org, b@x.org,',
        sender: 'ml@x.org',
        smtpHost: 'smtp.x.org',
        smtpPort: '2525',
        password: 'pw'
      })
    ).toEqual({
      name: 'mail',
      events: ['job.failed', 'job.timed_out'],
      channel: 'email',
      to: ['a@x.org', 'b@x.org'],
      sender: 'ml@x.org',
      smtp_host: 'smtp.x.org',
      smtp_port: 2525,
      starttls: true,
      password: 'pw'
    });
  });

  it('lists, adds with a write-only secret, tests', async () => {
    const client = new MlbenchClient(ServerConnection.makeSettings());
    let rules: INotificationRule[] = [];
    jest
      .spyOn(client, 'listNotifications')
      .mockImplementation(async () => ({ items: rules }));
    const add = jest
      .spyOn(client, 'addNotification')
      .mockImplementation(async body => {
        if (body.name === 'taken') {
          throw new Error("a notification rule named 'taken' exists");
        }
        rules = [rule({ name: body.name })];
        return rules[0];
      });
    const test = jest
      .spyOn(client, 'testNotification')
      .mockImplementation(
        async () =>
          ({ status: 'failed', last_error: 'HTTP 500' }) as Awaited<
            ReturnType<MlbenchClient['testNotification']>
          >
      );
    const host = document.createElement('div');
    document.body.appendChild(host);
    const root = createRoot(host);
    act(() => root.render(<NotificationsPanel client={client} />));
    await flush();
    expect(host.textContent).toContain('No notification rules yet.');

    typeInto(labelled(host, 'Channel'), 'webhook');
    const secret = labelled(host, 'HMAC secret (write-only)');
    expect(secret.type).toBe('password');
    typeInto(labelled(host, 'Name'), 'taken');
    typeInto(labelled(host, 'URL'), 'http://127.0.0.1:9/hook');
    typeInto(secret, 'whsec-0123456789');
    const form = host.querySelector('form')!;
    await act(async () => {
      form.dispatchEvent(new Event('submit', { bubbles: true }));
    });
    await flush();
    // refused: the reason shown, nothing typed is lost
    expect(form.querySelector('[role="alert"]')?.textContent).toContain(
      "'taken' exists"
    );
    expect(labelled(host, 'HMAC secret (write-only)').value).toBe(
      'whsec-0123456789'
    );

    typeInto(labelled(host, 'Name'), 'ops');
    await act(async () => {
      form.dispatchEvent(new Event('submit', { bubbles: true }));
    });
    await flush();
    expect(add).toHaveBeenLastCalledWith({
      name: 'ops',
      events: ['job.failed', 'job.timed_out'],
      channel: 'webhook',
      url: 'http://127.0.0.1:9/hook',
      secret: 'whsec-0123456789'
    });
    const item = host.querySelector('[data-rule="ops"]')!;
    expect(item.textContent).toContain('http://127.0.0.1:9/hook');
    expect(item.textContent).toContain('secrets kept: secret');
    // the secret is nowhere on the page any more: the form was cleared
    expect(host.innerHTML).not.toContain('whsec-0123456789');
    expect(labelled(host, 'Channel').value).toBe('jupyterlab');

    const testButton = Array.from(item.querySelectorAll('button')).find(
      b => b.textContent === 'Test'
    )!;
    await act(async () => {
      testButton.click();
    });
    await flush();
    expect(test).toHaveBeenCalledWith('r1');
    expect(item.querySelector('[role="status"]')?.textContent).toBe(
      'test failed: HTTP 500'
    );
    act(() => root.unmount());
  });
});
