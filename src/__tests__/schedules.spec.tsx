import { ServerConnection } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';
import React, { act } from 'react';
import { createRoot } from 'react-dom/client';

import {
  EventStream,
  IJobEvent,
  ISchedule,
  IScheduleRun,
  JobStatus,
  MlbenchClient
} from '../api';
import {
  cronInWords,
  ruleInWords,
  runState,
  wallTime
} from '../schedules/model';
import {
  SCHEDULES_POLL_MS,
  SchedulesSection
} from '../schedules/schedules-section';

function schedule(extra: Partial<ISchedule> = {}): ISchedule {
  return {
    id: 'sc1',
    name: 'nightly',
    description: '',
    enabled: true,
    trigger: { cron: '0 2 * * *', timezone: 'Europe/Berlin' },
    kind: 'job',
    action: { notebook_path: '/root/train.ipynb' },
    missed: { policy: 'skip', grace_s: 300, max_catch_up: 10 },
    owner: 'me',
    created_at: '2026-12-01T00:00:00Z',
    updated_at: '2026-12-01T00:00:00Z',
    last_tick: null,
    next_fire_at: '2026-12-03T01:00:00Z',
    next_fire_wall: '2026-12-03T02:00:00+01:00',
    describe: "cron '0 2 * * *' (Europe/Berlin)",
    ...extra
  } as ISchedule;
}

function run(id: number, extra: Partial<IScheduleRun> = {}): IScheduleRun {
  return {
    id,
    schedule_id: 'sc1',
    tick: '2026-12-02T01:00:00Z',
    wall: '2026-12-02T02:00:00+01:00',
    status: 'submitted',
    kind: 'job',
    target_id: `job${id}`,
    error: null,
    created_at: '2026-12-02T01:00:00Z',
    fired_at: '2026-12-02T01:00:00.02Z',
    late_s: 0.02,
    ...extra
  } as IScheduleRun;
}

describe('schedules model', () => {
  it('says common cron rules in words', () => {
    expect(cronInWords('* * * * *')).toBe('every minute');
    expect(cronInWords('*/15 * * * *')).toBe('every 15 minutes');
    expect(cronInWords('5 * * * *')).toBe('every hour at :05');
    expect(cronInWords('0 2 * * *')).toBe('every day at 02:00');
    expect(cronInWords('30 6 * * 1-5')).toBe('weekdays at 06:30');
    expect(cronInWords('0 9 * * mon,thu')).toBe('Mon, Thu at 09:00');
    expect(cronInWords('0 9 * * 0')).toBe('Sun at 09:00');
    expect(cronInWords('0 3 1 * *')).toBe('monthly on day 1 at 03:00');
    expect(cronInWords('0 3 1 6 *')).toBeNull();
    expect(cronInWords('nonsense')).toBeNull();
  });

  it('gives the rule with its zone, or the server description', () => {
    expect(ruleInWords(schedule())).toBe('every day at 02:00 (Europe/Berlin)');
    expect(
      ruleInWords(
        schedule({
          trigger: {
            recurrence: {
              frequency: 'week',
              interval: 2,
              week_days: ['monday', 'thursday'],
              hours: [9],
              minutes: [0]
            },
            timezone: 'America/New_York'
          }
        })
      )
    ).toBe('every 2 weeks on Mon, Thu at 09:00 (America/New_York)');
    expect(
      ruleInWords(
        schedule({
          trigger: { cron: '0 3 1 6 *', timezone: 'UTC' },
          describe: "cron '0 3 1 6 *' (UTC)"
        })
      )
    ).toBe("cron '0 3 1 6 *' (UTC)");
  });

  it("reads a time on the schedule's wall clock, not the browser's", () => {
    expect(wallTime('2026-12-03T02:00:00+01:00')).toBe(
      'Thu 3 Dec 2026, 02:00 (UTC+01:00)'
    );
    // the spring-forward jump in Berlin: the run at 03:00 summer time
    expect(wallTime('2026-03-29T03:00:00+02:00')).toBe(
      'Sun 29 Mar 2026, 03:00 (UTC+02:00)'
    );
    expect(wallTime('2026-12-03T02:00:00+00:00')).toBe(
      'Thu 3 Dec 2026, 02:00 (UTC)'
    );
    expect(wallTime(null)).toBe('—');
  });

  it("shows a started job's own status", () => {
    const jobs = new Map<string, JobStatus>([['job1', 'failed']]);
    expect(runState(run(1), jobs)).toBe('failed');
    expect(runState(run(2), jobs)).toBe('submitted');
    expect(runState(run(3, { status: 'missed', target_id: null }), jobs)).toBe(
      'missed'
    );
  });
});

