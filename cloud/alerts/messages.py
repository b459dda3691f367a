"""Caregiver-facing text of each alert, Korean and English: one line per kind, and full messages.

Messages name the senior, the kind, the severity and the time in the senior's time zone. They
are built from the alert row alone, which has no field for words: no transcript can leak here.
"""

from dataclasses import dataclass
from datetime import datetime

from cloud.alerts.escalation import zone
from cloud.errors import ConfigError
from cloud.store.models import AlertKind, Severity

MESSAGES: dict[AlertKind, tuple[str, str]] = {
    AlertKind.EMERGENCY: (
        "긴급: 어르신이 도움을 요청했습니다",
        "Emergency: the senior called for help",
    ),
    AlertKind.DISTRESS_SOUND: (
        "긴급: 비명이나 신음 같은 소리가 들렸고, 괜찮은지 여쭈었지만 답이 없습니다",
        "Emergency: the robot heard a scream or moaning and the senior did not say they are fine",
    ),
    AlertKind.FALL: (
        "긴급: 어르신이 넘어지신 것 같습니다",
        "Emergency: the senior may have fallen",
    ),
    AlertKind.NO_RESPONSE: (
        "긴급: 어르신이 응답하지 않습니다",
        "Emergency: the senior is not responding",
    ),
    AlertKind.INACTIVITY: (
        "오랫동안 어르신의 움직임이나 목소리가 없습니다",
        "No movement, touch or voice from the senior for a long time",
    ),
    AlertKind.DEVICE_OFFLINE: (
        "돌봄 로봇과 연결이 끊겼습니다",
        "The care robot is offline",
    ),
    AlertKind.MISSED_MEDICATION: (
        "어르신이 약 복용 알림에 여러 번 응답하지 않으셨습니다",
        "The senior missed several medication reminders in a row",
    ),
    AlertKind.MOOD_DECLINE: (
        "최근 일주일 어르신의 기분이 평소보다 많이 가라앉아 있습니다",
        "The senior's mood this week is well below their usual",
    ),
    AlertKind.LOW_BATTERY: (
        "돌봄 로봇의 배터리가 부족합니다",
        "The care robot's battery is low",
    ),
    AlertKind.DEVICE_FAULT: (
        "돌봄 로봇에 고장이 감지되었습니다",
        "The care robot reported a fault",
    ),
    AlertKind.SCREENING: (
        "선별 검사 점수가 기준을 넘었습니다",
        "A screening score is above its threshold",
    ),
}

SEVERITY_NAMES: dict[Severity, tuple[str, str]] = {
    Severity.CRITICAL: ("긴급", "Critical"),
    Severity.MAJOR: ("중요", "Major"),
    Severity.MINOR: ("주의", "Minor"),
    Severity.WARNING: ("경고", "Warning"),
    Severity.INFO: ("알림", "Info"),
    Severity.HIGH: ("중요", "High"),
    Severity.NORMAL: ("알림", "Normal"),
}


def message_for(kind: AlertKind) -> dict[str, str]:
    """`{"ko": ..., "en": ...}` for an alert kind."""
    ko, en = MESSAGES[kind]
    return {"ko": ko, "en": en}


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A notification ready for a channel."""

    subject: str
    body: str


def render(
    *,
    alert_id: int,
    kind: AlertKind,
    severity: Severity,
    at: datetime,
    senior_name: str | None,
    timezone: str,
    language: str,
) -> RenderedMessage:
    """Subject and body in the contact's language (Korean unless it starts with "en")."""
    english = language.lower().startswith("en")
    i = 1 if english else 0
    try:
        local = at.astimezone(zone(timezone))
    except ConfigError:
        local, timezone = at, "UTC"
    when = local.strftime("%Y-%m-%d %H:%M")
    what = MESSAGES[kind][i]
    level = SEVERITY_NAMES[severity][i]
    if english:
        who = senior_name or "the senior"
        subject = f"[dolbom] {level}: {what} ({who})"
        body = (
            f"An alert about {who}.\n\n"
            f"What: {what}\n"
            f"Severity: {level}\n"
            f"When: {when} ({timezone})\n"
            f"Alert: #{alert_id}\n\n"
            "Please acknowledge it in the dolbom app once you are looking after it;"
            " until then the next contact will be told.\n"
        )
    else:
        who = f"{senior_name} 어르신" if senior_name else "어르신"
        subject = f"[돌봄] {level}: {what} ({who})"
        body = (
            f"{who}에 관한 알림입니다.\n\n"
            f"내용: {what}\n"
            f"심각도: {level}\n"
            f"시각: {when} ({timezone})\n"
            f"알림 번호: #{alert_id}\n\n"
            "확인하셨으면 돌봄 앱에서 '확인'을 눌러 주세요."
            " 확인하기 전까지 다음 연락처로 알림이 이어집니다.\n"
        )
    return RenderedMessage(subject, body)
