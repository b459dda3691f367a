"""The words of a status line's reasons (status.Reason) in the caller's language: "robot offline
since 02:10", "no sign of life for 9 h", "battery 8 %"; times in the senior's zone."""

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cloud.app.i18n import Lang, local_datetime, message
from cloud.app.status import Reason, Why


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _at(ts: datetime, now: datetime, tz: str, lang: Lang) -> str:
    """'02:10' today (in the senior's zone), else '12-04 02:10'."""
    zone = _zone(tz)
    ts = ts if ts.tzinfo is not None else ts.replace(tzinfo=now.tzinfo)
    same_day = ts.astimezone(zone).date() == now.astimezone(zone).date()
    return local_datetime(ts, zone, lang, "HH:mm" if same_day else "MM-dd HH:mm")


def _for(since: datetime, now: datetime) -> int:
    """Whole hours from `since` to `now` (never negative)."""
    since = since if since.tzinfo is not None else since.replace(tzinfo=now.tzinfo)
    return max(0, int((now - since).total_seconds() // 3600))


def reason_text(reason: Reason, lang: Lang, now: datetime, tz: str) -> str:
    """One reason in `lang`."""
    why, since, value = reason.why, reason.since, reason.value
    if why in (Why.ALERT, Why.ACKNOWLEDGED):
        kind = message(lang, f"kind_{reason.name}")  # msgids.py
        at = _at(since, now, tz, lang) if since else ""
        if why is Why.ALERT:
            return message(lang, "why_alert", kind=kind, at=at)
        return message(lang, "why_acknowledged", kind=kind, at=at)
    if why is Why.NO_LIFE_SIGN:
        if since is None:
            return message(lang, "why_no_life_sign_ever")
        return message(lang, "why_no_life_sign", n=_for(since, now))
    if why is Why.NO_ROBOT:
        return message(lang, "no_robot")
    if why is Why.OFFLINE:
        if since is None:
            return message(lang, "why_offline")
        return message(lang, "why_offline_since", at=_at(since, now, tz, lang))
    if why is Why.MISSED_MEDICATION:
        return message(lang, "concern_missed_medication", n=int(value or 0))
    if why is Why.MOOD:
        return message(lang, "concern_mood")
    if why is Why.SCREENING:
        return message(lang, "concern_screening", name=reason.name, score=f"{value or 0:.0f}")
    if why is Why.BATTERY:
        return message(lang, "why_battery", pct=f"{value or 0:.0f}")
    return message(lang, "why_faults", names=reason.name)
