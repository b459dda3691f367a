"""De-identification for research exports: date shifting, generalisation, k-anonymity, disclosure.

Pure functions over rows and pandas frames; nothing here reads a database or the network.

An export is made in this order (``cloud/research`` export code calls these):
1. ``drop_free_text``: keep only columns declared exportable (free text never leaves).
2. ``shift_dates``: move every date of a participant by the same secret, keyed offset.
3. ``k_anonymise``: generalise the quasi-identifiers (age, region, sex, ...) along their
   hierarchies and suppress the few participants still in classes smaller than k.
4. ``suppress_small_cells`` on any aggregate table.
5. ``DisclosureReport`` and ``DataDictionary`` ship with the data.

k-anonymity algorithm: full-domain generalisation with record suppression, searched like
Samarati (2001): the lattice of per-field generalisation levels is walked by total height,
lowest first; the first height at which some node needs at most ``max_suppression`` of the
subjects suppressed wins, and among that height's nodes the one suppressing the fewest
subjects, then losing the least precision (Sweeney's Prec: mean of level / max level), is
chosen. Every generalised value of a field therefore comes from the same level, so the data
dictionary can state it once.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from cloud.errors import CloudError, both

__all__ = [
    "DEFAULT_K",
    "DEFAULT_MAX_SUPPRESSION",
    "KOREAN_REGIONS",
    "MIN_K",
    "SUPPRESSED",
    "ColumnSpec",
    "DataDictionary",
    "DataDictionaryEntry",
    "DeidError",
    "DisclosureReport",
    "Hierarchy",
    "KAnonymityError",
    "KAnonymous",
    "age_band",
    "age_hierarchy",
    "categorical_hierarchy",
    "check_export_k",
    "date_shift_days",
    "drop_free_text",
    "generalise_region",
    "k_anonymise",
    "k_anonymise_frame",
    "region_hierarchy",
    "shift_dates",
    "suppress_small_cells",
    "suppression_hierarchy",
]

MIN_K = 2
DEFAULT_K = 5
DEFAULT_MAX_SUPPRESSION = 0.05
SUPPRESSED = "*"
MIN_SECRET_BYTES = 16
_MAX_LATTICE_NODES = 200_000


class DeidError(CloudError):
    """De-identification could not be done as asked (bad input or settings)."""


class KAnonymityError(DeidError):
    """k-anonymity cannot be met within the suppression cap; the message says why."""

    def __init__(
        self,
        message: str,
        *,
        k_requested: int,
        k_reached: int,
        n_subjects: int,
        n_would_suppress: int,
        max_suppressed: int,
        blocking_fields: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.k_requested = k_requested
        self.k_reached = k_reached
        self.n_subjects = n_subjects
        self.n_would_suppress = n_would_suppress
        self.max_suppressed = max_suppressed
        self.blocking_fields = list(blocking_fields)


def check_export_k(k: int, *, minimum: int = DEFAULT_K) -> int:
    """Validate an export's k: it may be raised above ``minimum`` (5) but never lowered."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise DeidError(both(f"k는 정수여야 합니다({k!r})", f"k must be a whole number, got {k!r}"))
    if k < minimum:
        raise DeidError(
            both(
                f"k={k}는 최솟값 {minimum}보다 작습니다. k는 올릴 수만 있습니다",
                f"k={k} is below the minimum of {minimum}; k can only be raised",
            )
        )
    return k


# --------------------------------------------------------------------------- date shifting


def date_shift_days(participant_code: str, secret: bytes, max_days: int = 180) -> int:
    """Per-participant date offset in [-max_days, -1] ∪ [1, max_days] from HMAC-SHA256.

    Stable for the same code and secret, unpredictable without the secret, never zero.
    Intervals between a participant's own dates are preserved exactly.
    """
    if not isinstance(secret, bytes | bytearray) or len(secret) < MIN_SECRET_BYTES:
        raise DeidError(
            both(
                f"날짜 이동 비밀값은 {MIN_SECRET_BYTES}바이트 이상이어야 합니다",
                f"the date-shift secret must be at least {MIN_SECRET_BYTES} bytes",
            )
        )
    if max_days < 1:
        raise DeidError(both("max_days는 1 이상이어야 합니다", "max_days must be at least 1"))
    if not participant_code:
        raise DeidError(both("참여자 코드가 비어 있습니다", "participant code is empty"))
    digest = hmac.new(
        bytes(secret), b"dolbom-date-shift-v1\x00" + participant_code.encode(), hashlib.sha256
    ).digest()
    u = int.from_bytes(digest[:8], "big") % (2 * max_days)
    return u - max_days if u < max_days else u - max_days + 1


