"""Pilot statistics: every figure checked against scipy, statsmodels and numpy on the same data."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest
import statsmodels.formula.api as smf  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from cloud.research import stats as S

TOL = 1e-9
TIMES = ("baseline", "week 4", "week 8")


def close(a: float | None, b: Any) -> bool:
    assert a is not None
    return math.isclose(a, float(b), rel_tol=TOL, abs_tol=TOL)


def cohort(
    seed: int, *, n_per_arm: int = 60, effect_week8: float = -2.0, missing: float = 0.05
) -> Any:
    """Two arms x n participants x 3 time points of GDS-like scores; effect at week 8 planted.

    The intervention changes the score by ``effect_week8`` at week 8 (half of it at week 4)
    relative to control; a negative effect is an improvement on the GDS (lower is better).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for arm in ("control", "intervention"):
        for i in range(n_per_arm):
            person = rng.normal(0.0, 2.0)
            for t, weeks in zip(TIMES, (0, 4, 8), strict=True):
                drift = -0.3 * weeks / 8
                effect = effect_week8 * weeks / 8 if arm == "intervention" else 0.0
                score = 7.0 + person + drift + effect + rng.normal(0.0, 1.5)
                if rng.random() < missing:
                    score = math.nan
                rows.append(
                    {"participant": f"{arm[0]}-{i:03d}", "arm": arm, "time": t, "score": score}
                )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- descriptives


def test_describe_matches_numpy_and_counts_missing() -> None:
    values = [3.0, None, 7.5, 1.0, math.nan, 4.25, 9.0, 2.0]
    arr = np.array([3.0, 7.5, 1.0, 4.25, 9.0, 2.0])
    d = S.describe(values)
    assert d.n == 6
    assert d.n_missing == 2
    assert close(d.mean, np.mean(arr))
    assert close(d.sd, np.std(arr, ddof=1))
    assert close(d.median, np.median(arr))
    assert close(d.q1, np.percentile(arr, 25))
    assert close(d.q3, np.percentile(arr, 75))
    assert close(d.iqr, np.percentile(arr, 75) - np.percentile(arr, 25))
    assert d.min == 1.0
    assert d.max == 9.0


def test_describe_leaves_undefined_figures_empty() -> None:
    assert S.describe([None, None]) == S.Descriptives(
        0, 2, None, None, None, None, None, None, None
    )
    one = S.describe([5.0])
    assert one.mean == 5.0
    assert one.sd is None


def test_describe_refuses_infinite_values() -> None:
    with pytest.raises(S.StatsInputError, match="infinite"):
        S.describe([1.0, math.inf])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)),
        max_size=40,
    )
)
def test_describe_agrees_with_numpy_for_any_data(values: list[float | None]) -> None:
    d = S.describe(values)
    present = np.array([v for v in values if v is not None], dtype=float)
    assert d.n + d.n_missing == len(values)
    assert d.n == present.size
    if present.size:
        assert math.isclose(d.mean or 0.0, float(np.mean(present)), rel_tol=1e-9, abs_tol=1e-6)
        assert d.min is not None
        assert d.q1 is not None
        assert d.median is not None
        assert d.q3 is not None
        assert d.max is not None
        assert d.min <= d.q1 <= d.median <= d.q3 <= d.max
    if present.size >= 2:
        assert math.isclose(d.sd or 0.0, float(np.std(present, ddof=1)), rel_tol=1e-9, abs_tol=1e-6)


def test_describe_by_arm_time_counts_participants_without_rows_as_missing() -> None:
    long = cohort(3, n_per_arm=10, missing=0.0)
    # i-009 has no week-8 row at all, c-000 has an explicit missing score.
    long = long.loc[~((long.participant == "i-009") & (long.time == "week 8"))]
    long.loc[(long.participant == "c-000") & (long.time == "baseline"), "score"] = None
    table = {(d.arm, d.time): d.stats for d in S.describe_by_arm_time(long)}
    assert [t for (a, t) in table if a == "control"] == list(TIMES)
    assert table[("intervention", "week 8")].n == 9
    assert table[("intervention", "week 8")].n_missing == 1
    assert table[("control", "baseline")].n_missing == 1
    expected = long.loc[(long.arm == "control") & (long.time == "week 4"), "score"]
    assert close(table[("control", "week 4")].mean, expected.mean())


