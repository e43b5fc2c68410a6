import { ServerConnection } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';

import { EventStream, IJob, IJobEvent, MlbenchClient } from '../api';
import { visibleRange } from '../jobs/jobs-list';
import {
  JobsStore,
  applyEvent,
  matchesFilter,
  progressFraction
} from '../jobs/jobs-store';

function job(id: string, extra: Partial<IJob> = {}): IJob {
  return {
    id,
    display_name: `job ${id}`,
    experiment: 'train',
    compute: 'local',
    kernel_name: 'python3',
    notebook_path: '/root/train.ipynb',
    notebook_relpath: 'train.ipynb',
    cwd: '/root',
    parameters: {},
    resources: {},
    timeout_s: null,
    max_retries: 0,
    attempt: 1,
    tags: { team: 'cv' },
    owner: 'me',
    rerun_of: null,
    status: 'queued',
    status_reason: '',
    cancel_requested: false,
    error: null,
    created_at: `2026-01-01T00:00:${id.padStart(2, '0')}Z`,
    updated_at: '2026-01-01T00:00:00Z',
    started_at: null,
    finished_at: null,
    gpu_ids: [],
    mlflow_experiment_id: null,
    mlflow_run_id: null,
    progress: {},
    ...extra
  };
}

function event(
  id: number,
  jobId: string,
  kind: string,
  data: { [key: string]: unknown }
): IJobEvent {
  return {
    id,
    job_id: jobId,
    kind,
    data,
    created_at: `2026-01-01T00:01:${String(id).padStart(2, '0')}Z`
  };
}

/**
 * The store only listens to the stream's signals: a plain object with them
 * stands in for the WebSocket.
 */
class StreamDouble {
  event = new Signal<any, IJobEvent>(this);
  reset = new Signal<any, void>(this);
}

describe('applyEvent', () => {
  it('moves a job through its states with times', () => {
    let j = job('1');
    j = applyEvent(j, event(1, '1', 'status', { status: 'running' }));
    expect(j.status).toBe('running');
    expect(j.started_at).toBe('2026-01-01T00:01:01Z');
    j = applyEvent(
      j,
      event(2, '1', 'progress', { cell_index: 2, cell_count: 4 })
    );
    expect(progressFraction(j)).toBe(0.5);
    j = applyEvent(
      j,
      event(3, '1', 'status', { status: 'failed', reason: 'cell 3 raised' })
    );
    expect(j.status).toBe('failed');
    expect(j.status_reason).toBe('cell 3 raised');
    expect(j.finished_at).toBe('2026-01-01T00:01:03Z');
    expect(progressFraction({ ...j, status: 'completed' })).toBe(1);
  });
});

describe('matchesFilter', () => {
  it('filters by status and by every word of the text', () => {
    const j = job('7', { status: 'failed' });
    expect(matchesFilter(j, { statuses: [], text: '' })).toBe(true);
    expect(matchesFilter(j, { statuses: ['running'], text: '' })).toBe(false);
    expect(matchesFilter(j, { statuses: ['failed'], text: 'TRAIN cv' })).toBe(
      true
    );
    expect(matchesFilter(j, { statuses: [], text: 'train gpu' })).toBe(false);
    expect(matchesFilter(j, { statuses: [], text: 'team=cv' })).toBe(true);
  });
});

describe('visibleRange', () => {
  it('renders only the rows in view, plus a margin', () => {
    expect(visibleRange(0, 560, 10000, 56, 6)).toEqual([0, 16]);
    expect(visibleRange(56 * 5000, 560, 10000, 56, 6)).toEqual([4994, 5016]);
    expect(visibleRange(56 * 9999, 560, 10000, 56, 6)).toEqual([9993, 10000]);
    expect(visibleRange(0, 560, 0, 56, 6)).toEqual([0, 0]);
  });
});

