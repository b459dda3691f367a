"""De-identified export of a study: tables, data dictionary and disclosure report.

Order (the steps of `cloud.research.deid`): load the study's research tables (no identity is
read) → keep only declared columns (free text never leaves) → k-anonymise the participants'
quasi-identifiers (age band, sex, region) or refuse with the reason → drop suppressed
participants from every table → re-key everyone with an export pseudonym and shift their
dates by a secret per-participant offset → suppress small cells in the aggregate table.
Withdrawn participants are never exported, whatever their retention choice.
"""

import hashlib
import hmac
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.research import stats
from cloud.research.deid import (
    DEFAULT_K,
    ColumnSpec,
    DataDictionary,
    DisclosureReport,
    age_hierarchy,
    check_export_k,
    drop_free_text,
    k_anonymise,
    region_hierarchy,
    shift_dates,
    suppress_small_cells,
    suppression_hierarchy,
)
from cloud.research.studies import get_study, schedule_of
from cloud.store.models import Assessment, DailyMetric, Participant, ParticipantStatus
from protocol.instruments import INSTRUMENTS

log = logging.getLogger(__name__)

Format = Literal["csv", "parquet"]
QUASI_IDENTIFIERS = ("age_band", "sex", "region")
DATE_SHIFT_MAX_DAYS = 180
MIN_CELL = 5
MAX_ITEMS = max(len(i.items) for i in INSTRUMENTS.values())

_P = "participant"
_COMMON: dict[str, ColumnSpec] = {
    _P: ColumnSpec("export pseudonym of the participant (differs from the study's own code)"),
    "arm": ColumnSpec("study arm"),
}
PARTICIPANT_COLUMNS: dict[str, ColumnSpec] = {
    **_COMMON,
    "age_band": ColumnSpec("age at enrolment", "years", "age band"),
    "sex": ColumnSpec("sex (f, m, x) or * when suppressed", "", "value or suppressed"),
    "region": ColumnSpec("region of residence", "", "시/도 → 권역 → country"),
    "enrolled_on": ColumnSpec("day of enrolment", "date", "shifted per participant"),
}
ASSESSMENT_COLUMNS: dict[str, ColumnSpec] = {
    **_COMMON,
    "instrument": ColumnSpec("instrument id (gds15, sgds_k, ucla3, phq9)"),
    "time_point": ColumnSpec("scheduled time point (baseline, week4, ...)"),
    "administered_on": ColumnSpec("day administered", "date", "shifted per participant"),
    "study_day": ColumnSpec("days since enrolment", "days"),
    "score": ColumnSpec("total score by the published key (empty when too few answers)", "points"),
    "complete": ColumnSpec("every item answered"),
    "prorated": ColumnSpec("score prorated for missing items (PHQ-9: at most 2)"),
    "band": ColumnSpec("published severity band of the score"),
    "source": ColumnSpec("device (the robot asked) or api (entered by staff)"),
    **{
        f"item_{i}": ColumnSpec(f"response code to item {i} (see protocol/instruments.py)")
        for i in range(1, MAX_ITEMS + 1)
    },
}
METRIC_COLUMNS: dict[str, ColumnSpec] = {
    _P: _COMMON[_P],
    "day": ColumnSpec("participant's local day", "date", "shifted per participant"),
    "talk_minutes": ColumnSpec("minutes the senior talked with the robot", "min"),
    "turns": ColumnSpec("conversation turns by the senior", "count"),
    "robot_turns": ColumnSpec("conversation turns by the robot", "count"),
    "touches": ColumnSpec("hugs + pats + squeezes", "count"),
    "mood_valence": ColumnSpec("mean valence, utterance-weighted", "-1..1"),
    "mood_arousal": ColumnSpec("mean arousal, utterance-weighted", "-1..1"),
    "mood_utterances": ColumnSpec("utterances behind the mood figures", "count"),
    "present_minutes": ColumnSpec("minutes of any activity class except away", "min"),
    "reminders_given": ColumnSpec("reminders given", "count"),
    "reminders_confirmed": ColumnSpec("reminders confirmed", "count"),
    "reminders_missed": ColumnSpec("reminders missed", "count"),
    "reminder_adherence": ColumnSpec("confirmed / (confirmed + missed)", "0..1"),
    "device_up_hours": ColumnSpec("local hours with a robot heartbeat", "h"),
    "hours_with_data": ColumnSpec("local hours with any consented event", "h"),
    "events": ColumnSpec("consented events behind the row", "count"),
    "model_versions": ColumnSpec("models that produced the figures (name@version; ...)"),
}
_DYNAMIC = {
    "mood_share_": ("share of utterances in mood class {}", "0..1"),
    "activity_min_": ("minutes in activity class {}", "min"),
    "touch_": ("{} touches", "count"),
    "alerts_": ("{} events", "count"),
}
SUMMARY_COLUMNS: dict[str, ColumnSpec] = {
    "arm": _COMMON["arm"],
    "instrument": ASSESSMENT_COLUMNS["instrument"],
    "time_point": ASSESSMENT_COLUMNS["time_point"],
    "n": ColumnSpec("participants with a score (blank when 1-4)", "count", "small cells blanked"),
    "n_missing": ColumnSpec("participants without a score", "count"),
    "mean": ColumnSpec("mean score (blank with n)", "points", "small cells blanked"),
    "sd": ColumnSpec("standard deviation (blank with n)", "points", "small cells blanked"),
    "median": ColumnSpec("median score (blank with n)", "points", "small cells blanked"),
}


