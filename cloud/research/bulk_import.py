"""Bulk import of assessments from a CSV file, with the date each was really taken.

One row per administered instrument::

    participant,instrument,visit_date,time_point,item_1,...,item_15,total,total_reason
    P-7K2M9Q,gds15,2026-03-02,,1,0,0,...,
    P-7K2M9Q,ucla3,2026-04-27,week8,,,,...,6,paper form: items not transcribed

- ``visit_date`` (YYYY-MM-DD, the participant's local date) is when it was taken; the study
  day follows from it (visit date minus enrolment date) and, when ``time_point`` is empty, the
  time point is the scheduled one whose window holds that day.
- Item answers score by the published key (``protocol.instruments``); a ``total`` alone is
  accepted only for instruments whose total says all the study needs (GDS-15, SGDS-K, UCLA-3),
  and only with a ``total_reason``, stored with the assessment (flag ``total_only: …``). PHQ-9
  needs its items: item 9 (thoughts of self-harm) raises a flag a total would hide.
- All or nothing: every row is checked first; one bad row refuses the whole file with errors
  naming the line and column (Korean and English), and nothing is stored.
- Refused: files over ``MAX_BYTES`` or ``MAX_ROWS`` rows, text that is not UTF-8 (Excel's
  "CSV UTF-8" works; CP949 is named in the error), unknown or missing columns, a row repeated
  in the file, a visit already stored for that participant, instrument and date, a second
  baseline, dates before enrolment or in the future, and cells that a spreadsheet would run
  as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return).
"""

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.accounts.errors import ConflictError, InvalidInputError
from cloud.research.instruments import (
    _refuse_second_baseline,
    _schedule,
    _screening_consented,
    assign_time_point,
    record_assessment,
    score_answers,
)
from cloud.store.models import (
    Assessment,
    AssessmentSource,
    Participant,
    ParticipantStatus,
    StudyTimePoint,
)
from protocol.instruments import INSTRUMENTS, InstrumentId, get_instrument

__all__ = [
    "COLUMNS",
    "MAX_BYTES",
    "MAX_ROWS",
    "TOTAL_ONLY_ALLOWED",
    "ImportRefused",
    "ImportResult",
    "RowError",
    "import_assessments_csv",
]

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
MAX_ERRORS = 20
MAX_ITEMS = max(len(i.items) for i in INSTRUMENTS.values())
ITEM_COLUMNS = tuple(f"item_{i}" for i in range(1, MAX_ITEMS + 1))
REQUIRED = ("participant", "instrument", "visit_date")
COLUMNS = (*REQUIRED, "time_point", *ITEM_COLUMNS, "total", "total_reason")
# A total alone is enough where no single item carries a safety flag (PHQ-9's item 9 does).
TOTAL_ONLY_ALLOWED = frozenset({InstrumentId.GDS15, InstrumentId.SGDS_K, InstrumentId.UCLA3})
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_LOCAL_HOUR = time(12, 0)  # a visit date is stored as local noon: the same date in any zone


