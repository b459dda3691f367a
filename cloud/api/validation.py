"""Pydantic's validation errors as the API's one-line bilingual `detail`: each error keeps its
field path first (`body.target: ...`), then Korean chosen by the error's `type` with its `ctx`
values, then pydantic's English message. Pure functions, no FastAPI import."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cloud.errors import both, is_bilingual

MAX_ERRORS = 5
"""Errors named in one detail; the rest are counted."""

_Ctx = Mapping[str, Any]


def _choices(ctx: _Ctx) -> str:
    return str(ctx.get("expected", "")).replace(" or ", ", ")


def _fixed(text: str) -> Callable[[_Ctx], str]:
    return lambda _ctx: text


_DATE = _fixed("날짜(YYYY-MM-DD)여야 합니다")
_DATETIME = _fixed("날짜와 시각(ISO 8601, 예: 2026-01-31T09:00:00+09:00)이어야 합니다")
_TIME = _fixed("시각(HH:MM)이어야 합니다")
_OBJECT = _fixed("JSON 객체여야 합니다")
_NUMBER = _fixed("숫자여야 합니다")
_INTEGER = _fixed("정수여야 합니다")
_BOOL = _fixed("참/거짓(true/false) 값이어야 합니다")
_URL = _fixed("올바른 URL이어야 합니다")
_UUID = _fixed("UUID여야 합니다")

KOREAN: dict[str, Callable[[_Ctx], str]] = {
    "missing": _fixed("꼭 필요한 항목입니다"),
    "missing_argument": _fixed("꼭 필요한 항목입니다"),
    "extra_forbidden": _fixed("받지 않는 항목입니다"),
    "unexpected_keyword_argument": _fixed("받지 않는 항목입니다"),
    "string_type": _fixed("문자열이어야 합니다"),
    "string_unicode": _fixed("올바른 유니코드 문자열이어야 합니다"),
    "string_too_short": lambda c: f"{c.get('min_length')}자 이상이어야 합니다",
    "string_too_long": lambda c: f"{c.get('max_length')}자 이하여야 합니다",
    "string_pattern_mismatch": lambda c: f"형식이 맞지 않습니다(패턴 {c.get('pattern')})",
    "too_short": lambda c: f"항목이 {c.get('min_length')}개 이상이어야 합니다",
    "too_long": lambda c: f"항목은 {c.get('max_length')}개까지입니다",
    "int_type": _INTEGER,
    "int_parsing": _fixed("정수로 읽을 수 없습니다"),
    "int_parsing_size": _fixed("정수가 너무 큽니다"),
    "int_from_float": _fixed("소수점 없는 정수여야 합니다"),
    "float_type": _NUMBER,
    "float_parsing": _fixed("숫자로 읽을 수 없습니다"),
    "finite_number": _fixed("유한한 숫자여야 합니다"),
    "decimal_type": _NUMBER,
    "decimal_parsing": _fixed("숫자로 읽을 수 없습니다"),
    "bool_type": _BOOL,
    "bool_parsing": _BOOL,
    "greater_than": lambda c: f"{c.get('gt')}보다 커야 합니다",
    "greater_than_equal": lambda c: f"{c.get('ge')} 이상이어야 합니다",
    "less_than": lambda c: f"{c.get('lt')}보다 작아야 합니다",
    "less_than_equal": lambda c: f"{c.get('le')} 이하여야 합니다",
    "multiple_of": lambda c: f"{c.get('multiple_of')}의 배수여야 합니다",
    "literal_error": lambda c: f"다음 중 하나여야 합니다: {_choices(c)}",
    "enum": lambda c: f"다음 중 하나여야 합니다: {_choices(c)}",
    "json_invalid": lambda c: f"JSON 형식이 잘못되었습니다({c.get('error')})",
    "json_type": _fixed("JSON 문자열이어야 합니다"),
    "model_type": _OBJECT,
    "model_attributes_type": _OBJECT,
    "dict_type": _OBJECT,
    "list_type": _fixed("목록(JSON 배열)이어야 합니다"),
    "tuple_type": _fixed("목록(JSON 배열)이어야 합니다"),
    "set_type": _fixed("목록(JSON 배열)이어야 합니다"),
    "none_required": _fixed("값이 없어야(null) 합니다"),
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": _fixed("시각 없이 날짜만 적어야 합니다"),
    "date_past": _fixed("지난 날짜여야 합니다"),
    "date_future": _fixed("앞으로의 날짜여야 합니다"),
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "datetime_object_invalid": _DATETIME,
    "datetime_past": _fixed("지난 시각이어야 합니다"),
    "datetime_future": _fixed("앞으로의 시각이어야 합니다"),
    "timezone_aware": _fixed("시간대(예: +09:00)가 있는 시각이어야 합니다"),
    "timezone_naive": _fixed("시간대 없는 시각이어야 합니다"),
    "time_type": _TIME,
    "time_parsing": _TIME,
    "time_delta_type": _fixed("기간이어야 합니다"),
    "time_delta_parsing": _fixed("기간으로 읽을 수 없습니다"),
    "url_type": _URL,
    "url_parsing": _URL,
    "url_syntax_violation": _URL,
    "url_scheme": lambda c: f"URL의 스킴은 {c.get('expected_schemes')} 중 하나여야 합니다",
    "url_too_long": lambda c: f"URL은 {c.get('max_length')}자 이하여야 합니다",
    "uuid_type": _UUID,
    "uuid_parsing": _UUID,
    "bytes_type": _fixed("바이트 문자열이어야 합니다"),
    "bytes_too_short": lambda c: f"{c.get('min_length')}바이트 이상이어야 합니다",
    "bytes_too_long": lambda c: f"{c.get('max_length')}바이트 이하여야 합니다",
    "union_tag_invalid": lambda c: f"종류({c.get('discriminator')})가 올바르지 않습니다",
    "union_tag_not_found": lambda c: f"종류({c.get('discriminator')})를 적어야 합니다",
    "value_error": _fixed("값이 올바르지 않습니다"),
    "assertion_error": _fixed("값이 올바르지 않습니다"),
}
UNKNOWN_KO = "입력이 올바르지 않습니다"
"""The Korean for an error type not in KOREAN (pydantic's English follows it)."""


def where(loc: Sequence[int | str]) -> str:
    """The field path, `body.tiers.0.contact_ids`; `request` for a whole-request error."""
    return ".".join(str(p) for p in loc) or "request"


def translate(error: Mapping[str, Any]) -> str:
    """One error: `path: 한국어 / English`."""
    at = where(error.get("loc", ()))
    english = str(error.get("msg", "invalid"))
    ctx: _Ctx = error.get("ctx") or {}
    if error.get("type") == "value_error" and is_bilingual(str(ctx.get("error", ""))):
        return f"{at}: {ctx['error']}"  # our own validators already say it in both
    korean = KOREAN.get(str(error.get("type")), _fixed(UNKNOWN_KO))
    return both(korean(ctx), english, at=at)


def describe(errors: Sequence[Mapping[str, Any]]) -> str:
    """Up to MAX_ERRORS errors, `; `-separated, then how many more there are."""
    text = "; ".join(translate(e) for e in errors[:MAX_ERRORS])
    more = len(errors) - MAX_ERRORS
    if more > 0:
        text += f"; 외 {more}건 / and {more} more"
    return text
