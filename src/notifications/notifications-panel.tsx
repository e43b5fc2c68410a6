/**
 * Notification rules, managed from JupyterLab: list, add (events, channel,
 * where), test and delete, all through the REST `/notifications` routes (the
 * workspace database is the one place rules live). Secrets (a webhook's key,
 * a Slack URL, an SMTP password) are typed once and never shown again: the
 * server returns only their names.
 */
import { Dialog, MainAreaWidget, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import React, { useCallback, useEffect, useState } from 'react';

import {
  IAddNotification,
  INotificationRule,
  MlbenchClient,
  errorMessage
} from '../api';
import { TranslationContext, useTrans } from '../i18n';
import { mlbenchIcon } from '../icons';

/** The events a rule can name (mlbench/notify/models.py EVENTS). */
export const NOTIFICATION_EVENTS = [
  'job.failed',
  'job.timed_out',
  'job.completed',
  'job.canceled',
  'sweep.failed',
  'sweep.completed',
  'sweep.canceled',
  'pipeline.failed',
  'pipeline.completed',
  'pipeline.canceled',
  'schedule.missed',
  'schedule.failed'
];

export type Channel = IAddNotification['channel'];
export const CHANNELS: Channel[] = ['jupyterlab', 'webhook', 'slack', 'email'];

/** What the form holds; strings as typed. */
export interface IRuleForm {
  name: string;
  events: string[];
  channel: Channel;
  url: string;
  secret: string;
  to: string;
  sender: string;
  smtpHost: string;
  smtpPort: string;
  username: string;
  password: string;
  starttls: boolean;
}

export const EMPTY_FORM: IRuleForm = {
  name: '',
  events: ['job.failed', 'job.timed_out'],
  channel: 'jupyterlab',
  url: '',
  secret: '',
  to: '',
  sender: '',
  smtpHost: '',
  smtpPort: '587',
  username: '',
  password: '',
  starttls: true
};

/** The REST body for a form: only the channel's own fields, blanks left out. */
export function ruleBody(form: IRuleForm): IAddNotification {
  const body: IAddNotification = {
    name: form.name.trim(),
    events: form.events,
    channel: form.channel
  };
  if (form.channel === 'webhook' || form.channel === 'slack') {
    body.url = form.url.trim();
  }
  if (form.channel === 'webhook' && form.secret) {
    body.secret = form.secret;
  }
  if (form.channel === 'email') {
    body.to = form.to
      .split(',')
      .map(a => a.trim())
      .filter(a => a);
    body.sender = form.sender.trim();
    body.smtp_host = form.smtpHost.trim();
    body.smtp_port = Number(form.smtpPort) || 587;
    body.starttls = form.starttls;
    if (form.username.trim()) {
      body.username = form.username.trim();
    }
    if (form.password) {
      body.password = form.password;
    }
  }
  return body;
}

/** Where a rule sends, in words (never a secret: the server hides them). */
export function destination(
  rule: INotificationRule,
  trans: TranslationBundle
): string {
  const config = rule.config as { [key: string]: unknown };
  switch (rule.channel) {
    case 'jupyterlab':
      return trans.__('every open JupyterLab');
    case 'email':
      return trans.__(
        'email to %1 via %2',
        ((config.to as string[]) ?? []).join(', '),
        String(config.smtp_host ?? '')
      );
    case 'slack':
      return trans.__('Slack (webhook URL kept secret)');
    default:
      return String(config.url ?? '');
  }
}

export function NotificationsPanel(props: {
  client: MlbenchClient;
}): JSX.Element {
  const { client } = props;
  const trans = useTrans();
  const [rules, setRules] = useState<INotificationRule[] | null>(null);
  const [error, setError] = useState('');
  const [form, setForm] = useState<IRuleForm>(EMPTY_FORM);
  const [formError, setFormError] = useState('');
  const [busy, setBusy] = useState(false);
  const [results, setResults] = useState<{ [id: string]: string }>({});

  const load = useCallback(async () => {
    try {
      setRules((await client.listNotifications()).items);
      setError('');
    } catch (reason) {
      setError(errorMessage(reason));
    }
  }, [client]);

  useEffect(() => {
    void load();
  }, [load]);

  const set = (change: Partial<IRuleForm>) =>
    setForm(old => ({ ...old, ...change }));

  const add = async (event: React.FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      await client.addNotification(ruleBody(form));
      setForm(EMPTY_FORM); // the secrets typed are gone from the page too
      setFormError('');
      await load();
    } catch (reason) {
      setFormError(errorMessage(reason));
    }
    setBusy(false);
  };

  const test = async (rule: INotificationRule) => {
    setResults(old => ({ ...old, [rule.id]: trans.__('sending…') }));
    let text: string;
    try {
      const delivery = await client.testNotification(rule.id);
      text =
        delivery.status === 'delivered'
          ? trans.__('test delivered')
          : delivery.status === 'sending'
            ? trans.__('test sent to the open JupyterLabs')
            : trans.__('test failed: %1', delivery.last_error ?? '');
    } catch (reason) {
      text = trans.__('test failed: %1', errorMessage(reason));
    }
    setResults(old => ({ ...old, [rule.id]: text }));
  };

  const remove = async (rule: INotificationRule) => {
    const result = await showDialog({
      title: trans.__('Delete notification rule %1?', rule.name),
      body: trans.__('Its secrets and delivery log are deleted too.'),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Delete') })
      ]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await client.deleteNotification(rule.id);
    } catch (reason) {
      setError(errorMessage(reason));
    }
    await load();
  };

  const field = (
    label: string,
    key: keyof IRuleForm,
    type = 'text',
    placeholder = ''
  ) => (
    <label className="mlbench-Notifications-field">
      <span>{label}</span>
      <input
        className="jp-mod-styled"
        type={type}
        value={form[key] as string}
        placeholder={placeholder}
        autoComplete={type === 'password' ? 'new-password' : 'off'}
        onChange={e => set({ [key]: e.target.value })}
      />
    </label>
  );

  return (
    <div className="mlbench-Notifications">
      <h2>{trans.__('Notification rules')}</h2>
      {error && (
        <div className="mlbench-Section-error" role="alert">
          {error}
        </div>
      )}
      {rules !== null && rules.length === 0 && (
        <div className="mlbench-Section-empty">
          {trans.__('No notification rules yet.')}
        </div>
      )}
      {rules !== null && rules.length > 0 && (
        <ul
          className="mlbench-Notifications-list"
          aria-label={trans.__('Notification rules')}
        >
          {rules.map(rule => (
            <li
              key={rule.id}
              className="mlbench-Notifications-rule"
              data-rule={rule.name}
            >
              <div className="mlbench-Notifications-head">
                <span className="mlbench-Notifications-name">{rule.name}</span>
                <span className="mlbench-Notifications-channel">
                  {rule.channel}
                </span>
                <button
                  className="jp-mod-styled mlbench-Schedule-button"
                  onClick={() => void test(rule)}
                >
                  {trans.__('Test')}
                </button>
                <button
                  className="jp-mod-styled mlbench-Schedule-button"
                  aria-label={trans.__('Delete rule %1', rule.name)}
                  onClick={() => void remove(rule)}
                >
                  {trans.__('Delete')}
                </button>
              </div>
              <div>{rule.events.join(', ')}</div>
              <div className="mlbench-Notifications-where">
                {destination(rule, trans)}
                {rule.secrets.length > 0 &&
                  ' · ' + trans.__('secrets kept: %1', rule.secrets.join(', '))}
              </div>
              {results[rule.id] && (
                <div className="mlbench-Notifications-result" role="status">
                  {results[rule.id]}
                </div>
              )}
            </li>
          ))}
        </ul>
      )}

      <form
        className="mlbench-Notifications-form"
        aria-label={trans.__('Add a notification rule')}
        onSubmit={e => void add(e)}
      >
        <h3>{trans.__('Add a rule')}</h3>
        {field(trans.__('Name'), 'name', 'text', 'ops-alerts')}
        <fieldset>
          <legend>{trans.__('Events')}</legend>
          {NOTIFICATION_EVENTS.map(name => (
            <label key={name} className="mlbench-Notifications-event">
              <input
                type="checkbox"
                checked={form.events.includes(name)}
                onChange={e =>
                  set({
                    events: e.target.checked
                      ? [...form.events, name]
                      : form.events.filter(x => x !== name)
                  })
                }
              />
              {name}
            </label>
          ))}
        </fieldset>
        <label className="mlbench-Notifications-field">
          <span>{trans.__('Channel')}</span>
          <select
            className="jp-mod-styled"
            value={form.channel}
            onChange={e => set({ channel: e.target.value as Channel })}
          >
            {CHANNELS.map(c => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        {form.channel === 'webhook' && (
          <>
            {field(trans.__('URL'), 'url', 'url', 'https://…')}
            {field(trans.__('HMAC secret (write-only)'), 'secret', 'password')}
          </>
        )}
        {form.channel === 'slack' &&
          field(trans.__('Slack webhook URL (write-only)'), 'url', 'password')}
        {form.channel === 'email' && (
          <>
            {field(trans.__('To (comma-separated)'), 'to')}
            {field(trans.__('From'), 'sender')}
            {field(trans.__('SMTP host'), 'smtpHost')}
            {field(trans.__('SMTP port'), 'smtpPort', 'number')}
            {field(trans.__('SMTP login'), 'username')}
            {field(
              trans.__('SMTP password (write-only)'),
              'password',
              'password'
            )}
            <label className="mlbench-Notifications-event">
              <input
                type="checkbox"
                checked={form.starttls}
                onChange={e => set({ starttls: e.target.checked })}
              />
              {trans.__('STARTTLS')}
            </label>
          </>
        )}
        {formError && (
          <div className="mlbench-Section-error" role="alert">
            {formError}
          </div>
        )}
        <button
          type="submit"
          className="jp-mod-styled jp-mod-accept"
          disabled={busy || !form.name.trim() || form.events.length === 0}
        >
          {trans.__('Add rule')}
        </button>
      </form>
    </div>
  );
}

/** The panel as a main-area tab. */
export class NotificationsView extends MainAreaWidget<ReactWidget> {
  constructor(client: MlbenchClient, trans: TranslationBundle) {
    const content = ReactWidget.create(
      <TranslationContext.Provider value={trans}>
        <NotificationsPanel client={client} />
      </TranslationContext.Provider>
    );
    super({ content });
    this.id = 'mlbench-notifications';
    this.title.label = trans.__('Notifications');
    this.title.icon = mlbenchIcon;
    this.title.closable = true;
  }
}