def test_missing_data_summary_uses_the_roster_for_expected_counts() -> None:
    long = cohort(4, n_per_arm=8, missing=0.0)
    long.loc[(long.participant == "c-001") & (long.time == "week 8"), "score"] = None
    roster = dict(zip(long.participant, long.arm, strict=False))
    roster["c-never"] = "control"  # enrolled, never assessed
    cells = {(c.arm, c.time): c for c in S.missing_data_summary(long, roster=roster)}
    c8 = cells[("control", "week 8")]
    assert (c8.expected, c8.observed, c8.missing) == (9, 7, 2)
    assert cells[("intervention", "baseline")].missing == 0
    assert c8.completeness == pytest.approx(7 / 9)


def test_time_points_sort_naturally_with_baseline_first() -> None:
    labels = ["week 12", "week 4", "baseline", "week 8"]
    assert sorted(labels, key=S.natural_time_key) == ["baseline", "week 4", "week 8", "week 12"]


def test_bad_long_data_is_refused_with_a_reason() -> None:
    long = cohort(1, n_per_arm=3)
    with pytest.raises(S.StatsInputError, match="more than one row"):
        S.describe_by_arm_time(pd.concat([long, long.iloc[[0]]]))
    moved = long.copy()
    moved.loc[moved.index[1], "arm"] = "intervention"
    with pytest.raises(S.StatsInputError, match="more than one arm"):
        S.describe_by_arm_time(moved)
    with pytest.raises(S.StatsInputError, match="lacks column"):
        S.describe_by_arm_time(long.drop(columns=["time"]))
    with pytest.raises(S.StatsInputError, match="must be numeric"):
        S.describe_by_arm_time(long.assign(score="seven"))


# --------------------------------------------------------------------------- within-arm change


def test_paired_change_matches_scipy_and_counts_dropped_pairs() -> None:
    rng = np.random.default_rng(7)
    pre = rng.normal(8, 2, 40)
    post = pre - 1.0 + rng.normal(0, 1.5, 40)
    pre_in: list[float | None] = list(pre)
    post_in: list[float | None] = list(post)
    pre_in[3] = None
    post_in[10] = math.nan
    post_in[11] = None
    keep = np.ones(40, dtype=bool)
    keep[[3, 10, 11]] = False
    a, b = pre[keep], post[keep]

    res = S.paired_change(pre_in, post_in)
    ref_t = sps.ttest_rel(b, a)
    ref_ci = ref_t.confidence_interval(confidence_level=0.95)
    ref_w = sps.wilcoxon(b, a)
    assert res.n_pairs == 37
    assert res.n_dropped == 3
    assert close(res.mean_diff, np.mean(b - a))
    assert close(res.sd_diff, np.std(b - a, ddof=1))
    assert close(res.mean_pre, np.mean(a))
    assert close(res.mean_post, np.mean(b))
    assert close(res.t, ref_t.statistic)
    assert close(res.p_t, ref_t.pvalue)
    assert res.df == 36
    assert close(res.ci_low, ref_ci.low)
    assert close(res.ci_high, ref_ci.high)
    assert close(res.wilcoxon_statistic, ref_w.statistic)
    assert close(res.p_wilcoxon, ref_w.pvalue)
    assert res.wilcoxon_zero_method == "wilcox"
    assert res.wilcoxon_method == "exact"


def test_paired_change_ci_by_hand_at_90_percent() -> None:
    pre = np.array([10.0, 12.0, 9.0, 11.0, 14.0, 8.0])
    post = np.array([9.0, 10.0, 9.5, 8.0, 12.0, 7.0])
    res = S.paired_change(pre, post, confidence=0.90)
    d = post - pre
    half = sps.t.ppf(0.95, d.size - 1) * np.std(d, ddof=1) / math.sqrt(d.size)
    assert close(res.ci_low, d.mean() - half)
    assert close(res.ci_high, d.mean() + half)