def shift_dates(
    frame: Any,
    *,
    participant_column: str,
    date_columns: Sequence[str],
    secret: bytes,
    max_days: int = 180,
) -> Any:
    """A copy of ``frame`` with every date/timestamp column moved by its participant's offset.

    Columns of ``datetime.date`` objects stay dates; datetime64 columns (naive or tz-aware)
    stay datetime64. Missing values stay missing. Vectorised: one HMAC per participant.
    """
    absent = [c for c in (participant_column, *date_columns) if c not in frame.columns]
    if absent:
        raise DeidError(
            both(
                f"표에 {', '.join(absent)} 열이 없습니다",
                f"column(s) {', '.join(absent)} not in the table",
            )
        )
    out = frame.copy()
    codes = out[participant_column].astype(str)
    offsets = {c: date_shift_days(c, secret, max_days) for c in codes.unique()}
    delta = pd.to_timedelta(codes.map(offsets).to_numpy(), unit="D")
    for column in date_columns:
        values = out[column]
        non_null = values.dropna()
        is_plain_date = (
            len(non_null) > 0
            and values.dtype == object
            and all(
                isinstance(v, date) and not isinstance(v, datetime) for v in non_null.head(1000)
            )
        )
        shifted = pd.Series(pd.to_datetime(values) + delta, index=out.index)
        if is_plain_date:
            plain = shifted.dt.date.astype(object)
            out[column] = plain.where(shifted.notna(), None)
        else:
            out[column] = shifted
    return out


# --------------------------------------------------------------------------- generalisation


def age_band(age: int, width: int = 5, top: int = 90) -> str:
    """An age band like "65-69"; ages at or above ``top`` are top-coded as "90+"."""
    if isinstance(age, bool) or not isinstance(age, int | np.integer):
        raise DeidError(
            both(
                f"나이는 정수(년)여야 합니다({age!r})",
                f"age must be a whole number of years, got {age!r}",
            )
        )
    if not 0 <= age <= 130:
        raise DeidError(both(f"나이 {age}이(가) 0-130 밖입니다", f"age {age} is outside 0-130"))
    if width < 1:
        raise DeidError(
            both("나이 구간 폭은 1년 이상이어야 합니다", "band width must be at least 1 year")
        )
    if age >= top:
        return f"{top}+"
    low = (int(age) // width) * width
    high = min(low + width - 1, top - 1)
    return str(low) if low == high else f"{low}-{high}"


# (canonical 시/도, 권역, aliases). 권역: the five wide economic regions plus 강원 and 제주.
_REGION_TABLE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("서울특별시", "수도권", ("서울", "서울시", "seoul")),
    ("인천광역시", "수도권", ("인천", "인천시", "incheon")),
    ("경기도", "수도권", ("경기", "gyeonggi", "gyeonggi-do")),
    ("강원특별자치도", "강원권", ("강원", "강원도", "gangwon", "gangwon-do")),
    ("대전광역시", "충청권", ("대전", "대전시", "daejeon")),
    ("세종특별자치시", "충청권", ("세종", "세종시", "sejong")),
    ("충청북도", "충청권", ("충북", "chungcheongbuk-do", "chungbuk")),
    ("충청남도", "충청권", ("충남", "chungcheongnam-do", "chungnam")),
    ("광주광역시", "호남권", ("광주", "광주시", "gwangju")),
    ("전북특별자치도", "호남권", ("전북", "전라북도", "jeonbuk", "jeollabuk-do")),
    ("전라남도", "호남권", ("전남", "jeonnam", "jeollanam-do")),
    ("대구광역시", "대경권", ("대구", "대구시", "daegu")),
    ("경상북도", "대경권", ("경북", "gyeongbuk", "gyeongsangbuk-do")),
    ("부산광역시", "동남권", ("부산", "부산시", "busan")),
    ("울산광역시", "동남권", ("울산", "울산시", "ulsan")),
    ("경상남도", "동남권", ("경남", "gyeongnam", "gyeongsangnam-do")),
    ("제주특별자치도", "제주권", ("제주", "제주도", "jeju", "jeju-do")),
)
KOREAN_REGIONS: dict[str, str] = {name: zone for name, zone, _ in _REGION_TABLE}
"""Canonical 시/도 name -> 권역."""
_REGION_ALIASES: dict[str, str] = {
    alias.casefold(): name for name, _, aliases in _REGION_TABLE for alias in (name, *aliases)
}
COUNTRY = "대한민국"
REGION_LEVELS = ("시/도", "권역", "country", "suppressed")