class StreamDouble {
  event = new Signal<any, IJobEvent>(this);
  reset = new Signal<any, void>(this);
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await act(async () => {
      await Promise.resolve();
    });
  }
}

describe('SchedulesSection', () => {
  beforeAll(() => {
    (
      globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }
    ).IS_REACT_ACT_ENVIRONMENT = true;
  });

  it('lists schedules with their next run and last runs; pauses; follows events', async () => {
    jest.useFakeTimers();
    const client = new MlbenchClient(ServerConnection.makeSettings());
    let enabled = true;
    let runs = [run(2, { status: 'missed', target_id: null }), run(1)];
    const list = jest
      .spyOn(client, 'listSchedules')
      .mockImplementation(async () => ({
        items: [
          schedule(
            enabled
              ? {}
              : { enabled: false, next_fire_at: null, next_fire_wall: null }
          )
        ]
      }));
    jest
      .spyOn(client, 'scheduleRuns')
      .mockImplementation(async () => ({ items: runs }));
    jest
      .spyOn(client, 'getJob')
      .mockImplementation(
        async id =>
          ({ id, status: 'running' }) as Awaited<
            ReturnType<MlbenchClient['getJob']>
          >
      );
    const pause = jest
      .spyOn(client, 'pauseSchedule')
      .mockImplementation(async () => {
        enabled = false;
        return schedule({ enabled: false });
      });
    const stream = new StreamDouble();
    const openJob = jest.fn();
    const host = document.createElement('div');
    document.body.appendChild(host);
    const root = createRoot(host);
    act(() => {
      root.render(
        <SchedulesSection
          client={client}
          stream={stream as unknown as EventStream}
          onOpenJob={openJob}
        />
      );
    });
    await flush();
    const item = host.querySelector('[data-schedule="nightly"]')!;
    expect(item.textContent).toContain('every day at 02:00 (Europe/Berlin)');
    expect(item.textContent).toContain(
      'Next: Thu 3 Dec 2026, 02:00 (UTC+01:00)'
    );
    const states = Array.from(
      item.querySelectorAll('.mlbench-Schedule-run')
    ).map(li => li.getAttribute('data-status'));
    expect(states).toEqual(['missed', 'running']);

    // the job's status event moves its run's state, without a reload
    act(() => {
      stream.event.emit({
        id: 1,
        job_id: 'job1',
        kind: 'status',
        data: { status: 'completed' },
        created_at: ''
      });
    });
    expect(
      item.querySelector('[data-status="completed"]')?.textContent
    ).toContain('Wed 2 Dec 2026, 02:00');
    (item.querySelector('.mlbench-Schedule-link') as HTMLButtonElement).click();
    expect(openJob).toHaveBeenCalledWith('job1');

    // pause
    const pauseButton = Array.from(item.querySelectorAll('button')).find(
      b => b.textContent === 'Pause'
    )!;
    await act(async () => {
      pauseButton.click();
    });
    await flush();
    expect(pause).toHaveBeenCalledWith('sc1');
    const paused = host.querySelector('[data-schedule="nightly"]')!;
    expect(paused.textContent).toContain('paused');
    expect(paused.textContent).toContain('Paused: no next run');
    expect(
      Array.from(paused.querySelectorAll('button')).some(
        b => b.textContent === 'Resume'
      )
    ).toBe(true);

    // a fired tick (a schedule event) reloads the list
    runs = [run(3), ...runs];
    const before = list.mock.calls.length;
    act(() => {
      stream.event.emit({
        id: 2,
        job_id: 'sc1',
        kind: 'schedule',
        data: { status: 'fired' },
        created_at: ''
      });
    });
    await act(async () => {
      jest.advanceTimersByTime(300);
    });
    await flush();
    expect(list.mock.calls.length).toBe(before + 1);
    expect(host.querySelectorAll('.mlbench-Schedule-run').length).toBe(3);

    // a change made elsewhere sends no event: the list is read again
    const polled = list.mock.calls.length;
    await act(async () => {
      jest.advanceTimersByTime(SCHEDULES_POLL_MS);
    });
    await flush();
    expect(list.mock.calls.length).toBe(polled + 1);
    act(() => root.unmount());
    jest.useRealTimers();
  });
});
