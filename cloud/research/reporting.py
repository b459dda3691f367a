"""The study report: gather the aggregates (analysis, trends, flow) and render the HTML."""

from datetime import datetime

from sqlalchemy.orm import Session

from cloud.research.analysis import summarise_study
from cloud.research.dataset import completeness, metric_trends
from cloud.research.report import (
    ArmFlow,
    EnrolmentFlow,
    InstrumentResults,
    ReportData,
    render_report,
)
from cloud.research.studies import arms_of, get_study, schedule_of
from protocol.instruments import get_instrument

HIGHER_IS_WORSE = "lower is better"


def report_data(
    session: Session, study_id: str, now: datetime, *, seed: int = 20261127, n_boot: int = 2000
) -> ReportData:
    """Everything the report shows, as aggregates; no identity is read."""
    study = get_study(session, study_id)
    arms = [a.code for a in arms_of(session, study_id)]
    who, summaries = summarise_study(session, study_id, seed=seed, n_boot=n_boot)
    flow = EnrolmentFlow(
        arms=[ArmFlow(arm, who.enrolled.get(arm, 0), who.withdrawn.get(arm, 0)) for arm in arms],
        completeness=[cell for s in summaries for cell in s.missing],
    )
    instruments = [
        InstrumentResults(
            instrument=get_instrument(s.instrument).name,
            trajectories=s.descriptives,
            within_arm=s.within_arm,
            between=s.between,
            mixed=s.mixed,
            mixed_numeric=s.mixed_numeric,
            baseline=s.baseline,
            follow_up=s.follow_up,
            direction=HIGHER_IS_WORSE,
        )
        for s in summaries
        if s.descriptives
    ]
    notes = [f"{get_instrument(s.instrument).name}: {p}" for s in summaries for p in s.problems]
    done = completeness(session, study_id)
    if done["share_days_with_data"] is not None:
        notes.append(
            f"Participant-days with any consented data: {done['share_days_with_data']:.0%}; "
            f"robots were on {done['mean_device_up_hours'] or 0:.1f} h a day on average "
            f"(absent seniors and broken robots are told apart by these two figures)."
        )
    notes.append(
        "Withdrawn participants count in the flow; their data enter the analyses only when "
        "their consent retained it. Statistics of groups smaller than 5 are not shown."
    )
    return ReportData(
        study_name=study.title,
        arms=arms,
        time_points=[tp.label for tp in schedule_of(session, study_id)],
        enrolment=flow,
        instruments=instruments,
        metric_trends=metric_trends(session, study_id, codes=list(who.arms)),
        study_id=study_id,
        generated_at=now,
        notes=notes,
    )


def build_report(
    session: Session, study_id: str, now: datetime, *, seed: int = 20261127, n_boot: int = 2000
) -> str:
    """The study report as one self-contained HTML page."""
    return render_report(report_data(session, study_id, now, seed=seed, n_boot=n_boot))