def generalise_region(region: object, level: int = 1) -> str:
    """Korean region at ``level``: 0 시/도, 1 권역, 2 country, 3 "*"; unknown is always "*"."""
    if level < 0:
        raise DeidError(
            both("일반화 수준은 0 이상이어야 합니다", "generalisation level must be 0 or more")
        )
    if not isinstance(region, str):
        return SUPPRESSED
    name = _REGION_ALIASES.get(region.strip().casefold())
    if name is None or level >= 3:
        return SUPPRESSED
    if level == 0:
        return name
    if level == 1:
        return KOREAN_REGIONS[name]
    return COUNTRY


@dataclass(frozen=True)
class Hierarchy:
    """A generalisation hierarchy: ``generalise(value, level)``; level 0 is the least general.

    ``levels`` names each level ("5-year band", "권역", ..., "suppressed"); the last level
    should map everything to "*", which makes k reachable whenever there are k subjects.
    """

    name: str
    levels: tuple[str, ...]
    generalise: Callable[[object, int], str]

    @property
    def max_level(self) -> int:
        """Index of the most general level."""
        return len(self.levels) - 1

    def apply(self, values: Any, level: int) -> Any:
        """Generalise a pandas Series to ``level`` (vectorised over its distinct values)."""
        if not 0 <= level <= self.max_level:
            raise DeidError(
                both(
                    f"{self.name}: 수준 {level}이(가) 0-{self.max_level} 밖입니다",
                    f"{self.name}: level {level} is outside 0-{self.max_level}",
                )
            )
        series = pd.Series(values)
        uniques = series.dropna().unique()
        mapping = {u: self.generalise(u, level) for u in uniques}
        return series.map(mapping).fillna(self.generalise(None, level)).astype(str)


def age_hierarchy(widths: Sequence[int] = (5, 10, 20), top: int = 90) -> Hierarchy:
    """Ages (whole years) as bands of the given widths, then "*"; always at least banded."""
    widths = tuple(widths)
    if not widths:
        raise DeidError(
            both(
                "나이 계층에는 구간 폭이 하나 이상 있어야 합니다",
                "age hierarchy needs at least one band width",
            )
        )

    def gen(value: object, level: int) -> str:
        if level >= len(widths) or value is None:
            return SUPPRESSED
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int | np.integer):
            return SUPPRESSED
        return age_band(int(value), widths[level], top)

    labels = (*(f"{w}-year band" for w in widths), "suppressed")
    return Hierarchy("age", labels, gen)


def region_hierarchy() -> Hierarchy:
    """Korean regions: 시/도 -> 권역 -> country -> "*" (unknown regions are always "*")."""
    return Hierarchy("region", REGION_LEVELS, generalise_region)


def categorical_hierarchy(name: str, steps: Sequence[Mapping[str, str]] = ()) -> Hierarchy:
    """Level 0 keeps the value, level i maps through ``steps[i-1]`` (unmapped -> "*"), then "*"."""

    def gen(value: object, level: int) -> str:
        if value is None:
            return SUPPRESSED
        current = str(value)
        for step in steps[:level]:
            current = step.get(current, SUPPRESSED)
        return SUPPRESSED if level > len(steps) else current

    labels = ("value", *(f"level {i + 1}" for i in range(len(steps))), "suppressed")
    return Hierarchy(name, labels, gen)


def suppression_hierarchy(name: str) -> Hierarchy:
    """Two levels: the value as is, or "*" (for sex and other small categorical fields)."""
    return categorical_hierarchy(name)


# --------------------------------------------------------------------------- k-anonymity