@dataclass(frozen=True)
class ExportBundle:
    """The de-identified tables and the documents that ship with them."""

    study_id: str
    tables: dict[str, Any]
    dictionaries: dict[str, DataDictionary]
    disclosure: DisclosureReport


def export_code(secret: bytes, code: str) -> str:
    """A stable export pseudonym: unlinkable to the study code without the study's secret."""
    digest = hmac.new(secret, b"dolbom-export-v1\x00" + code.encode(), hashlib.sha256)
    return "E-" + digest.hexdigest()[:12].upper()


def _region_top(region: str | None) -> str | None:
    return region.split()[0] if region and region.split() else None


def build_export(
    session: Session,
    study_id: str,
    now: datetime,
    *,
    k: int = DEFAULT_K,
    progress: Callable[[str], None] | None = None,
) -> ExportBundle:
    """De-identify the study's data; KAnonymityError (with the reason) when k cannot be met."""
    say = progress or (lambda _m: None)
    study = get_study(session, study_id)
    k = check_export_k(k, minimum=max(DEFAULT_K, study.min_k))
    secret = bytes.fromhex(study.shift_secret)
    say("participants")
    people = list(
        session.scalars(
            select(Participant)
            .where(
                Participant.study_id == study_id,
                Participant.status != ParticipantStatus.WITHDRAWN,
            )
            .order_by(Participant.id)
        )
    )
    records: list[dict[str, object]] = []
    alias: dict[int, str] = {}
    for p in people:
        local = p.enrolled_at.astimezone(ZoneInfo(p.timezone))
        alias[p.id] = export_code(secret, p.code)
        records.append(
            {
                _P: alias[p.id],
                "arm": p.arm,
                "age_band": None if p.birth_year is None else local.year - p.birth_year,
                "sex": p.sex,
                "region": _region_top(p.region),
                "enrolled_on": local.date(),
            }
        )
    say(f"k-anonymity (k={k}) over {', '.join(QUASI_IDENTIFIERS)}")
    hierarchies = {
        "age_band": age_hierarchy(),
        "sex": suppression_hierarchy("sex"),
        "region": region_hierarchy(),
    }
    result = k_anonymise(records, list(QUASI_IDENTIFIERS), k, hierarchies)
    kept = {str(r[_P]) for r in result.records}
    keep_ids = [pid for pid, a in alias.items() if a in kept]
    participants = pd.DataFrame.from_records(result.records, columns=list(PARTICIPANT_COLUMNS))
    say("assessments")
    assessments = _assessments(session, keep_ids, alias, people)
    say("daily metrics")
    metrics = _metrics(session, keep_ids, alias)
    say("summary by arm")
    summary, small = _summary(assessments, _due(session, study_id, people, keep_ids, alias, now))
    dropped: list[str] = []
    tables: dict[str, Any] = {}
    dictionaries: dict[str, DataDictionary] = {}
    for name, frame, specs, dates in (
        ("participants", participants, PARTICIPANT_COLUMNS, ["enrolled_on"]),
        ("assessments", assessments, ASSESSMENT_COLUMNS, ["administered_on"]),
        ("daily_metrics", metrics, _metric_specs(metrics), ["day"]),
        ("summary_by_arm", summary, SUMMARY_COLUMNS, []),
    ):
        clean, gone = drop_free_text(frame, specs)
        dropped += [f"{name}.{c}" for c in gone]
        if dates and len(clean):
            clean = shift_dates(
                clean,
                participant_column=_P,
                date_columns=dates,
                secret=secret,
                max_days=DATE_SHIFT_MAX_DAYS,
            )
        tables[name] = clean
        dictionaries[name] = DataDictionary.build(
            clean, specs, result.level_labels if name == "participants" else None
        )
    disclosure = DisclosureReport.from_result(
        result,
        created_at=now,
        date_shift_max_days=DATE_SHIFT_MAX_DAYS,
        small_cells_suppressed=small,
        min_cell=MIN_CELL,
        columns_dropped=dropped,
    )
    return ExportBundle(study_id, tables, dictionaries, disclosure)