describe('JobsStore', () => {
  const client = new MlbenchClient(
    ServerConnection.makeSettings({ baseUrl: 'http://h/' })
  );
  let listJobs: jest.SpyInstance;
  let getJob: jest.SpyInstance;
  let stream: StreamDouble;
  let store: JobsStore;

  beforeEach(() => {
    jest.useFakeTimers();
    stream = new StreamDouble();
    listJobs = jest.spyOn(client, 'listJobs');
    getJob = jest.spyOn(client, 'getJob');
    store = new JobsStore({
      client,
      stream: stream as unknown as EventStream,
      pageSize: 2,
      refreshDelayMs: 100
    });
  });

  afterEach(() => {
    store.dispose();
    jest.restoreAllMocks();
    jest.useRealTimers();
  });

  it('loads every page, newest first', async () => {
    listJobs
      .mockResolvedValueOnce({ items: [job('3'), job('2')], next_cursor: 'c' })
      .mockResolvedValueOnce({ items: [job('1')], next_cursor: null });
    await store.reload();
    expect(listJobs).toHaveBeenCalledTimes(2);
    expect(listJobs.mock.calls[1][0]).toEqual({ limit: 2, cursor: 'c' });
    expect(store.all().map(j => j.id)).toEqual(['3', '2', '1']);
    expect(store.counts().queued).toBe(3);
  });

  it('shows the newest page before the older pages arrive', async () => {
    let release: (value: unknown) => void = () => undefined;
    const rest = new Promise(resolve => (release = resolve));
    listJobs
      .mockResolvedValueOnce({ items: [job('3'), job('2')], next_cursor: 'c' })
      .mockImplementationOnce(async () => {
        await rest;
        return { items: [job('1')], next_cursor: null };
      });
    const loading = store.reload();
    await Promise.resolve();
    await Promise.resolve();
    expect(store.loading).toBe(true);
    expect(store.all().map(j => j.id)).toEqual(['3', '2']);
    release(null);
    await loading;
    expect(store.loading).toBe(false);
    expect(store.all().map(j => j.id)).toEqual(['3', '2', '1']);
  });

  it('applies live events, refreshes once per burst and reports finished jobs', async () => {
    listJobs.mockResolvedValue({ items: [job('1')], next_cursor: null });
    await store.reload();
    const finished: IJob[] = [];
    store.jobFinished.connect((_, j) => finished.push(j));
    getJob.mockResolvedValue(
      job('1', {
        status: 'completed',
        updated_at: '2026-01-01T00:05:00Z',
        mlflow_run_id: 'run'
      })
    );

    stream.event.emit(event(1, '1', 'status', { status: 'running' }));
    expect(store.get('1')?.status).toBe('running');
    stream.event.emit(event(2, '1', 'status', { status: 'completed' }));
    expect(store.get('1')?.status).toBe('completed');
    expect(finished.map(j => j.id)).toEqual(['1']);

    await jest.advanceTimersByTimeAsync(150);
    expect(getJob).toHaveBeenCalledTimes(1);
    expect(store.get('1')?.mlflow_run_id).toBe('run');
    // not reported twice
    expect(finished).toHaveLength(1);
  });

  it('fetches jobs it did not know (submitted elsewhere)', async () => {
    listJobs.mockResolvedValue({ items: [], next_cursor: null });
    await store.reload();
    getJob.mockResolvedValue(job('9'));
    stream.event.emit(event(5, '9', 'status', { status: 'queued' }));
    expect(store.size).toBe(0);
    await jest.advanceTimersByTimeAsync(150);
    expect(store.get('9')?.id).toBe('9');
  });

  it('does not fetch the ids of other feeds as jobs', async () => {
    listJobs.mockResolvedValue({ items: [], next_cursor: null });
    await store.reload();
    for (const [kind, id] of [
      ['model', 'models'],
      ['monitor', 'm1'],
      ['sweep', 's1'],
      ['pipeline', 'p1']
    ]) {
      stream.event.emit(event(6, id, kind, { status: 'completed' }));
    }
    await jest.advanceTimersByTimeAsync(150);
    expect(getJob).not.toHaveBeenCalled();
  });

  it('filters, counts and keeps a just-submitted job at once', async () => {
    listJobs.mockResolvedValue({
      items: [job('2', { status: 'failed' }), job('1')],
      next_cursor: null
    });
    await store.reload();
    store.upsert(job('3', { display_name: 'sweep' }));
    expect(store.all()[0].id).toBe('3');
    store.filter = { statuses: ['failed'], text: '' };
    expect(store.visible().map(j => j.id)).toEqual(['2']);
    store.filter = { statuses: [], text: 'sweep' };
    expect(store.visible().map(j => j.id)).toEqual(['3']);
    store.remove(['3']);
    expect(store.visible()).toEqual([]);
    expect(store.size).toBe(2);
  });

  it('keeps 10,000 jobs and filters them quickly', async () => {
    const many = Array.from({ length: 10000 }, (_, i) =>
      job(String(i), {
        created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
        status: i % 10 === 0 ? 'failed' : 'completed'
      })
    );
    listJobs.mockResolvedValue({ items: many, next_cursor: null });
    await store.reload();
    const start = performance.now();
    store.filter = { statuses: ['failed'], text: 'job 999' };
    const visible = store.visible();
    const elapsed = performance.now() - start;
    expect(visible.map(j => j.id)).toEqual(['9990']);
    expect(store.all()[0].id).toBe('9999');
    expect(elapsed).toBeLessThan(200);
  });
});
