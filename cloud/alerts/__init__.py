"""Alerts: pure rules and escalation, the lifecycle, the engine, and its notification channels."""

from cloud.alerts.dispatcher import DispatchPolicy, WebhookDispatcher, retry_delay_s
from cloud.alerts.lifecycle import acknowledge, cancel, expire, record_transition, resolve
from cloud.alerts.rules import AlertDecision, RuleSettings, decide
from cloud.alerts.service import AlertChange, AlertEngine
from cloud.alerts.webhook import sign, verify
from cloud.alerts.worker import EscalationWorker

__all__ = [
    "AlertChange",
    "AlertDecision",
    "AlertEngine",
    "DispatchPolicy",
    "EscalationWorker",
    "RuleSettings",
    "WebhookDispatcher",
    "acknowledge",
    "cancel",
    "decide",
    "expire",
    "record_transition",
    "resolve",
    "retry_delay_s",
    "sign",
    "verify",
]