def test_wilcoxon_reports_zero_differences_and_the_approximation() -> None:
    rng = np.random.default_rng(2)
    pre = rng.integers(0, 15, 80).astype(float)
    post = pre + rng.integers(-3, 2, 80)
    res = S.paired_change(pre, post)
    ref = sps.wilcoxon(post, pre, zero_method="wilcox")
    assert res.n_zero_differences == int(np.sum(post == pre))
    assert res.n_zero_differences > 0
    assert res.wilcoxon_method == "approx"
    assert close(res.wilcoxon_statistic, ref.statistic)
    assert close(res.p_wilcoxon, ref.pvalue)


def test_paired_change_with_too_few_pairs_has_no_test() -> None:
    res = S.paired_change([1.0, None], [2.0, 3.0])
    assert (res.n_pairs, res.n_dropped) == (1, 1)
    assert res.t is None
    assert res.p_t is None
    assert res.ci_low is None
    assert res.mean_diff == 1.0


def test_paired_change_refuses_unpaired_lengths() -> None:
    with pytest.raises(S.StatsInputError, match="pair up"):
        S.paired_change([1.0, 2.0], [1.0])


def test_within_arm_changes_pair_by_participant() -> None:
    long = cohort(11, n_per_arm=30)
    out = S.within_arm_changes(long, "baseline", "week 8")
    wide = long.pivot(index="participant", columns="time", values="score")
    for arm in ("control", "intervention"):
        ids = sorted(set(long.loc[long.arm == arm, "participant"]))
        sub = wide.loc[ids]
        ref = S.paired_change(sub["baseline"].to_numpy(), sub["week 8"].to_numpy())
        assert out[arm] == ref
        assert out[arm].n_pairs + out[arm].n_dropped == 30


# --------------------------------------------------------------------------- between arms


def hand_hedges_g(x: Any, y: Any) -> float:
    nx, ny = len(x), len(y)
    df = nx + ny - 2
    sp = math.sqrt(((nx - 1) * np.var(x, ddof=1) + (ny - 1) * np.var(y, ddof=1)) / df)
    j = math.gamma(df / 2) / (math.sqrt(df / 2) * math.gamma((df - 1) / 2))
    return float((np.mean(x) - np.mean(y)) / sp * j)


def test_between_arm_change_matches_welch_and_hand_hedges_g() -> None:
    rng = np.random.default_rng(5)
    a = list(rng.normal(-2.0, 2.5, 25))
    b = list(rng.normal(0.0, 1.5, 31))
    a_in: list[float | None] = [*a, None]
    res = S.between_arm_change(a_in, b, seed=42, arm_a="intervention", arm_b="control")
    ref = sps.ttest_ind(a, b, equal_var=False)
    ci = ref.confidence_interval(confidence_level=0.95)
    assert (res.n_a, res.n_b, res.n_missing_a, res.n_missing_b) == (25, 31, 1, 0)
    assert close(res.diff, np.mean(a) - np.mean(b))
    assert close(res.welch_t, ref.statistic)
    assert close(res.welch_df, ref.df)
    assert close(res.p, ref.pvalue)
    assert close(res.diff_ci_low, ci.low)
    assert close(res.diff_ci_high, ci.high)
    assert close(res.g, hand_hedges_g(a, b))
    # Cohen's d by hand: the difference over the pooled SD, no small-sample correction
    sp = math.sqrt((24 * np.var(a, ddof=1) + 30 * np.var(b, ddof=1)) / 54)
    assert close(res.d, (np.mean(a) - np.mean(b)) / sp)
    assert res.d is not None
    assert res.g is not None
    assert abs(res.d) > abs(res.g)
    # The exact J is close to the familiar approximation 1 - 3 / (4 df - 1).
    df = 25 + 31 - 2
    assert abs(S.hedges_correction(df) - (1 - 3 / (4 * df - 1))) < 1e-4


