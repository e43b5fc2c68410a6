/**
 * What the Schedules section shows, as plain functions: a rule in words,
 * a wall-clock time as the schedule's zone reads it, a run's state.
 */
import type { ISchedule, IScheduleRun, JobStatus } from '../api';

type Trigger = ISchedule['trigger'];

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const DAY_NAMES: { [key: string]: number } = {
  sun: 0,
  mon: 1,
  tue: 2,
  wed: 3,
  thu: 4,
  fri: 5,
  sat: 6
};
const MONTHS = [
  'Jan',
  'Feb',
  'Mar',
  'Apr',
  'May',
  'Jun',
  'Jul',
  'Aug',
  'Sep',
  'Oct',
  'Nov',
  'Dec'
];

function pad(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function isNumber(field: string): boolean {
  return /^\d+$/.test(field);
}

function clock(hour: string, minute: string): string {
  return `${pad(Number(hour))}:${pad(Number(minute))}`;
}

function weekdays(field: string): string | null {
  const lower = field.toLowerCase();
  if (lower === '1-5' || lower === 'mon-fri') {
    return 'weekdays';
  }
  if (lower === '0,6' || lower === '6,0' || lower === 'sat,sun') {
    return 'weekends';
  }
  const days: number[] = [];
  for (const part of lower.split(',')) {
    const day = isNumber(part) ? Number(part) % 7 : DAY_NAMES[part.slice(0, 3)];
    if (day === undefined) {
      return null;
    }
    days.push(day);
  }
  return days.map(d => DAYS[d]).join(', ');
}

/**
 * A 5-field cron expression in words for the common shapes; null for the
 * others (the server's own description is shown then).
 */
export function cronInWords(expr: string): string | null {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) {
    return null;
  }
  const [minute, hour, dom, month, dow] = fields;
  const anyDay = dom === '*' && month === '*';
  if (anyDay && dow === '*') {
    if (minute === '*' && hour === '*') {
      return 'every minute';
    }
    const step = /^\*\/(\d+)$/.exec(minute);
    if (step && hour === '*') {
      return `every ${step[1]} minutes`;
    }
    if (isNumber(minute) && hour === '*') {
      return `every hour at :${pad(Number(minute))}`;
    }
    if (isNumber(minute) && isNumber(hour)) {
      return `every day at ${clock(hour, minute)}`;
    }
  }
  if (anyDay && isNumber(minute) && isNumber(hour)) {
    const days = weekdays(dow);
    if (days) {
      return `${days} at ${clock(hour, minute)}`;
    }
  }
  if (
    isNumber(dom) &&
    month === '*' &&
    dow === '*' &&
    isNumber(minute) &&
    isNumber(hour)
  ) {
    return `monthly on day ${Number(dom)} at ${clock(hour, minute)}`;
  }
  return null;
}

function recurrenceInWords(r: NonNullable<Trigger['recurrence']>): string {
  const interval = r.interval ?? 1;
  let text =
    interval === 1
      ? `every ${r.frequency}`
      : `every ${interval} ${r.frequency}s`;
  if (r.week_days?.length) {
    text += ` on ${r.week_days
      .map(d => d.charAt(0).toUpperCase() + d.slice(1, 3))
      .join(', ')}`;
  }
  if (r.month_days?.length) {
    text += ` on day ${r.month_days.join(', ')}`;
  }
  const hours = r.hours ?? [];
  const minutes = r.minutes ?? [];
  if (hours.length && minutes.length) {
    const times: string[] = [];
    for (const h of hours) {
      for (const m of minutes) {
        times.push(`${pad(h)}:${pad(m)}`);
      }
    }
    text += ` at ${times.join(', ')}`;
  } else if (hours.length) {
    text += ` at ${hours.map(h => `${pad(h)}:00`).join(', ')}`;
  } else if (minutes.length) {
    text += ` at minute ${minutes.join(', ')}`;
  }
  return text;
}

/**
 * The rule in words with its zone, e.g. "every day at 02:00 (Europe/Berlin)".
 */
export function ruleInWords(
  info: Pick<ISchedule, 'trigger' | 'describe'>
): string {
  const trigger = info.trigger;
  const zone = trigger.timezone ?? 'UTC';
  if (trigger.cron) {
    const words = cronInWords(trigger.cron);
    return words ? `${words} (${zone})` : info.describe || trigger.cron;
  }
  if (trigger.recurrence) {
    return `${recurrenceInWords(trigger.recurrence)} (${zone})`;
  }
  return info.describe ?? '';
}

/**
 * An ISO time with its offset, read as written, i.e. on the wall clock of
 * the schedule's zone (not the browser's): "Thu 3 Dec 2026, 02:00 (UTC+01:00)".
 */
export function wallTime(wall: string | null | undefined): string {
  if (!wall) {
    return '—';
  }
  const m =
    /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::\d\d(?:\.\d+)?)?(Z|[+-]\d\d:\d\d)?$/.exec(
      wall
    );
  if (!m) {
    return wall;
  }
  const [, y, mo, d, h, mi, offset] = m;
  const day = new Date(
    Date.UTC(Number(y), Number(mo) - 1, Number(d))
  ).getUTCDay();
  const zone =
    !offset || offset === 'Z' || offset === '+00:00' ? 'UTC' : `UTC${offset}`;
  return `${DAYS[day]} ${Number(d)} ${MONTHS[Number(mo) - 1]} ${y}, ${h}:${mi} (${zone})`;
}

/**
 * A run's state as the list shows it: the job's own status once a job was
 * started (and is known), else the run's (missed, failed, claimed).
 */
export function runState(
  run: Pick<IScheduleRun, 'status' | 'target_id'>,
  jobs: ReadonlyMap<string, JobStatus>
): string {
  if (run.status === 'submitted' && run.target_id) {
    return jobs.get(run.target_id) ?? 'submitted';
  }
  return run.status;
}
