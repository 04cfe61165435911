"""Notifications on state change (apprise), storm grouping, retries through an outbox."""
from runbook_lib.alerts.notify import Notifier, notifier_from_config
from runbook_lib.alerts.targets import Target, resolve_targets

__all__ = ["Notifier", "Target", "notifier_from_config", "resolve_targets"]