def test_percentile_bootstrap_matches_a_plain_loop_with_the_same_draws() -> None:
    rng = np.random.default_rng(8)
    a = rng.normal(1.0, 1.0, 12)
    b = rng.normal(0.0, 1.3, 15)
    res = S.between_arm_change(a, b, seed=99, n_boot=500, bca=False)
    draws = np.random.default_rng(99)
    ia = draws.integers(0, a.size, size=(500, a.size))
    ib = draws.integers(0, b.size, size=(500, b.size))
    gs = np.array([hand_hedges_g(a[ia[r]], b[ib[r]]) for r in range(500)])
    low, high = np.quantile(gs, [0.025, 0.975])
    assert close(res.g_ci_low, low)
    assert close(res.g_ci_high, high)
    assert res.g_bca_low is None


def test_bca_interval_matches_scipy_bootstrap_with_the_same_seed() -> None:
    rng = np.random.default_rng(9)
    a = rng.normal(-1.0, 2.0, 20)
    b = rng.normal(0.0, 2.0, 22)
    res = S.between_arm_change(a, b, seed=3, n_boot=1000)

    def g(x: Any, y: Any, axis: int = -1) -> Any:
        nx, ny = x.shape[axis], y.shape[axis]
        df = nx + ny - 2
        sp = np.sqrt(
            ((nx - 1) * np.var(x, ddof=1, axis=axis) + (ny - 1) * np.var(y, ddof=1, axis=axis)) / df
        )
        j = math.gamma(df / 2) / (math.sqrt(df / 2) * math.gamma((df - 1) / 2))
        return (np.mean(x, axis=axis) - np.mean(y, axis=axis)) / sp * j

    ref = sps.bootstrap(
        (a, b), g, n_resamples=1000, vectorized=True, method="BCa", rng=np.random.default_rng(3)
    )
    assert close(res.g_bca_low, ref.confidence_interval.low)
    assert close(res.g_bca_high, ref.confidence_interval.high)


