"""The caregiver-facing text of each alert kind, Korean first, English second."""

from cloud.store.models import AlertKind

MESSAGES: dict[AlertKind, tuple[str, str]] = {
    AlertKind.EMERGENCY: (
        "긴급: 어르신이 도움을 요청했습니다",
        "Emergency: the senior called for help",
    ),
    AlertKind.FALL: (
        "긴급: 어르신이 넘어지신 것 같습니다",
        "Emergency: the senior may have fallen",
    ),
    AlertKind.NO_RESPONSE: (
        "긴급: 어르신이 응답하지 않습니다",
        "Emergency: the senior is not responding",
    ),
}


def message_for(kind: AlertKind) -> dict[str, str]:
    """`{"ko": ..., "en": ...}` for an alert kind."""
    ko, en = MESSAGES[kind]
    return {"ko": ko, "en": en}