@dataclass(frozen=True)
class KAnonymous:
    """Records generalised and suppressed so that every QI class has at least k subjects."""

    records: list[dict[str, object]]
    quasi_identifiers: list[str]
    k_requested: int
    k_achieved: int
    levels: dict[str, int]
    level_labels: dict[str, str]
    n_records_in: int
    n_records_out: int
    n_subjects_in: int
    n_subjects_out: int
    n_subjects_suppressed: int
    max_suppression: float
    algorithm: str = "full-domain generalisation + record suppression (Samarati-style search)"

    @property
    def n_records_suppressed(self) -> int:
        """Records removed with the suppressed subjects."""
        return self.n_records_in - self.n_records_out


def _class_sizes(keys: Any) -> tuple[Any, Any]:
    """(class size of every row, sorted class sizes) for an int64 class key per row."""
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return counts[inverse], counts


def _combine(codes: Sequence[Any], cardinalities: Sequence[int]) -> Any:
    key = np.zeros(codes[0].shape[0] if codes else 0, dtype=np.int64)
    for c, card in zip(codes, cardinalities, strict=True):
        key = key * max(card, 1) + c
    return key


def _best_k(counts: Any, cap: int) -> int:
    """Largest k' such that suppressing all classes smaller than k' removes at most ``cap``."""
    best = 0
    for size in np.unique(counts):
        if int(counts[counts < size].sum()) <= cap:
            best = int(size)
    return best


@dataclass(frozen=True)
class _Plan:
    """The outcome of the search: which rows stay and their generalised QI values."""

    keep_row: Any
    values: dict[str, Any]
    result: KAnonymous


