"""Schedules: cron or recurrence rules, in a time zone, that start jobs and sweeps."""

from mlbench.schedules.clock import ManualClock, SystemClock
from mlbench.schedules.models import MissedRuns, Recurrence, ScheduleInfo, ScheduleSpec, Trigger
from mlbench.schedules.service import Schedules, preview

__all__ = [
    "ManualClock",
    "MissedRuns",
    "Recurrence",
    "ScheduleInfo",
    "ScheduleSpec",
    "Schedules",
    "SystemClock",
    "Trigger",
    "preview",
]
