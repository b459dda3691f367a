"""The HTML study report: plots embedded, right numbers, hostile strings escaped, gaps handled."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest

from cloud.research import report as R
from cloud.research import stats as S

ARMS = ["control", "intervention"]
TIMES = ["baseline", "week 4", "week 8"]
GENERATED = datetime(2026, 11, 27, 6, 30, tzinfo=UTC)


def long_scores(seed: int, n_per_arm: int = 30, arms: list[str] = ARMS) -> Any:
    rng = np.random.default_rng(seed)
    rows = []
    for arm in arms:
        for i in range(n_per_arm):
            person = rng.normal(0, 2)
            for w, t in zip((0, 4, 8), TIMES, strict=True):
                effect = -2.0 * w / 8 if arm == "intervention" else 0.0
                rows.append(
                    {
                        "participant": f"{arm}-{i}",
                        "arm": arm,
                        "time": t,
                        "score": 7 + person + effect + rng.normal(0, 1.2),
                    }
                )
    return pd.DataFrame(rows)


def trends(arms: list[str], n: int = 30, days: int = 30) -> Any:
    rng = np.random.default_rng(0)
    dates = pd.date_range("2026-03-01", periods=days).date
    return pd.DataFrame(
        [
            (d, a, m, float(rng.normal(10, 1)), n)
            for d in dates
            for a in arms
            for m in ("talk_minutes", "touches")
        ],
        columns=list(R.METRIC_TREND_COLUMNS),
    )


def study(
    name: str = "Pilot 2026",
    *,
    seed: int = 1,
    arms: list[str] = ARMS,
    data_arms: list[str] = ARMS,
    n_per_arm: int = 30,
    with_trends: bool = True,
) -> R.ReportData:
    long = long_scores(seed, n_per_arm, data_arms)
    changes = S.change_scores(long, "baseline", "week 8")
    between = (
        S.between_arm_change(
            changes.loc[changes.arm == "intervention", "change"],
            changes.loc[changes.arm == "control", "change"],
            seed=7,
            n_boot=300,
            arm_a="intervention",
            arm_b="control",
        )
        if {"control", "intervention"} <= set(data_arms)
        else None
    )
    gds = R.InstrumentResults(
        instrument="GDS-15",
        trajectories=S.describe_by_arm_time(long),
        within_arm=S.within_arm_changes(long, "baseline", "week 8"),
        between=between,
        mixed=S.mixed_model(long),
        mixed_numeric=S.mixed_model_numeric(
            long, {"baseline": 0.0, "week 4": 28.0, "week 8": 56.0}
        ),
        baseline="baseline",
        follow_up="week 8",
    )
    flow = R.EnrolmentFlow(
        arms=[
            R.ArmFlow(a, n_per_arm if a in data_arms else 0, 2 if a in data_arms else 0)
            for a in arms
        ],
        completeness=S.missing_data_summary(long),
    )
    return R.ReportData(
        study_name=name,
        arms=arms,
        time_points=TIMES,
        enrolment=flow,
        instruments=[gds],
        metric_trends=trends(data_arms) if with_trends else None,
        generated_at=GENERATED,
        software_version="0.1.0-test",
    )


@pytest.fixture(scope="module")
def rendered() -> tuple[R.ReportData, str]:
    """The default synthetic study and its report, rendered once for the read-only tests."""
    data = study()
    return data, R.render_report(data)


def images(html: str) -> list[str]:
    """The decoded SVG documents embedded in the report."""
    uris = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', html)
    return [base64.b64decode(u).decode("utf-8") for u in uris]


def cell(x: float | None) -> str:
    assert x is not None
    return f"<td>{x:.2f}</td>"


def test_report_embeds_every_plot_as_svg(rendered: tuple[R.ReportData, str]) -> None:
    _, html = rendered
    svgs = images(html)
    assert len(svgs) == 4  # flow, GDS trajectories, forest plot, daily-metric trends
    assert all(s.lstrip().startswith("<?xml") and "<svg" in s for s in svgs)
    flow, trajectory, forest, trend = svgs
    assert "Enrolled: 60" in flow
    assert "allocated: 30" in flow
    assert "intervention" in trajectory
    assert "control" in trajectory
    assert "Hedges" in forest
    assert "talk_minutes" in trend
    assert "touches" in trend
    assert html.startswith("<!DOCTYPE html>")
    assert "http://" not in html.replace("http://www.w3.org", "")  # nothing fetched


def test_report_shows_the_right_numbers(rendered: tuple[R.ReportData, str]) -> None:
    data, html = rendered
    gds = data.instruments[0]
    for d in gds.trajectories:
        assert cell(d.stats.mean) in html
        assert cell(d.stats.sd) in html
    b = gds.between
    assert b is not None
    assert cell(b.g) in html
    assert cell(b.d) in html  # Cohen's d beside Hedges' g
    assert "<th>Cohen's d</th>" in html
    assert f"{b.diff_ci_low:.2f} to {b.diff_ci_high:.2f}" in html
    assert f"{b.g_ci_low:.2f} to {b.g_ci_high:.2f}" in html
    assert gds.mixed is not None
    term = gds.mixed.interaction("intervention", "week 8")
    assert cell(term.coef) in html
    assert f"{term.ci_low:.2f} to {term.ci_high:.2f}" in html
    assert gds.mixed_numeric is not None  # time as a number, beside the categorical model
    slope = gds.mixed_numeric.interaction("intervention", S.WEEK_PER_WEEK)
    assert "<h3>Linear mixed model, time as a number (weeks)</h3>" in html
    assert "<code>arm[T.intervention]:weeks</code>" in html
    assert f"{slope.ci_low:.2f} to {slope.ci_high:.2f}" in html
    for arm, change in gds.within_arm.items():
        assert f'<td class="l">{arm}</td><td>{change.n_pairs}</td>' in html
        assert cell(change.mean_diff) in html
    assert "Generated 2026-11-27 06:30 UTC by dolbom 0.1.0-test" in html
    assert "<td>28</td>" in html  # 30 enrolled - 2 withdrawn still active


def test_hostile_strings_are_escaped() -> None:
    evil = '<script>alert("x")</script>'
    data = study(name=f"Study {evil}", with_trends=False)
    data.notes.append(f"note {evil}")
    data.instruments[0] = R.InstrumentResults(
        instrument=f"GDS {evil}", trajectories=data.instruments[0].trajectories
    )
    html = R.render_report(data)
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    for svg in images(html):
        assert "<script" not in svg


def test_dollar_signs_in_names_are_text_not_math() -> None:
    data = study(with_trends=False)
    name = "GDS $x_$ (paid)"  # two dollar signs: matplotlib would parse it as math
    data.instruments[0] = R.InstrumentResults(
        instrument=name, trajectories=data.instruments[0].trajectories
    )
    html = R.render_report(data)
    plot = next(svg for svg in images(html) if "per arm" in svg)
    assert f"{name}: mean ± 95 % CI per arm</text>" in plot


def test_an_arm_without_data_still_renders() -> None:
    data = study(arms=["control", "intervention", "waitlist"])
    html = R.render_report(data)
    assert '<td class="l">waitlist</td><td>0</td><td>0</td><td>0</td>' in html
    assert len(images(html)) == 4


def test_a_study_with_no_scores_or_metrics_renders() -> None:
    data = R.ReportData(
        study_name="Empty",
        arms=ARMS,
        time_points=TIMES,
        enrolment=R.EnrolmentFlow([R.ArmFlow("control", 0, 0), R.ArmFlow("intervention", 0, 0)]),
        instruments=[R.InstrumentResults("GDS-15", trajectories=[])],
        generated_at=GENERATED,
    )
    html = R.render_report(data)
    assert "No daily metrics yet." in html
    assert "no data to show" in images(html)[1]


def test_statistics_of_small_groups_are_suppressed_in_tables_plots_and_model() -> None:
    data = study(n_per_arm=3, with_trends=False)
    html = R.render_report(data)
    gds = data.instruments[0]
    for d in gds.trajectories:
        assert d.stats.n == 3
        assert cell(d.stats.mean) not in html
        assert cell(d.stats.sd) not in html
    for change in gds.within_arm.values():
        assert cell(change.mean_diff) not in html
    assert gds.between is not None
    assert cell(gds.between.g) not in html
    assert gds.mixed is not None
    for term in gds.mixed.fixed_effects:
        assert cell(term.coef) not in html
    assert gds.mixed_numeric is not None
    assert "arm[T.intervention]:weeks" not in html
    assert "Not shown: an arm has fewer than 5 participants" in html
    assert '<td class="l">control</td><td class="l">baseline</td><td>3</td>' in html
    # 6 arm-time rows, 2 within-arm rows, the between-arm row and the model.
    assert "(10 table entries suppressed)" in html
    svgs = images(html)
    assert len(svgs) == 2  # no forest plot: every effect size is suppressed
    assert "no data to show" in svgs[1]


def test_small_daily_metric_cells_are_left_out_of_the_trend_table() -> None:
    data = study()
    small = trends(ARMS, n=3)
    small["metric"] = "rare_metric"
    data = R.ReportData(
        **{**data.__dict__, "metric_trends": pd.concat([data.metric_trends, small])}
    )
    html = R.render_report(data)
    assert "rare_metric" not in html
    assert "talk_minutes" in html


def test_trend_summary_numbers(rendered: tuple[R.ReportData, str]) -> None:
    data, html = rendered
    t = data.metric_trends
    sel = t[(t.metric == "touches") & (t.arm == "control")]
    assert f"<td>{sel['mean'].mean():.2f}</td>" in html
    first_week = sel.sort_values("date").head(7)["mean"].mean()
    assert f"<td>{first_week:.2f}</td>" in html


def test_bad_inputs_are_refused() -> None:
    data = study()
    bad = R.ReportData(**{**data.__dict__, "metric_trends": data.metric_trends.drop(columns="n")})
    with pytest.raises(ValueError, match="lacks column"):
        R.render_report(bad)
    bad_flow = R.ReportData(
        **{**data.__dict__, "enrolment": R.EnrolmentFlow([R.ArmFlow("control", 2, 3)])}
    )
    with pytest.raises(ValueError, match="withdrawn"):
        R.render_report(bad_flow)


def test_same_data_gives_the_same_report(rendered: tuple[R.ReportData, str]) -> None:
    data, html = rendered
    assert R.render_report(data) == html