def _plan(
    frame: Any,
    qis: list[str],
    k: int,
    hierarchies: Mapping[str, Hierarchy],
    max_suppression: float,
    subject_key: str | None,
    max_levels: Mapping[str, int] | None,
) -> _Plan:
    """Search the generalisation lattice for ``frame`` (QI and subject columns only)."""
    caps = {q: hierarchies[q].max_level for q in qis}
    for q, cap_level in (max_levels or {}).items():
        if q in caps:
            if not 0 <= cap_level <= hierarchies[q].max_level:
                raise DeidError(
                    both(
                        f"{q}의 최대 수준 {cap_level}이(가) 계층 밖입니다",
                        f"max level {cap_level} for {q} is outside its hierarchy",
                    )
                )
            caps[q] = cap_level
    n_records = len(frame)

    if subject_key is not None:
        subjects = frame[subject_key].astype(str)
        per_subject = frame.assign(__s=subjects).drop_duplicates(["__s", *qis])
        varying = per_subject["__s"].duplicated(keep=False)
        if varying.any():
            who = per_subject.loc[varying, "__s"].iloc[0]
            raise DeidError(
                both(
                    f"한 참여자({who!r})의 행마다 준식별자가 다릅니다."
                    " 참여자마다 값 하나(예: 등록 때 나이)를 내보내세요",
                    f"quasi-identifiers vary between rows of one participant ({who!r}); "
                    "export one value per participant (for example age at enrolment)",
                )
            )
        units = per_subject.set_index("__s")[qis]
        row_unit = pd.Index(units.index).get_indexer(subjects.to_numpy())
    else:
        units = frame[qis].reset_index(drop=True)
        row_unit = np.arange(n_records)
    n_subjects = len(units)
    cap = math.floor(max_suppression * n_subjects + 1e-9)

    if n_subjects < k:
        raise KAnonymityError(
            both(
                f"k={k}를 맞출 수 없습니다: 내보낼 참여자가 {n_subjects}명뿐이고"
                f" k={k}에는 {k}명 이상이 필요합니다",
                f"cannot reach k={k}: the export has only {n_subjects} participant(s); "
                f"k={k} needs at least {k}",
            ),
            k_requested=k,
            k_reached=n_subjects,
            n_subjects=n_subjects,
            n_would_suppress=n_subjects,
            max_suppressed=cap,
        )

    # Codes of every QI at every allowed level, computed once.
    codes: dict[str, list[Any]] = {}
    cards: dict[str, list[int]] = {}
    labels_at: dict[str, list[Any]] = {}
    for q in qis:
        codes[q], cards[q], labels_at[q] = [], [], []
        column = units[q].reset_index(drop=True).astype(object)
        column = column.where(column.notna(), None)
        for level in range(caps[q] + 1):
            generalised = hierarchies[q].apply(column, level)
            c, uniq = pd.factorize(generalised)
            codes[q].append(np.asarray(c, dtype=np.int64))
            cards[q].append(len(uniq))
            labels_at[q].append(generalised.to_numpy(dtype=object))

    nodes = list(itertools.product(*(range(caps[q] + 1) for q in qis)))
    if len(nodes) > _MAX_LATTICE_NODES:
        raise DeidError(
            both(
                f"일반화 조합이 너무 많습니다({len(nodes)}개). 항목을 줄이세요",
                f"too many generalisation combinations ({len(nodes)}); use fewer fields",
            )
        )
    nodes.sort(key=sum)

    def sizes_at(node: Sequence[int], fields: Sequence[int]) -> tuple[Any, Any]:
        key = _combine(
            [codes[qis[j]][node[j]] for j in fields], [cards[qis[j]][node[j]] for j in fields]
        )
        return _class_sizes(key)

    every = range(len(qis))
    chosen: tuple[int, ...] | None = None
    chosen_sizes: Any = None
    best_rank: tuple[int, float] | None = None
    for _, group in itertools.groupby(nodes, key=sum):
        for node in group:
            unit_sizes, _ = sizes_at(node, every)
            n_small = int((unit_sizes < k).sum())
            if n_small > cap:
                continue
            precision_loss = sum(
                lv / hierarchies[q].max_level if hierarchies[q].max_level else 0.0
                for q, lv in zip(qis, node, strict=True)
            )
            rank = (n_small, precision_loss)
            if best_rank is None or rank < best_rank:
                best_rank, chosen, chosen_sizes = rank, node, unit_sizes
        if chosen is not None:
            break

    if chosen is None:
        top = tuple(caps[q] for q in qis)
        unit_sizes, counts = sizes_at(top, every)
        n_small = int((unit_sizes < k).sum())
        blocking = [
            q
            for i, q in enumerate(qis)
            if len(qis) == 1
            or int((sizes_at(top, [j for j in every if j != i])[0] < k).sum()) < n_small
        ]
        where = ", ".join(f"{q}: {hierarchies[q].levels[caps[q]]}" for q in qis)
        share = 100.0 * n_small / n_subjects
        best = _best_k(counts, cap)
        raise KAnonymityError(
            both(
                f"준식별자 {', '.join(qis)}로 k={k}를 맞출 수 없습니다: 허용된 가장 일반적인"
                f" 수준({where})에서도 참여자 {n_subjects}명 중 {n_small}명({share:.0f} %)이"
                f" {k}명보다 작은 묶음에 있어 억제 한도 {max_suppression:.0%}({cap}명)를"
                f" 넘습니다. 이 자료로 맞출 수 있는 최선은 k={best}입니다."
                + (f" 걸림돌인 항목: {', '.join(blocking)}." if blocking else ""),
                f"cannot reach k={k} for quasi-identifiers {', '.join(qis)}: even at the most "
                f"general levels allowed ({where}), {n_small} of {n_subjects} participants "
                f"({share:.0f} %) are in groups smaller than {k}, more than the "
                f"{max_suppression:.0%} suppression cap ({cap}). The best this data reaches is "
                f"k={best}."
                + (f" Fields holding it back: {', '.join(blocking)}." if blocking else ""),
            ),
            k_requested=k,
            k_reached=best,
            n_subjects=n_subjects,
            n_would_suppress=n_small,
            max_suppressed=cap,
            blocking_fields=blocking,
        )

    keep_unit = chosen_sizes >= k
    keep_row = keep_unit[row_unit]
    values = {q: labels_at[q][lv][row_unit] for q, lv in zip(qis, chosen, strict=True)}
    levels = dict(zip(qis, chosen, strict=True))
    result = KAnonymous(
        records=[],
        quasi_identifiers=qis,
        k_requested=k,
        k_achieved=int(chosen_sizes[keep_unit].min()),
        levels=levels,
        level_labels={q: hierarchies[q].levels[lv] for q, lv in levels.items()},
        n_records_in=n_records,
        n_records_out=int(keep_row.sum()),
        n_subjects_in=n_subjects,
        n_subjects_out=int(keep_unit.sum()),
        n_subjects_suppressed=int((~keep_unit).sum()),
        max_suppression=max_suppression,
    )
    return _Plan(keep_row, values, result)


