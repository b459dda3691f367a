"""A study's statistics: per instrument, descriptives, within- and between-arm change, LMM.

Orchestration only: the figures come from `cloud.research.stats` (pure); this module picks the
analysis set (dataset.roster), the baseline (the earliest scheduled time point) and the
follow-up (the latest with data), and keeps the missing-data counts next to every figure.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from cloud.research import stats
from cloud.research.dataset import Roster, assessments_long, instruments_used, roster
from cloud.research.studies import schedule_of
from protocol.instruments import InstrumentId

log = logging.getLogger(__name__)

INTERVENTION, CONTROL = "intervention", "control"


@dataclass(frozen=True)
class InstrumentSummary:
    """Every figure for one instrument; `problems` says what could not be computed and why."""

    instrument: str
    time_points: list[str]
    baseline: str | None
    follow_up: str | None
    descriptives: list[stats.ArmTimeDescriptives]
    missing: list[stats.MissingCell]
    within_arm: dict[str, stats.PairedChange] = field(default_factory=dict)
    between: stats.BetweenArms | None = None
    mixed: stats.MixedModelResult | None = None
    problems: list[str] = field(default_factory=list)
    mixed_numeric: stats.MixedModelResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "instrument": self.instrument,
            "time_points": self.time_points,
            "baseline": self.baseline,
            "follow_up": self.follow_up,
            "descriptives": [d.to_dict() for d in self.descriptives],
            "missing": [m.to_dict() for m in self.missing],
            "within_arm": {arm: c.to_dict() for arm, c in self.within_arm.items()},
            "between": None if self.between is None else self.between.to_dict(),
            "mixed_model": None if self.mixed is None else self.mixed.to_dict(),
            "mixed_model_numeric_time": (
                None if self.mixed_numeric is None else self.mixed_numeric.to_dict()
            ),
            "problems": self.problems,
        }


def _arm_pair(arms: list[str]) -> tuple[str, str] | None:
    if INTERVENTION in arms and CONTROL in arms:
        return INTERVENTION, CONTROL
    return (arms[0], arms[1]) if len(arms) >= 2 else None


def summarise_instrument(
    session: Session,
    study_id: str,
    instrument: str,
    who: Roster,
    *,
    seed: int = 20261127,
    n_boot: int = 2000,
) -> InstrumentSummary:
    """Descriptives per arm and time, changes from baseline to the last follow-up, and the LMM."""
    schedule = [tp for tp in schedule_of(session, study_id) if instrument in tp.instruments]
    order = [tp.label for tp in schedule]
    time_days = {tp.label: float(tp.day) for tp in schedule}
    long = assessments_long(session, study_id, instrument, codes=list(who.arms))
    seen = set(long["time"]) if len(long) else set()
    times = [t for t in order if t in seen] or order
    problems: list[str] = []
    roster_map = dict(who.arms)
    if len(long) == 0:
        return InstrumentSummary(instrument, times, None, None, [], [], problems=["no scores yet"])
    descriptives = stats.describe_by_arm_time(long, time_order=times, roster=roster_map)
    missing = stats.missing_data_summary(long, time_order=times, roster=roster_map)
    baseline = times[0]
    follow_up = times[-1] if len(times) > 1 else None
    within: dict[str, stats.PairedChange] = {}
    between = None
    mixed = None
    mixed_numeric = None
    if follow_up is None:
        problems.append("only one time point has scores: no change can be computed")
    else:
        try:
            within = stats.within_arm_changes(long, baseline, follow_up, roster=roster_map)
        except stats.StatsInputError as e:
            problems.append(f"within-arm change: {e}")
        arms = sorted(set(roster_map.values()))
        pair = _arm_pair(arms)
        if pair is not None:
            changes = stats.change_scores(long, baseline, follow_up, roster=roster_map)
            a = changes.loc[changes["arm"] == pair[0], "change"].tolist()
            b = changes.loc[changes["arm"] == pair[1], "change"].tolist()
            try:
                between = stats.between_arm_change(
                    a, b, seed=seed, n_boot=n_boot, arm_a=pair[0], arm_b=pair[1]
                )
            except stats.StatsInputError as e:
                problems.append(f"between-arm change: {e}")
        try:
            mixed = stats.mixed_model(long, time_order=times)
        except stats.StatsInputError as e:
            problems.append(f"mixed model: {e}")
        except Exception as e:  # a singular fit must not sink the whole report
            log.warning("mixed model for %s failed: %s", instrument, e)
            problems.append(f"mixed model could not be fitted: {e}")
        try:
            mixed_numeric = stats.mixed_model_numeric(long, time_days)
        except stats.StatsInputError as e:
            problems.append(f"mixed model with time as a number: {e}")
        except Exception as e:  # as above
            log.warning("numeric-time mixed model for %s failed: %s", instrument, e)
            problems.append(f"mixed model with time as a number could not be fitted: {e}")
    return InstrumentSummary(
        instrument,
        times,
        baseline,
        follow_up,
        descriptives,
        missing,
        within,
        between,
        mixed,
        problems,
        mixed_numeric,
    )


def summarise_study(
    session: Session, study_id: str, *, seed: int = 20261127, n_boot: int = 2000
) -> tuple[Roster, list[InstrumentSummary]]:
    """The analysis set and one summary per instrument that has scores."""
    who = roster(session, study_id)
    known = {i.value for i in InstrumentId}
    summaries = [
        summarise_instrument(session, study_id, inst, who, seed=seed, n_boot=n_boot)
        for inst in instruments_used(session, study_id)
        if inst in known
    ]
    return who, summaries
