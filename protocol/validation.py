"""Pydantic's validation errors as one line per problem, in Korean and English.

Shared by the robot's config, the phrase files, the scenario files and the cloud's escalation
policy: every line names the source (a file, a policy), the key and the reason.
"""

from pydantic import ValidationError

KO_REASONS = {
    "missing": "꼭 필요한 키입니다",
    "extra_forbidden": "알 수 없는 키입니다",
    "unexpected_keyword_argument": "알 수 없는 키입니다",
    "float_type": "숫자여야 합니다",
    "float_parsing": "숫자여야 합니다",
    "finite_number": "유한한 숫자여야 합니다",
    "int_type": "정수여야 합니다",
    "int_parsing": "정수여야 합니다",
    "bool_type": "true 또는 false 여야 합니다",
    "string_type": "문자열(따옴표)이어야 합니다",
    "literal_error": "허용된 값 중 하나여야 합니다",
    "enum": "허용된 값 중 하나여야 합니다",
    "greater_than": "더 큰 값이어야 합니다",
    "greater_than_equal": "더 큰 값이어야 합니다",
    "less_than": "더 작은 값이어야 합니다",
    "less_than_equal": "더 작은 값이어야 합니다",
    "string_too_short": "비어 있으면 안 됩니다",
    "string_too_long": "너무 깁니다",
    "string_pattern_mismatch": "형식이 맞지 않습니다",
    "too_short": "항목이 모자랍니다",
    "too_long": "항목이 너무 많습니다",
    "list_type": "목록이어야 합니다",
    "tuple_type": "목록이어야 합니다",
    "dict_type": "표(객체)여야 합니다",
    "model_type": "표(객체)여야 합니다",
    "model_attributes_type": "표(객체)여야 합니다",
    "dataclass_type": "표([섹션])여야 합니다",
    "dataclass_exact_type": "표([섹션])여야 합니다",
    "path_type": "경로 문자열이어야 합니다",
    "datetime_type": "UTC 오프셋이 있는 날짜·시각이어야 합니다",
    "timezone_aware": "UTC 오프셋이 있는 날짜·시각이어야 합니다",
    "value_error": "값이 올바르지 않습니다",
}
"""Korean for pydantic's error types; the English is pydantic's own message."""


def reason_ko(error_type: str) -> str:
    """The Korean reason for one pydantic error type."""
    return KO_REASONS.get(error_type, "값이 올바르지 않습니다")


def describe_errors(error: ValidationError, source: str, *, limit: int = 10) -> str:
    """One line per problem (at most `limit`): `source: key = value: 한국어 / English`."""
    lines = []
    for problem in error.errors(include_url=False)[:limit]:
        where = ".".join(str(part) for part in problem["loc"]) or "(top)"
        en = str(problem["msg"]).removeprefix("Value error, ")
        given = problem.get("input")
        shown = "" if problem["type"] == "missing" or isinstance(given, dict | list) else given
        value = f" = {shown!r}"[:80] if shown != "" else ""
        lines.append(f"{source}: {where}{value}: {reason_ko(problem['type'])} / {en}")
    return "\n".join(lines)