def _check_args(
    quasi_identifiers: Sequence[str],
    k: int,
    hierarchies: Mapping[str, Hierarchy] | None,
    max_suppression: float,
) -> tuple[list[str], dict[str, Hierarchy]]:
    if isinstance(k, bool) or not isinstance(k, int) or k < MIN_K:
        raise DeidError(
            both(
                f"k는 {MIN_K} 이상의 정수여야 합니다({k!r})",
                f"k must be a whole number of at least {MIN_K}, got {k!r}",
            )
        )
    if not 0.0 <= max_suppression < 1.0:
        raise DeidError(
            both(
                "max_suppression은 0 이상 1 미만의 비율이어야 합니다",
                "max_suppression must be a fraction in [0, 1)",
            )
        )
    qis = list(dict.fromkeys(quasi_identifiers))
    if not qis:
        raise DeidError(
            both("준식별자가 하나 이상 필요합니다", "at least one quasi-identifier is needed")
        )
    found = dict(hierarchies or {})
    no_hierarchy = [q for q in qis if q not in found]
    if no_hierarchy:
        raise DeidError(
            both(
                f"{', '.join(no_hierarchy)}의 일반화 계층이 없습니다",
                f"no generalisation hierarchy for {', '.join(no_hierarchy)}",
            )
        )
    return qis, found


def k_anonymise(
    records: list[dict[str, object]],
    quasi_identifiers: Sequence[str],
    k: int = DEFAULT_K,
    hierarchies: Mapping[str, Hierarchy] | None = None,
    max_suppression: float = DEFAULT_MAX_SUPPRESSION,
    *,
    subject_key: str | None = None,
    max_levels: Mapping[str, int] | None = None,
) -> KAnonymous:
    """Generalise and suppress ``records`` until every quasi-identifier class has >= k subjects.

    ``subject_key`` names the participant field when a subject has several rows (daily
    metrics): classes then count distinct subjects, a subject's QIs must not vary, and
    suppression removes all of a subject's rows. Without it every record is its own subject.
    ``max_levels`` caps how far a field may be generalised. At most ``max_suppression`` of the
    subjects are suppressed; otherwise ``KAnonymityError`` explains what blocked k.
    The input is not modified; ``result.records`` are new dicts in the input order.
    """
    qis, found = _check_args(quasi_identifiers, k, hierarchies, max_suppression)
    needed = [*qis, *([subject_key] if subject_key else [])]
    absent = [f for f in needed if any(f not in r for r in records)]
    if absent:
        raise DeidError(
            both(
                f"일부 기록에 {', '.join(absent)} 항목이 없습니다",
                f"some records lack field(s) {', '.join(absent)}",
            )
        )
    frame = pd.DataFrame({f: [r[f] for r in records] for f in needed}, dtype=object)
    plan = _plan(frame, qis, k, found, max_suppression, subject_key, max_levels)
    kept = np.flatnonzero(plan.keep_row)
    columns = [plan.values[q][kept].tolist() for q in qis]
    out: list[dict[str, object]] = []
    for position, index in enumerate(kept.tolist()):
        row = dict(records[index])
        for q, column in zip(qis, columns, strict=True):
            row[q] = column[position]
        out.append(row)
    return replace(plan.result, records=out)


def k_anonymise_frame(
    frame: Any,
    quasi_identifiers: Sequence[str],
    k: int = DEFAULT_K,
    hierarchies: Mapping[str, Hierarchy] | None = None,
    max_suppression: float = DEFAULT_MAX_SUPPRESSION,
    *,
    subject_key: str | None = None,
    max_levels: Mapping[str, int] | None = None,
) -> tuple[Any, KAnonymous]:
    """``k_anonymise`` for a DataFrame (vectorised, for large exports): (frame, result).

    The returned frame holds the kept rows with generalised QI columns (as strings);
    ``result.records`` is empty.
    """
    qis, found = _check_args(quasi_identifiers, k, hierarchies, max_suppression)
    needed = [*qis, *([subject_key] if subject_key else [])]
    absent = [f for f in needed if f not in frame.columns]
    if absent:
        raise DeidError(
            both(
                f"표에 {', '.join(absent)} 열이 없습니다",
                f"the table lacks column(s) {', '.join(absent)}",
            )
        )
    plan = _plan(
        frame.loc[:, needed].reset_index(drop=True),
        qis,
        k,
        found,
        max_suppression,
        subject_key,
        max_levels,
    )
    out = frame.loc[plan.keep_row].copy()
    for q in qis:
        out[q] = pd.Series(plan.values[q][plan.keep_row], index=out.index, dtype=object)
    return out, plan.result