def _assessments(
    session: Session, ids: list[int], alias: dict[int, str], people: list[Participant]
) -> Any:
    enrolled = {p.id: p for p in people}
    rows: list[dict[str, object]] = []
    for chunk in _chunks(ids):
        for a in session.scalars(
            select(Assessment)
            .where(Assessment.participant_id.in_(chunk))
            .order_by(Assessment.participant_id, Assessment.administered_at)
        ):
            p = enrolled[a.participant_id]
            tz = ZoneInfo(p.timezone)
            local = a.administered_at.astimezone(tz).date()
            row: dict[str, object] = {
                _P: alias[a.participant_id],
                "arm": p.arm,
                "instrument": a.instrument,
                "time_point": a.time_point,
                "administered_on": local,
                "study_day": (local - p.enrolled_at.astimezone(tz).date()).days,
                "score": a.score,
                "complete": a.complete,
                "prorated": a.prorated,
                "band": a.band,
                "source": a.source.value,
            }
            for i in range(MAX_ITEMS):
                row[f"item_{i + 1}"] = a.answers[i] if i < len(a.answers) else None
            rows.append(row)
    frame = pd.DataFrame.from_records(rows, columns=list(ASSESSMENT_COLUMNS))
    for i in range(1, MAX_ITEMS + 1):
        frame[f"item_{i}"] = frame[f"item_{i}"].astype("Int64")
    return frame


_FLAT = (
    "talk_minutes",
    "turns",
    "robot_turns",
    "touches",
    "mood_valence",
    "mood_arousal",
    "mood_utterances",
    "present_minutes",
    "reminders_given",
    "reminders_confirmed",
    "reminders_missed",
    "reminder_adherence",
    "device_up_hours",
    "hours_with_data",
    "events",
)


def _metrics(session: Session, ids: list[int], alias: dict[int, str]) -> Any:
    cols = [getattr(DailyMetric, c) for c in _FLAT]
    dicts = (
        DailyMetric.mood_shares,
        DailyMetric.activity_minutes,
        DailyMetric.touch_counts,
        DailyMetric.alerts,
        DailyMetric.model_versions,
    )
    rows: list[dict[str, object]] = []
    for chunk in _chunks(ids):
        q = (
            select(DailyMetric.participant_id, DailyMetric.day, *cols, *dicts)
            .where(DailyMetric.participant_id.in_(chunk))
            .order_by(DailyMetric.participant_id, DailyMetric.day)
        )
        for r in session.execute(q):
            row: dict[str, object] = {_P: alias[r[0]], "day": r[1]}
            row.update(zip(_FLAT, r[2 : 2 + len(_FLAT)], strict=True))
            shares, activity, touch, alerts, models = r[2 + len(_FLAT) :]
            for prefix, values in (
                ("mood_share_", shares),
                ("activity_min_", activity),
                ("touch_", touch),
                ("alerts_", alerts),
            ):
                for key, value in (values or {}).items():
                    row[prefix + key] = value
            row["model_versions"] = "; ".join(
                f"{name}@{v}" for name, versions in sorted((models or {}).items()) for v in versions
            )
            rows.append(row)
    frame = pd.DataFrame.from_records(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=list(METRIC_COLUMNS))
    return frame


def _metric_specs(frame: Any) -> dict[str, ColumnSpec]:
    specs = dict(METRIC_COLUMNS)
    for column in frame.columns:
        for prefix, (text, units) in _DYNAMIC.items():
            if str(column).startswith(prefix) and column not in specs:
                specs[str(column)] = ColumnSpec(text.format(str(column)[len(prefix) :]), units)
    return specs