def test_bootstrap_is_reproducible_per_seed() -> None:
    rng = np.random.default_rng(10)
    a, b = rng.normal(0, 1, 30), rng.normal(0.5, 1, 30)
    first = S.between_arm_change(a, b, seed=1, n_boot=400)
    again = S.between_arm_change(a, b, seed=1, n_boot=400)
    other = S.between_arm_change(a, b, seed=2, n_boot=400)
    assert first == again
    assert (first.g_ci_low, first.g_ci_high) != (other.g_ci_low, other.g_ci_high)
    assert first.g_ci_low is not None
    assert first.g is not None
    assert first.g_ci_high is not None
    assert first.g_ci_low < first.g < first.g_ci_high


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(-20, 20, allow_nan=False), min_size=3, max_size=15),
    st.lists(st.floats(-20, 20, allow_nan=False), min_size=3, max_size=15),
)
def test_hedges_g_is_antisymmetric_and_matches_the_hand_formula(
    a: list[float], b: list[float]
) -> None:
    g_ab = S.hedges_g(a, b)
    g_ba = S.hedges_g(b, a)
    pooled_var = (len(a) - 1) * np.var(a, ddof=1) + (len(b) - 1) * np.var(b, ddof=1)
    if pooled_var <= 1e-12:
        return
    assert g_ab is not None
    assert g_ba is not None
    assert math.isclose(g_ab, -g_ba, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(g_ab, hand_hedges_g(a, b), rel_tol=1e-9, abs_tol=1e-9)


# --------------------------------------------------------------------------- mixed model


def fit_directly(long: Any) -> Any:
    data = long.dropna(subset=["score"]).reset_index(drop=True)
    model = smf.mixedlm(
        "score ~ C(arm, Treatment('control')) * C(time, Treatment('baseline'))",
        data,
        groups=data["participant"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(reml=True)


def test_mixed_model_matches_statsmodels_fitted_directly() -> None:
    long = cohort(21)
    res = S.mixed_model(long)
    ref = fit_directly(long)
    k = len(ref.fe_params)
    assert [e.term for e in res.fixed_effects] == [
        "Intercept",
        "arm[T.intervention]",
        "time[T.week 4]",
        "time[T.week 8]",
        "arm[T.intervention]:time[T.week 4]",
        "arm[T.intervention]:time[T.week 8]",
    ]
    ci = np.asarray(ref.conf_int(alpha=0.05))
    for i, effect in enumerate(res.fixed_effects):
        assert close(effect.coef, ref.fe_params.iloc[i])
        assert close(effect.se, ref.bse_fe.iloc[i])
        assert close(effect.z, ref.tvalues.iloc[i])
        assert close(effect.p, ref.pvalues.iloc[i])
        assert close(effect.ci_low, ci[i, 0])
        assert close(effect.ci_high, ci[i, 1])
    assert k == 6
    assert close(res.random_intercept_var, ref.cov_re.iloc[0, 0])
    assert close(res.residual_var, ref.scale)
    assert close(res.log_likelihood, ref.llf)
    assert res.converged == ref.converged
    assert res.n_rows_missing == int(long.score.isna().sum())
    assert res.n_observations == int(long.score.notna().sum())
    assert res.n_participants == 120


def test_mixed_model_names_the_interaction_plainly() -> None:
    res = S.mixed_model(cohort(22, n_per_arm=20))
    term = res.interaction("intervention", "week 8")
    assert term.term == "arm[T.intervention]:time[T.week 8]"
    assert "intervention" in term.label
    assert "week 8" in term.label
    assert "control" in term.label
    assert [(t.arm, t.time) for t in res.interactions] == [
        ("intervention", "week 4"),
        ("intervention", "week 8"),
    ]
    with pytest.raises(KeyError):
        res.interaction("control", "week 8")


def test_mixed_model_drops_an_empty_arm_time_cell_and_says_so() -> None:
    long = cohort(23, n_per_arm=20)
    long.loc[(long.arm == "intervention") & (long.time == "week 4"), "score"] = None
    res = S.mixed_model(long)
    assert all(t.time != "week 4" for t in res.interactions)
    assert any("week 4" in w and "dropped" in w for w in res.warnings)
    assert res.n_rows_missing >= 20


@pytest.mark.parametrize("seed", [31, 32, 33, 34, 35])
def test_planted_effect_is_recovered(seed: int) -> None:
    long = cohort(seed, effect_week8=-2.0)
    term = S.mixed_model(long).interaction("intervention", "week 8")
    assert term.ci_low is not None
    assert term.ci_high is not None
    assert term.ci_low <= -2.0 <= term.ci_high
    assert term.ci_high < 0.0
    changes = S.change_scores(long, "baseline", "week 8")
    between = S.between_arm_change(
        changes.loc[changes.arm == "intervention", "change"],
        changes.loc[changes.arm == "control", "change"],
        seed=seed,
        n_boot=500,
    )
    assert between.diff_ci_low is not None
    assert between.diff_ci_high is not None
    assert between.diff_ci_low <= -2.0 <= between.diff_ci_high
    assert between.g_ci_high is not None
    assert between.g_ci_high < 0.0


@pytest.mark.parametrize("seed", [41, 42, 43, 44, 45])
def test_no_planted_effect_gives_an_interval_covering_zero(seed: int) -> None:
    long = cohort(seed, effect_week8=0.0)
    term = S.mixed_model(long).interaction("intervention", "week 8")
    assert term.ci_low is not None
    assert term.ci_high is not None
    assert term.ci_low <= 0.0 <= term.ci_high


def test_results_serialise_to_json_ready_dicts() -> None:
    import json

    long = cohort(50, n_per_arm=15)
    model = S.mixed_model(long)
    payload = {
        "model": model.to_dict(),
        "paired": S.paired_change([1.0], [2.0]).to_dict(),
        "missing": [c.to_dict() for c in S.missing_data_summary(long)],
    }
    text = json.dumps(payload, allow_nan=False)
    assert "arm[T.intervention]:time[T.week 8]" in text
    assert json.loads(text)["paired"]["t"] is None


def test_mixed_model_refuses_too_little_data_with_a_reason() -> None:
    long = cohort(60, n_per_arm=1, missing=0.0)
    long = long.loc[long.arm == "control"]
    with pytest.raises(S.StatsInputError, match="too little data"):
        S.mixed_model(long)


def test_mixed_model_reports_optimiser_trouble_instead_of_raising() -> None:
    long = cohort(61, n_per_arm=5, missing=0.0)
    long["score"] = 5.0  # no variance at all: the fit hits the boundary
    res = S.mixed_model(long)
    assert res.warnings
    assert res.n_observations == 30


# --------------------------------------------------------------------------- time as a number

DAYS = {"baseline": 0.0, "week 4": 28.0, "week 8": 56.0}


def test_numeric_time_model_matches_statsmodels_formula() -> None:
    long = cohort(70)
    res = S.mixed_model_numeric(long, DAYS)
    data = long.dropna(subset=["score"]).reset_index(drop=True)
    data["weeks"] = data["time"].map(DAYS) / 7.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = smf.mixedlm(
            "score ~ C(arm, Treatment('control')) * weeks", data, groups=data["participant"]
        ).fit(reml=True)
    assert [e.term for e in res.fixed_effects] == [
        "Intercept",
        "arm[T.intervention]",
        "weeks",
        "arm[T.intervention]:weeks",
    ]
    for i, effect in enumerate(res.fixed_effects):
        assert close(effect.coef, ref.fe_params.iloc[i])
        assert close(effect.se, ref.bse_fe.iloc[i])
        assert close(effect.p, ref.pvalues.iloc[i])
    assert res.time_variable == "weeks"
    assert res.n_rows_missing == int(long.score.isna().sum())
    assert "weeks" in res.formula


@pytest.mark.parametrize("seed", [71, 72, 73])
def test_numeric_time_model_recovers_the_planted_slope(seed: int) -> None:
    # -2 points over 8 weeks in the intervention arm: -0.25 per week beside control.
    term = S.mixed_model_numeric(cohort(seed, effect_week8=-2.0), DAYS).interaction(
        "intervention", S.WEEK_PER_WEEK
    )
    assert term.ci_low is not None
    assert term.ci_high is not None
    assert term.ci_low <= -0.25 <= term.ci_high
    assert term.ci_high < 0.0


def test_numeric_time_model_uses_the_visit_day_when_known() -> None:
    # Follow-up visits late by 0-20 days: the real day gives the slope, the label overstates it.
    rng = np.random.default_rng(74)
    rows = []
    for arm in ("control", "intervention"):
        for i in range(40):
            person = rng.normal(0.0, 1.0)
            for t in TIMES:
                day = DAYS[t] + (rng.integers(0, 21) if t != "baseline" else 0)
                slope = -0.5 if arm == "intervention" else 0.0
                score = 7.0 + person + slope * day / 7.0 + rng.normal(0.0, 0.3)
                rows.append(
                    {"participant": f"{arm}-{i}", "arm": arm, "time": t, "score": score, "day": day}
                )
    long = pd.DataFrame(rows)
    with_days = S.mixed_model_numeric(long, DAYS).interaction("intervention", S.WEEK_PER_WEEK)
    scheduled = S.mixed_model_numeric(long.drop(columns=["day"]), DAYS).interaction(
        "intervention", S.WEEK_PER_WEEK
    )
    assert abs(with_days.coef - -0.5) < 0.03
    assert scheduled.coef < -0.55  # late visits read as a steeper slope on the schedule
    assert with_days.se is not None
    assert scheduled.se is not None
    assert with_days.se < scheduled.se
    model = S.mixed_model_numeric(long, DAYS)
    assert any("visit date for 240 of 240" in w for w in model.warnings)


def test_numeric_time_model_refuses_an_unscheduled_time_point() -> None:
    with pytest.raises(S.StatsInputError, match="no study day"):
        S.mixed_model_numeric(cohort(75, n_per_arm=5), {"baseline": 0.0})
