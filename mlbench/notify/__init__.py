"""Notifications: rules that send job, sweep and schedule events to webhooks, Slack or email."""

from mlbench.notify.models import EVENTS, DeliveryInfo, NotificationInfo, NotificationSpec
from mlbench.notify.service import Notifications

__all__ = ["EVENTS", "DeliveryInfo", "NotificationInfo", "NotificationSpec", "Notifications"]