# --------------------------------------------------------------------------- tables and columns


def suppress_small_cells(
    table: Any,
    count_columns: Sequence[str],
    min_cell: int = 5,
    *,
    dependent_columns: Mapping[str, Sequence[str]] | None = None,
) -> tuple[Any, int]:
    """Blank counts in 1..min_cell-1 (and figures derived from them); return (table, n blanked).

    Zero counts are kept (an empty cell discloses nobody). ``dependent_columns`` maps a count
    column to columns computed from it (a mean over n people) that are blanked with it.
    Suppressed cells become missing (pandas NA / NaN). Complementary suppression against
    margins is not done: do not publish row/column totals next to a suppressed table.
    """
    if min_cell < 2:
        raise DeidError(both("min_cell은 2 이상이어야 합니다", "min_cell must be at least 2"))
    absent = [c for c in count_columns if c not in table.columns]
    for deps in (dependent_columns or {}).values():
        absent += [c for c in deps if c not in table.columns]
    if absent:
        raise DeidError(
            both(
                f"표에 {', '.join(absent)} 열이 없습니다",
                f"column(s) {', '.join(absent)} not in the table",
            )
        )
    out = table.copy()
    n = 0
    for column in count_columns:
        values = pd.to_numeric(out[column], errors="raise")
        small = (values > 0) & (values < min_cell)
        n += int(small.sum())
        dtype = "Int64" if pd.api.types.is_integer_dtype(values.dtype) else "Float64"
        out[column] = values.astype(dtype).mask(small)
        for dep in (dependent_columns or {}).get(column, ()):
            out[dep] = pd.to_numeric(out[dep], errors="raise").astype("Float64").mask(small)
    return out, n


def drop_free_text(table: Any, exportable: Collection[str]) -> tuple[Any, list[str]]:
    """Keep only columns declared exportable (whitelist); return (table, dropped column names)."""
    allowed = set(exportable)
    keep = [c for c in table.columns if c in allowed]
    dropped = [str(c) for c in table.columns if c not in allowed]
    return table.loc[:, keep].copy(), dropped


# --------------------------------------------------------------------------- documentation


@dataclass(frozen=True)
class ColumnSpec:
    """What an exportable column means: description, units and how it was generalised."""

    description: str
    units: str = ""
    generalisation: str = ""


@dataclass(frozen=True)
class DataDictionaryEntry:
    """One column of an export: name, type, description, units, generalisation."""

    column: str
    type: str
    description: str
    units: str
    generalisation: str


def _type_name(series: Any) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    non_null = series.dropna()
    if len(non_null) and all(
        isinstance(v, date) and not isinstance(v, datetime) for v in non_null.head(100)
    ):
        return "date"
    return "string"