@dataclass(frozen=True)
class RowError:
    """One problem: the file's line (header = line 1; 0 for the whole file) and column."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.line}행 / line {self.line}" if self.line else "파일 / file"
        if self.column:
            where += f", {self.column}"
        return f"{where}: {self.message}"


class ImportRefused(InvalidInputError):
    """The file was refused as a whole; ``errors`` name each line and column (422)."""

    def __init__(self, errors: Sequence[RowError], total: int | None = None) -> None:
        self.errors = list(errors)
        more = (total or len(self.errors)) - len(self.errors)
        text = "; ".join(str(e) for e in self.errors)
        if more > 0:
            text += f"; 외 {more}건 / and {more} more"
        super().__init__(f"가져오지 않았습니다(저장된 것 없음) / nothing imported: {text}")


@dataclass(frozen=True)
class ImportResult:
    """What was stored: counts per instrument and the ids of the new assessments."""

    rows: int
    by_instrument: dict[str, int]
    total_only: int
    assessment_ids: list[int] = field(default_factory=list)


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    participant: str = Field(pattern=r"^P-[0-9A-Z]{6}$")
    instrument: InstrumentId
    visit_date: date
    time_point: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    items: list[int | None]
    total: int | None = Field(default=None, ge=0, le=1000)
    total_reason: str | None = Field(default=None, min_length=3, max_length=200)


def _msg(ko: str, en: str) -> str:
    return f"{ko} / {en}"


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise ImportRefused(
            [
                RowError(
                    0,
                    None,
                    _msg(
                        f"파일이 너무 큽니다({len(data):,}바이트, 최대 {MAX_BYTES:,})",
                        f"the file is too large ({len(data):,} bytes; at most {MAX_BYTES:,})",
                    ),
                )
            ]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        hint = ""
        try:
            data.decode("cp949")
            hint = " (CP949/EUC-KR?)"
        except UnicodeDecodeError:
            pass
        raise ImportRefused(
            [
                RowError(
                    0,
                    None,
                    _msg(
                        f"UTF-8 텍스트가 아닙니다{hint}: 'CSV UTF-8'로 저장해 주세요"
                        f" ({e.start}번째 바이트)",
                        f"not UTF-8 text{hint}: save as 'CSV UTF-8' (byte {e.start})",
                    ),
                )
            ]
        ) from None
    if "\x00" in text:
        raise ImportRefused(
            [RowError(0, None, _msg("NUL 문자가 있습니다", "the file contains NUL characters"))]
        )
    return text


def _header(reader: Iterator[list[str]]) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRefused(
            [RowError(0, None, _msg("빈 파일입니다", "the file is empty"))]
        ) from None
    names = [h.strip().lower() for h in header]
    problems: list[RowError] = []
    known = set(COLUMNS)
    for name in names:
        if name not in known:
            problems.append(
                RowError(
                    1,
                    name[:40] or "(빈 이름 / empty name)",
                    _msg(
                        "알 수 없는 열입니다",
                        f"unknown column; known: {', '.join(COLUMNS[:4])}, item_1..item_"
                        f"{MAX_ITEMS}, total, total_reason",
                    ),
                )
            )
    for name in REQUIRED:
        if name not in names:
            problems.append(
                RowError(1, name, _msg("필수 열이 없습니다", "required column missing"))
            )
    dup = sorted({n for n in names if names.count(n) > 1})
    problems += [RowError(1, n, _msg("열이 두 번 있습니다", "column appears twice")) for n in dup]
    if problems:
        raise ImportRefused(problems)
    return names


def _cells(names: list[str], values: list[str], line: int) -> tuple[dict[str, str], list[RowError]]:
    errors: list[RowError] = []
    if len(values) != len(names):
        errors.append(
            RowError(
                line,
                None,
                _msg(
                    f"칸 수가 {len(values)}개입니다(머리행은 {len(names)}개)",
                    f"{len(values)} cells; the header has {len(names)}",
                ),
            )
        )
        return {}, errors
    cells = dict(zip(names, (v.strip() for v in values), strict=True))
    for name, value in cells.items():
        if value.startswith(_FORMULA_START) and not _is_number(value):
            errors.append(
                RowError(
                    line,
                    name,
                    _msg(
                        "'=', '+', '-', '@'로 시작하는 값은 받지 않습니다(수식)",
                        "a value starting with '=', '+', '-' or '@' is refused (a formula)",
                    ),
                )
            )
        elif any(ord(c) < 32 for c in value):
            errors.append(RowError(line, name, _msg("제어 문자가 있습니다", "control characters")))
    return cells, errors


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _parse_row(cells: dict[str, str], line: int) -> tuple[_Row | None, list[RowError]]:
    items: list[int | None] = []
    errors: list[RowError] = []
    for name in ITEM_COLUMNS:
        raw = cells.get(name, "")
        if raw == "":
            items.append(None)
            continue
        try:
            items.append(int(raw))
        except ValueError:
            errors.append(
                RowError(line, name, _msg("정수가 아닙니다", f"not a whole number: {raw[:20]!r}"))
            )
            items.append(None)
    if errors:
        return None, errors
    fields = {
        k: (v if v != "" else None)
        for k, v in cells.items()
        if k in ("participant", "instrument", "visit_date", "time_point", "total", "total_reason")
    }
    try:
        return _Row.model_validate({**fields, "items": items}), []
    except ValidationError as e:
        for err in e.errors():
            column = str(err["loc"][0]) if err["loc"] else None
            errors.append(RowError(line, column, _msg("값이 올바르지 않습니다", str(err["msg"]))))
        return None, errors


@dataclass
class _Checked:
    line: int
    row: _Row
    participant: Participant
    time_point: str | None
    answers: list[int | None] | None  # None: a total alone


def _check(
    session: Session,
    study_id: str,
    row: _Row,
    line: int,
    now: datetime,
    people: dict[str, Participant | None],
    schedules: dict[str, list[StudyTimePoint]],
) -> tuple[_Checked | None, list[RowError]]:
    def err(column: str | None, ko: str, en: str) -> tuple[None, list[RowError]]:
        return None, [RowError(line, column, _msg(ko, en))]

    if row.participant not in people:
        people[row.participant] = session.scalar(
            select(Participant).where(
                Participant.study_id == study_id, Participant.code == row.participant
            )
        )
    p = people[row.participant]
    if p is None:
        return err("participant", "이 연구의 참여자가 아닙니다", "no such participant in the study")
    if p.status is not ParticipantStatus.ENROLLED:
        return err("participant", "철회한 참여자입니다", "the participant has withdrawn")
    if not _screening_consented(session, p.id, now):
        return err(
            "participant",
            "선별검사(screening) 동의가 없습니다",
            "the participant has not consented to screening",
        )
    tz = ZoneInfo(p.timezone)
    enrolled_on = p.enrolled_at.astimezone(tz).date()
    if row.visit_date < enrolled_on:
        return err(
            "visit_date",
            f"등록일({enrolled_on}) 전입니다",
            f"before the enrolment date ({enrolled_on})",
        )
    if row.visit_date > now.astimezone(tz).date():
        return err("visit_date", "미래 날짜입니다", "the date is in the future")
    inst = get_instrument(row.instrument.value)
    given = [a for a in row.items[len(inst.items) :] if a is not None]
    if given:
        return err(
            f"item_{len(inst.items) + 1}",
            f"{inst.id.value}는 문항이 {len(inst.items)}개입니다",
            f"{inst.id.value} has {len(inst.items)} items",
        )
    answers = row.items[: len(inst.items)]
    has_items = any(a is not None for a in answers)
    if not has_items and inst.id not in TOTAL_ONLY_ALLOWED:
        return err(
            "total" if row.total is not None else "item_1",
            f"{inst.id.value}는 문항 응답이 필요합니다(9번 문항 안전 확인)",
            f"{inst.id.value} needs its item answers (item 9 is a safety check)",
        )
    schedule = schedules.setdefault(p.study_id, _schedule(session, p.study_id))
    at = _administered_at(p, row.visit_date)
    if row.time_point is None:
        time_point = assign_time_point(schedule, p, inst.id.value, at)
        if time_point is None:
            return err(
                "visit_date",
                f"{inst.id.value}의 어느 시점 창에도 들지 않습니다: time_point를 적어 주세요",
                f"outside every {inst.id.value} time point window: fill in time_point",
            )
    else:
        time_point = row.time_point
        labels = [tp.label for tp in schedule if inst.id.value in tp.instruments]
        if time_point not in labels:
            return err(
                "time_point",
                "이 검사의 시점이 아닙니다",
                f"not a time point of {inst.id.value}; known: {', '.join(labels) or '(none)'}",
            )
    if has_items:
        try:
            result = score_answers(inst.id.value, answers)
        except InvalidInputError as e:  # already "응답이 올바르지 않습니다 / <item>: <reason>"
            return None, [RowError(line, None, str(e))]
        if row.total is not None and result.total != row.total:
            return err(
                "total",
                f"문항 점수({result.total})와 다릅니다",
                f"does not match the items' score ({result.total})",
            )
        if row.total_reason is not None:
            return err(
                "total_reason",
                "문항이 있으면 사유를 적지 않습니다",
                "a reason is only for a total without items",
            )
        return _Checked(line, row, p, time_point, answers), []
    if row.total is None:
        return err("total", "문항도 총점도 없습니다", "no item answers and no total")
    if not inst.min_score <= row.total <= inst.max_score:
        return err(
            "total",
            f"{inst.min_score}-{inst.max_score} 범위 밖입니다",
            f"outside {inst.min_score}-{inst.max_score}",
        )
    if row.total_reason is None:
        return err(
            "total_reason",
            "총점만 적을 때는 사유가 필요합니다",
            "a total without items needs a reason",
        )
    return _Checked(line, row, p, time_point, None), []


def _administered_at(p: Participant, visit: date) -> datetime:
    return datetime.combine(visit, _LOCAL_HOUR, tzinfo=ZoneInfo(p.timezone))


def _same_day_stored(session: Session, c: _Checked) -> bool:
    at = _administered_at(c.participant, c.row.visit_date)
    start, end = at - timedelta(hours=12), at + timedelta(hours=12)
    return (
        session.scalar(
            select(Assessment.id).where(
                Assessment.participant_id == c.participant.id,
                Assessment.instrument == c.row.instrument.value,
                Assessment.administered_at >= start,
                Assessment.administered_at < end,
            )
        )
        is not None
    )


def import_assessments_csv(
    session: Session, study_id: str, data: bytes, *, now: datetime
) -> ImportResult:
    """Check every row, then store them all in the caller's transaction (or refuse them all).

    Raises ImportRefused (an InvalidInputError, 422) naming up to ``MAX_ERRORS`` problems by
    line and column; nothing is added to the session then. The caller audits the import.
    """
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    errors: list[RowError] = []
    n_errors = 0
    checked: list[_Checked] = []
    people: dict[str, Participant | None] = {}
    schedules: dict[str, list[StudyTimePoint]] = {}
    seen: dict[tuple[str, str, str], int] = {}
    try:
        names = _header(reader)
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(checked) + n_errors >= MAX_ROWS:
                raise ImportRefused(
                    [
                        RowError(
                            line,
                            None,
                            _msg(
                                f"행이 너무 많습니다(최대 {MAX_ROWS}행)",
                                f"too many rows (at most {MAX_ROWS})",
                            ),
                        )
                    ]
                )
            cells, problems = _cells(names, values, line)
            row = None
            if not problems:
                row, problems = _parse_row(cells, line)
            c = None
            if row is not None:
                c, problems = _check(session, study_id, row, line, now, people, schedules)
            if c is not None:
                for key, what in (
                    ((c.row.participant, c.row.instrument.value, str(c.row.visit_date)), "date"),
                    ((c.row.participant, c.row.instrument.value, f"tp:{c.time_point}"), "tp"),
                ):
                    if key in seen:
                        problems = [
                            RowError(
                                line,
                                "visit_date" if what == "date" else "time_point",
                                _msg(
                                    f"{seen[key]}행과 겹칩니다(같은 참여자·검사·"
                                    + ("날짜)" if what == "date" else "시점)"),
                                    f"repeats line {seen[key]} (same participant, instrument"
                                    + (" and date)" if what == "date" else " and time point)"),
                                ),
                            )
                        ]
                        c = None
                        break
                    seen[key] = line
            if c is not None and _same_day_stored(session, c):
                problems = [
                    RowError(
                        line,
                        "visit_date",
                        _msg(
                            "이 날짜의 같은 검사가 이미 저장되어 있습니다",
                            "this instrument is already stored for that date",
                        ),
                    )
                ]
                c = None
            if c is not None:
                try:
                    _refuse_second_baseline(
                        session,
                        schedules[c.participant.study_id],
                        c.participant,
                        c.row.instrument.value,
                        c.time_point or "",
                    )
                except ConflictError:
                    problems = [
                        RowError(
                            line,
                            "time_point",
                            _msg("기준선이 이미 있습니다", "a baseline is already stored"),
                        )
                    ]
                    c = None
            if c is not None:
                checked.append(c)
            n_errors += len(problems)
            errors.extend(problems[: max(0, MAX_ERRORS - len(errors))])
    except csv.Error as e:
        raise ImportRefused(
            [RowError(reader.line_num, None, _msg("CSV 형식 오류", f"malformed CSV: {e}"))]
        ) from None
    if errors:
        raise ImportRefused(errors, n_errors)
    if not checked:
        raise ImportRefused([RowError(0, None, _msg("데이터 행이 없습니다", "no data rows"))])
    return _store(session, checked, now)


def _store(session: Session, checked: list[_Checked], now: datetime) -> ImportResult:
    ids: list[int] = []
    counts: dict[str, int] = {}
    total_only = 0
    for c in checked:
        inst = get_instrument(c.row.instrument.value)
        at = _administered_at(c.participant, c.row.visit_date)
        if c.answers is not None:
            a = record_assessment(
                session,
                c.participant,
                instrument=inst.id.value,
                answers=c.answers,
                administered_at=at,
                now=now,
                source=AssessmentSource.IMPORT,
                time_point=c.time_point,
            )
        else:
            total = c.row.total
            assert total is not None  # checked
            total_only += 1
            a = Assessment(
                participant_id=c.participant.id,
                instrument=inst.id.value,
                time_point=c.time_point,
                answers=[],
                score=float(total),
                complete=False,
                prorated=False,
                band=inst.band(total).code,
                flags=[f"total_only: {c.row.total_reason}"],
                source=AssessmentSource.IMPORT,
                administered_at=at,
                recorded_at=now,
            )
            session.add(a)
            session.flush()
        ids.append(a.id)
        counts[inst.id.value] = counts.get(inst.id.value, 0) + 1
    return ImportResult(len(checked), counts, total_only, ids)
