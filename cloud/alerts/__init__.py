"""Alerts: pure rules, the lifecycle engine, signed webhooks and their dispatcher."""

from cloud.alerts.dispatcher import DispatchPolicy, WebhookDispatcher, retry_delay_s
from cloud.alerts.rules import AlertDecision, decide
from cloud.alerts.service import AlertChange, AlertEngine, record_transition
from cloud.alerts.webhook import sign, verify

__all__ = [
    "AlertChange",
    "AlertDecision",
    "AlertEngine",
    "DispatchPolicy",
    "WebhookDispatcher",
    "decide",
    "record_transition",
    "retry_delay_s",
    "sign",
    "verify",
]