@dataclass
class DataDictionary:
    """The columns of an export, for the file that ships beside it."""

    entries: list[DataDictionaryEntry] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        table: Any,
        specs: Mapping[str, ColumnSpec],
        generalisation: Mapping[str, str] | None = None,
    ) -> DataDictionary:
        """One entry per column of ``table``; every column must have a spec."""
        undocumented = [str(c) for c in table.columns if c not in specs]
        if undocumented:
            raise DeidError(
                both(
                    f"{', '.join(undocumented)} 열의 자료 사전 항목이 없습니다",
                    f"no data-dictionary entry for column(s) {', '.join(undocumented)}",
                )
            )
        extra = dict(generalisation or {})
        return cls(
            [
                DataDictionaryEntry(
                    column=str(c),
                    type=_type_name(table[c]),
                    description=specs[c].description,
                    units=specs[c].units,
                    generalisation=extra.get(str(c), specs[c].generalisation),
                )
                for c in table.columns
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"columns": [asdict(e) for e in self.entries]}

    def to_frame(self) -> Any:
        """A DataFrame (for writing as CSV beside the export)."""
        return pd.DataFrame([asdict(e) for e in self.entries], columns=list(_DD_COLUMNS))

    def to_markdown(self) -> str:
        """A Markdown table."""
        lines = [
            "| column | type | description | units | generalisation |",
            "|---|---|---|---|---|",
        ]
        for e in self.entries:
            cells = [e.column, e.type, e.description, e.units, e.generalisation]
            lines.append("| " + " | ".join(_md_cell(x) for x in cells) + " |")
        return "\n".join(lines) + "\n"


_DD_COLUMNS = ("column", "type", "description", "units", "generalisation")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


@dataclass(frozen=True)
class DisclosureReport:
    """What was done to protect participants in one export, for the researcher and the IRB."""

    k_requested: int
    k_achieved: int | None
    quasi_identifiers: list[str]
    generalised: dict[str, str]
    records_in: int
    records_out: int
    records_suppressed: int
    subjects_in: int
    subjects_out: int
    subjects_suppressed: int
    max_suppression: float
    date_shift_applied: bool
    date_shift_max_days: int | None
    small_cells_suppressed: int
    min_cell: int | None
    columns_dropped: list[str]
    algorithm: str
    created_at: str

    @classmethod
    def from_result(
        cls,
        result: KAnonymous,
        *,
        created_at: datetime,
        date_shift_max_days: int | None,
        small_cells_suppressed: int = 0,
        min_cell: int | None = None,
        columns_dropped: Sequence[str] = (),
    ) -> DisclosureReport:
        """Build the report from a ``k_anonymise`` result and the other steps' figures."""
        if created_at.tzinfo is None:
            raise DeidError(
                both(
                    "created_at에는 시간대(UTC)가 있어야 합니다",
                    "created_at must be timezone-aware (UTC)",
                )
            )
        return cls(
            k_requested=result.k_requested,
            k_achieved=result.k_achieved,
            quasi_identifiers=list(result.quasi_identifiers),
            generalised=dict(result.level_labels),
            records_in=result.n_records_in,
            records_out=result.n_records_out,
            records_suppressed=result.n_records_suppressed,
            subjects_in=result.n_subjects_in,
            subjects_out=result.n_subjects_out,
            subjects_suppressed=result.n_subjects_suppressed,
            max_suppression=result.max_suppression,
            date_shift_applied=date_shift_max_days is not None,
            date_shift_max_days=date_shift_max_days,
            small_cells_suppressed=small_cells_suppressed,
            min_cell=min_cell,
            columns_dropped=sorted(columns_dropped),
            algorithm=result.algorithm,
            created_at=created_at.isoformat(),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def to_markdown(self) -> str:
        """A short human-readable report."""
        shift = (
            f"yes, each participant's dates moved by a secret offset of ±1-"
            f"{self.date_shift_max_days} days (intervals within a participant kept)"
            if self.date_shift_applied
            else "no"
        )
        generalised = (
            ", ".join(f"{_md_cell(q)} → {_md_cell(lv)}" for q, lv in self.generalised.items())
            or "none"
        )
        rows = [
            ("k requested", str(self.k_requested)),
            ("k achieved", "—" if self.k_achieved is None else str(self.k_achieved)),
            ("quasi-identifiers", ", ".join(self.quasi_identifiers) or "none"),
            ("fields generalised", generalised),
            (
                "participants in / out / suppressed",
                f"{self.subjects_in} / {self.subjects_out} / {self.subjects_suppressed}",
            ),
            (
                "records in / out / suppressed",
                f"{self.records_in} / {self.records_out} / {self.records_suppressed}",
            ),
            ("suppression cap", f"{self.max_suppression:.0%} of participants"),
            ("date shifting", shift),
            (
                "small cells suppressed",
                f"{self.small_cells_suppressed}"
                + (f" (counts below {self.min_cell})" if self.min_cell else ""),
            ),
            ("columns dropped (not exportable)", ", ".join(self.columns_dropped) or "none"),
            ("method", self.algorithm),
            ("created", self.created_at),
        ]
        lines = ["# Disclosure report", "", "| item | value |", "|---|---|"]
        lines += [f"| {_md_cell(a)} | {_md_cell(b)} |" for a, b in rows]
        return "\n".join(lines) + "\n"
