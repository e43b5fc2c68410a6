/**
 * The "mlbench" left sidebar: Compute, Jobs, Experiments, Data and Environments sections.
 */
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import React, { useEffect, useState } from 'react';
import { flushSync } from 'react-dom';

import { IComputeStatus, MlbenchClient, errorMessage } from './api';
import { ComputeSection } from './compute/compute-section';
import { TranslationContext } from './i18n';
import { mlbenchIcon } from './icons';
import { IJobActions, JobsSection } from './jobs/jobs-list';
import { JobsStore } from './jobs/jobs-store';

/**
 * A section another module adds (Experiments, Data): rendered with the client.
 */
export interface ISidebarSection {
  id: string;
  title: string;
  render(client: MlbenchClient): JSX.Element;
  /** Open at first (default false). */
  expanded?: boolean;
}

/**
 * The compute targets, refreshed when jobs change state (their counts move
 * then), never on a timer.
 */
export class ComputeStore {
  constructor(
    readonly client: MlbenchClient,
    jobs: JobsStore
  ) {
    jobs.changed.connect(() => {
      const counts = jobs.counts();
      const key = JSON.stringify(counts);
      if (key !== this._countsKey) {
        this._countsKey = key;
        this._scheduleReload();
      }
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get items(): IComputeStatus[] {
    return this._items;
  }

  get error(): string {
    return this._error;
  }

  async reload(): Promise<void> {
    try {
      this._items = (await this.client.listCompute()).items;
      this._error = '';
    } catch (reason) {
      this._error = errorMessage(reason);
    }
    this._changed.emit();
  }

  private _scheduleReload(): void {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => void this.reload(), 300);
  }

  private _items: IComputeStatus[] = [];
  private _error = '';
  private _countsKey = '';
  private _timer: ReturnType<typeof setTimeout> | undefined;
  private _changed = new Signal<this, void>(this);
}

function Section(props: {
  id: string;
  title: string;
  expanded: boolean;
  grow?: boolean;
  children: React.ReactNode;
}): JSX.Element {
  const [open, setOpen] = useState(props.expanded);
  const bodyId = `mlbench-section-${props.id}`;
  return (
    <section
      className={`mlbench-Section${open && props.grow ? ' mlbench-mod-grow' : ''}`}
      data-section={props.id}
    >
      <h3 className="mlbench-Section-header">
        <button
          type="button"
          className="mlbench-Section-toggle"
          aria-expanded={open}
          aria-controls={bodyId}
          onClick={() => setOpen(!open)}
        >
          <span className="mlbench-Section-caret" aria-hidden="true">
            {open ? '▾' : '▸'}
          </span>
          {props.title}
        </button>
      </h3>
      {open && (
        <div className="mlbench-Section-body" id={bodyId}>
          {props.children}
        </div>
      )}
    </section>
  );
}

function ComputeView(props: { store: ComputeStore }): JSX.Element {
  const { store } = props;
  const [, setTick] = useState(0);
  useEffect(() => {
    const onChange = () => setTick(t => t + 1);
    store.changed.connect(onChange);
    return () => {
      store.changed.disconnect(onChange);
    };
  }, [store]);
  return <ComputeSection items={store.items} error={store.error} />;
}

export class MlbenchSidebar extends ReactWidget {
  constructor(options: MlbenchSidebar.IOptions) {
    super();
    this.id = 'mlbench-sidebar';
    this.addClass('mlbench-Sidebar');
    this.title.icon = mlbenchIcon;
    this.client = options.client;
    this.jobs = options.jobs;
    this.compute = new ComputeStore(options.client, options.jobs);
    this._actions = options.actions;
    this._trans = options.trans ?? nullTranslator.load('mlbench');
    const trans = this._trans;
    this.title.caption = trans.__('mlbench');
    this._sections = options.sections ?? [];
  }

  readonly client: MlbenchClient;
  readonly jobs: JobsStore;
  readonly compute: ComputeStore;

  /** Reload everything over REST. */
  async refresh(): Promise<void> {
    await Promise.all([this.jobs.reload(), this.compute.reload()]);
  }

  /**
   * Render as soon as the shell is attached. React would otherwise queue the
   * first render behind the rest of JupyterLab's start (measured: 250-450 ms
   * after the shell appears on a 2-core machine, 150-330 ms after the file
   * browser's items), and the jobs list is what the sidebar is opened for.
   */
  protected onAfterAttach(msg: Message): void {
    flushSync(() => super.onAfterAttach(msg));
  }

  protected render(): JSX.Element {
    const trans = this._trans;
    return (
      <TranslationContext.Provider value={trans}>
        <div
          className="mlbench-SidebarContent"
          aria-label={trans.__('mlbench')}
        >
          <header className="mlbench-Sidebar-header">
            <mlbenchIcon.react tag="span" className="mlbench-Sidebar-icon" />
            <span className="mlbench-Sidebar-title">{trans.__('mlbench')}</span>
          </header>
          <Section id="compute" title={trans.__('Compute')} expanded={true}>
            <ComputeView store={this.compute} />
          </Section>
          <Section
            id="jobs"
            title={trans.__('Jobs')}
            expanded={true}
            grow={true}
          >
            <JobsSection store={this.jobs} actions={this._actions} />
          </Section>
          {this._sections.map(section => (
            <Section
              key={section.id}
              id={section.id}
              title={section.title}
              expanded={section.expanded ?? false}
            >
              {section.render(this.client)}
            </Section>
          ))}
        </div>
      </TranslationContext.Provider>
    );
  }

  private _actions: IJobActions;
  private _sections: ISidebarSection[];
  private _trans: TranslationBundle;
}

export namespace MlbenchSidebar {
  export interface IOptions {
    client: MlbenchClient;
    jobs: JobsStore;
    actions: IJobActions;
    /** Experiments, Data... */
    sections?: ISidebarSection[];
    trans?: TranslationBundle;
  }
}