Due = dict[tuple[str, str], dict[str, set[str]]]
"""(instrument, time point) → arm → the export codes of participants due a score there."""


def _due(
    session: Session,
    study_id: str,
    people: list[Participant],
    keep_ids: list[int],
    alias: dict[int, str],
    now: datetime,
) -> Due:
    """Who owes a score where: every exported participant whose time point's window has closed
    by `now` (in the participant's own time zone) for each instrument scheduled there."""
    kept = set(keep_ids)
    due: Due = {}
    schedule = schedule_of(session, study_id)
    for p in people:
        if p.id not in kept:
            continue
        tz = ZoneInfo(p.timezone)
        day_now = (now.astimezone(tz).date() - p.enrolled_at.astimezone(tz).date()).days
        for tp in schedule:
            if day_now <= tp.day + tp.window_days:
                continue  # not due yet: its window is still open
            for instrument in tp.instruments:
                due.setdefault((instrument, tp.label), {}).setdefault(p.arm, set()).add(alias[p.id])
    return due


def _summary(assessments: Any, due: Due | None = None) -> tuple[Any, int]:
    """n, missing, mean, SD and median per arm and time point. Missing counts every participant
    due a score there (see `_due`) without one, as well as a recorded assessment without a
    total: a time point nobody answered is not "0 missing"."""
    due = due or {}
    rows: list[dict[str, object]] = []
    scored = assessments.dropna(subset=["time_point"])
    scored = scored.drop_duplicates([_P, "instrument", "time_point"], keep="last")
    cells: dict[tuple[str, str, str], dict[str, float | None]] = {}
    for (instrument, time_point), arms in due.items():
        for arm, codes in arms.items():
            cells.setdefault((instrument, time_point, arm), {}).update(dict.fromkeys(codes))
    for r in scored.itertuples(index=False):
        row = r._asdict()
        score = row["score"]
        cell = cells.setdefault((row["instrument"], row["time_point"], row["arm"]), {})
        cell[str(row[_P])] = None if pd.isna(score) else float(score)
    for instrument, time_point, arm in sorted(cells):
        d = stats.describe(list(cells[(instrument, time_point, arm)].values()))
        rows.append(
            {
                "arm": arm,
                "instrument": instrument,
                "time_point": time_point,
                "n": d.n,
                "n_missing": d.n_missing,
                "mean": d.mean,
                "sd": d.sd,
                "median": d.median,
            }
        )
    frame = pd.DataFrame.from_records(rows, columns=list(SUMMARY_COLUMNS))
    if frame.empty:
        return frame, 0
    frame["n"] = frame["n"].astype("Int64")
    frame["n_missing"] = frame["n_missing"].astype("Int64")
    return suppress_small_cells(
        frame, ["n"], MIN_CELL, dependent_columns={"n": ["mean", "sd", "median"]}
    )


def _chunks(ids: list[int], size: int = 5000) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]


def write_export(bundle: ExportBundle, out_dir: Path, fmt: Format = "csv") -> Path:
    """Write the tables and documents into `out_dir` (created; must not exist or be empty).

    Files appear all at once: everything is written to a temporary folder beside it first.
    """
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} exists and is not empty; choose another --out")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir.parent))
    try:
        for name, frame in bundle.tables.items():
            if fmt == "csv":
                frame.to_csv(tmp / f"{name}.csv", index=False, encoding="utf-8")
            else:
                frame.to_parquet(tmp / f"{name}.parquet", index=False)
        dictionary = {name: d.to_dict() for name, d in bundle.dictionaries.items()}
        (tmp / "data_dictionary.json").write_text(
            json.dumps(dictionary, ensure_ascii=False, indent=2), "utf-8"
        )
        md = [f"# Data dictionary — study {bundle.study_id}\n"]
        for name, d in bundle.dictionaries.items():
            md += [f"\n## {name}.{fmt}\n\n", d.to_markdown()]
        (tmp / "data_dictionary.md").write_text("".join(md), "utf-8")
        (tmp / "disclosure_report.json").write_text(
            json.dumps(bundle.disclosure.to_dict(), ensure_ascii=False, indent=2), "utf-8"
        )
        (tmp / "disclosure_report.md").write_text(bundle.disclosure.to_markdown(), "utf-8")
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
