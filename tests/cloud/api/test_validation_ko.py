"""Pydantic's validation errors become one bilingual line per error: the field path first, the
Korean chosen by the error's type with its ctx values, then pydantic's English."""

import typing
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

import pytest
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ErrorType

from cloud.api.validation import KOREAN, MAX_ERRORS, UNKNOWN_KO, describe, translate
from cloud.errors import both, is_bilingual


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Inner(BaseModel):
    n: int


class Form(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="x", min_length=2, max_length=5, pattern=r"^[a-z]+$")
    count: int = Field(default=3, ge=1, le=10)
    above: int = Field(default=5, gt=0, lt=100, multiple_of=5)
    ratio: float = 0.5
    flag: bool = False
    kind: Literal["csv", "parquet"] = "csv"
    colour: Colour = Colour.RED
    tags: list[str] = Field(default_factory=lambda: ["a"], min_length=1, max_length=2)
    inner: Inner = Inner(n=1)
    day: date = date(2026, 1, 1)
    at: datetime = datetime(2026, 1, 1)
    aware: AwareDatetime | None = None
    clock: time = time(9, 0)
    ident: UUID | None = None
    pair: str = "a-b"
    required: str

    @field_validator("pair")
    @classmethod
    def _pair(cls, value: str) -> str:
        if value == "ko":
            raise ValueError(both("둘 다 적으세요", "give both"))
        if "-" not in value:
            raise ValueError("needs a dash")
        return value


BASE: dict[str, Any] = {"required": "yes"}


def _one(**fields: Any) -> dict[str, Any]:
    with pytest.raises(ValidationError) as info:
        Form.model_validate(BASE | fields)
    [error] = info.value.errors()
    return dict(error)


@pytest.mark.parametrize(
    ("fields", "kind", "korean"),
    [
        ({"name": "a"}, "string_too_short", "name: 2자 이상이어야 합니다 / "),
        ({"name": "abcdef"}, "string_too_long", "name: 5자 이하여야 합니다 / "),
        ({"name": "AB"}, "string_pattern_mismatch", "name: 형식이 맞지 않습니다(패턴 ^[a-z]+$) / "),
        ({"name": 5}, "string_type", "name: 문자열이어야 합니다 / "),
        ({"count": 0}, "greater_than_equal", "count: 1 이상이어야 합니다 / "),
        ({"count": 11}, "less_than_equal", "count: 10 이하여야 합니다 / "),
        ({"count": "many"}, "int_parsing", "count: 정수로 읽을 수 없습니다 / "),
        ({"count": 1.5}, "int_from_float", "count: 소수점 없는 정수여야 합니다 / "),
        ({"above": -5}, "greater_than", "above: 0보다 커야 합니다 / "),
        ({"above": 100}, "less_than", "above: 100보다 작아야 합니다 / "),
        ({"above": 7}, "multiple_of", "above: 5의 배수여야 합니다 / "),
        ({"ratio": "half"}, "float_parsing", "ratio: 숫자로 읽을 수 없습니다 / "),
        ({"flag": "maybe"}, "bool_parsing", "flag: 참/거짓(true/false) 값이어야 합니다 / "),
        ({"kind": "xls"}, "literal_error", "kind: 다음 중 하나여야 합니다: 'csv', 'parquet' / "),
        ({"colour": "green"}, "enum", "colour: 다음 중 하나여야 합니다: 'red', 'blue' / "),
        ({"tags": []}, "too_short", "tags: 항목이 1개 이상이어야 합니다 / "),
        ({"tags": ["a", "b", "c"]}, "too_long", "tags: 항목은 2개까지입니다 / "),
        ({"tags": "a"}, "list_type", "tags: 목록(JSON 배열)이어야 합니다 / "),
        ({"inner": 3}, "model_type", "inner: JSON 객체여야 합니다 / "),
        ({"inner": {}}, "missing", "inner.n: 꼭 필요한 항목입니다 / "),
        ({"day": "yesterday"}, "date_from_datetime_parsing", "day: 날짜(YYYY-MM-DD)여야 합니다 / "),
        ({"at": "soon"}, "datetime_from_date_parsing", "at: 날짜와 시각(ISO 8601"),
        ({"aware": "2026-01-01T09:00:00"}, "timezone_aware", "aware: 시간대(예: +09:00)가"),
        ({"clock": "noon"}, "time_parsing", "clock: 시각(HH:MM)이어야 합니다 / "),
        ({"ident": "not-a-uuid"}, "uuid_parsing", "ident: UUID여야 합니다 / "),
        ({"extra": 1}, "extra_forbidden", "extra: 받지 않는 항목입니다 / "),
        ({"pair": "ab"}, "value_error", "pair: 값이 올바르지 않습니다 / Value error, needs a dash"),
    ],
)
def test_each_mapped_error_type_is_said_in_korean_with_its_values(
    fields: dict[str, Any], kind: str, korean: str
) -> None:
    error = _one(**fields)
    assert error["type"] == kind
    line = translate(error)
    assert line.startswith(korean)
    assert line.endswith(" / " + error["msg"]) or kind == "value_error"
    assert is_bilingual(line)


def test_a_missing_required_field_is_named_at_its_path() -> None:
    with pytest.raises(ValidationError) as info:
        Form.model_validate({})
    assert describe(info.value.errors()) == "required: 꼭 필요한 항목입니다 / Field required"


def test_invalid_json_keeps_the_parsers_reason_in_both_parts() -> None:
    with pytest.raises(ValidationError) as info:
        Form.model_validate_json('{"required": ')
    [error] = info.value.errors()
    assert error["type"] == "json_invalid"
    line = translate(error)
    assert line.startswith("request: JSON 형식이 잘못되었습니다(EOF while parsing")
    assert "/ Invalid JSON: EOF while parsing" in line


def test_a_validator_that_already_speaks_both_languages_is_not_wrapped_again() -> None:
    assert translate(_one(pair="ko")) == "pair: 둘 다 적으세요 / give both"


def test_an_unmapped_error_type_falls_back_to_a_korean_prefix_and_pydantics_english() -> None:
    error = {
        "type": "frobnicated",
        "loc": ("body", "x"),
        "msg": "x is frobnicated",
        "ctx": None,
    }
    assert translate(error) == f"body.x: {UNKNOWN_KO} / x is frobnicated"
    custom = PydanticCustomError("my_rule", "broke {what}", {"what": "it"})
    assert "/ broke it" in translate({"type": custom.type, "loc": (), "msg": custom.message()})


def test_more_errors_than_shown_are_counted() -> None:
    errors = [
        {"type": "missing", "loc": ("body", f"f{i}"), "msg": "Field required"} for i in range(7)
    ]
    text = describe(errors)
    assert text.count("꼭 필요한 항목입니다") == MAX_ERRORS
    assert text.endswith("; 외 2건 / and 2 more")


def test_every_mapped_type_is_one_pydantic_knows() -> None:
    known = set(typing.get_args(ErrorType))
    assert set(KOREAN) <= known
