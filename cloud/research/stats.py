"""Statistics of a two-arm pre/post pilot: descriptives, paired and between-arm change, mixed model.

Pure functions over numbers and pandas frames: no database, no I/O. Every function counts the
values it could not use (missing scores, unpaired observations) and returns that count in its
result, so nothing is dropped silently.

Conventions
- Missing values are ``None`` or NaN in the input.
- Figures that are undefined for the data (the SD of one value, a test on fewer than two pairs)
  are ``None``, never NaN, so results serialise to JSON as ``null``.
- Quantiles use numpy's default linear interpolation (Hyndman & Fan type 7, as R's default).
- Confidence intervals are two-sided at ``confidence`` (0.95 by default).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from scipy import stats as sps

__all__ = [
    "ArmTimeDescriptives",
    "BetweenArms",
    "Descriptives",
    "FixedEffect",
    "MissingCell",
    "MixedModelResult",
    "PairedChange",
    "StatsInputError",
    "between_arm_change",
    "change_scores",
    "describe",
    "describe_by_arm_time",
    "hedges_g",
    "missing_data_summary",
    "mixed_model",
    "mixed_model_numeric",
    "paired_change",
    "within_arm_changes",
]

LONG_COLUMNS = ("participant", "arm", "time", "score")


class StatsInputError(ValueError):
    """The data handed to a statistics function has the wrong shape or content."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Descriptives:
    """n, missing count, mean, SD (ddof=1), median, quartiles and range of one group of scores."""

    n: int
    n_missing: int
    mean: float | None
    sd: float | None
    median: float | None
    q1: float | None
    q3: float | None
    min: float | None
    max: float | None

    @property
    def iqr(self) -> float | None:
        """Interquartile range q3 - q1."""
        if self.q1 is None or self.q3 is None:
            return None
        return self.q3 - self.q1

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (None for undefined figures)."""
        return asdict(self)


@dataclass(frozen=True)
class ArmTimeDescriptives:
    """Descriptives of one arm at one time point."""

    arm: str
    time: str
    stats: Descriptives

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return {"arm": self.arm, "time": self.time, **self.stats.to_dict()}


@dataclass(frozen=True)
class PairedChange:
    """Within-arm change post - pre: paired t-test and Wilcoxon signed-rank test.

    ``n_pairs`` complete pairs were analysed; ``n_dropped`` pairs had a missing pre or post
    value and were left out (counted, never silently). ``wilcoxon_zero_method`` says how zero
    differences were handled ("wilcox": discarded, scipy's default and Wilcoxon's 1945 rule);
    ``wilcoxon_method`` says whether the p-value is "exact" or from the normal
    "approx"imation (scipy picks exact for n <= 50 without ties or zeros; ties use mid-ranks).
    """

    n_pairs: int
    n_dropped: int
    mean_pre: float | None
    mean_post: float | None
    mean_diff: float | None
    sd_diff: float | None
    ci_low: float | None
    ci_high: float | None
    t: float | None
    df: int | None
    p_t: float | None
    wilcoxon_statistic: float | None
    p_wilcoxon: float | None
    n_zero_differences: int
    wilcoxon_zero_method: str = "wilcox"
    wilcoxon_method: str | None = None
    confidence: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class BetweenArms:
    """Difference in mean change between arm a and arm b (a - b), Welch test, Hedges' g.

    ``diff_ci_*`` is the Welch (Satterthwaite df) confidence interval of the difference in
    means; ``g`` is Hedges' g (Cohen's d on the pooled SD times the exact small-sample
    correction J); ``g_ci_*`` is the percentile bootstrap CI of g (resampling within each arm,
    ``n_boot`` resamples, ``seed``); ``g_bca_*`` the BCa bootstrap CI from
    ``scipy.stats.bootstrap`` with the same seed (None when it could not be computed).
    """

    arm_a: str
    arm_b: str
    n_a: int
    n_b: int
    n_missing_a: int
    n_missing_b: int
    mean_a: float | None
    mean_b: float | None
    diff: float | None
    diff_ci_low: float | None
    diff_ci_high: float | None
    welch_t: float | None
    welch_df: float | None
    p: float | None
    g: float | None
    g_ci_low: float | None
    g_ci_high: float | None
    g_bca_low: float | None
    g_bca_high: float | None
    n_boot: int
    seed: int
    confidence: float = 0.95
    d: float | None = None
    """Cohen's d (the same standardised difference without Hedges' correction J), beside g for
    comparison with studies that report d."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class FixedEffect:
    """One fixed-effect term of the mixed model, with a plain-language ``label``."""

    term: str
    label: str
    coef: float
    se: float | None
    z: float | None
    p: float | None
    ci_low: float | None
    ci_high: float | None
    arm: str | None = None
    time: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class MixedModelResult:
    """Linear mixed model ``score ~ arm * time`` with a random intercept per participant.

    ``interactions`` are the arm × time terms: the extra change from the reference time in
    that arm relative to the reference arm (the treatment effect in a pre/post pilot).
    ``n_rows_missing`` rows had no score and were left out of the fit (counted).
    """

    formula: str
    method: str
    reference_arm: str
    reference_time: str
    arms: list[str]
    times: list[str]
    n_participants: int
    n_observations: int
    n_rows_missing: int
    converged: bool
    fixed_effects: list[FixedEffect]
    interactions: list[FixedEffect]
    random_intercept_var: float | None
    residual_var: float | None
    log_likelihood: float | None
    warnings: list[str] = field(default_factory=list)
    confidence: float = 0.95
    time_variable: str = "categorical"
    """"categorical" (one term per time point) or "weeks" (time as a number, one slope)."""

    def interaction(self, arm: str, time: str) -> FixedEffect:
        """The arm × time term for ``arm`` at ``time`` (KeyError if absent)."""
        for term in self.interactions:
            if term.arm == arm and term.time == time:
                return term
        raise KeyError(f"no interaction term for arm {arm!r} at time {time!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class MissingCell:
    """Expected, observed and missing scores of one arm at one time point."""

    arm: str
    time: str
    expected: int
    observed: int
    missing: int

    @property
    def completeness(self) -> float | None:
        """observed / expected (None when nothing was expected)."""
        return self.observed / self.expected if self.expected else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return {**asdict(self), "completeness": self.completeness}


# --------------------------------------------------------------------------- helpers


def _as_float_array(values: Sequence[float | None] | Any, name: str = "values") -> Any:
    """A 1-D float array with NaN for missing; infinite values are refused."""
    arr = np.asarray(
        [np.nan if v is None else v for v in values]
        if not isinstance(values, np.ndarray | pd.Series)
        else values,
        dtype=float,
    )
    if arr.ndim != 1:
        raise StatsInputError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if np.isinf(arr).any():
        raise StatsInputError(f"{name} contains an infinite value")
    return arr


def _f(x: Any) -> float | None:
    """A finite Python float, or None for NaN/inf/None."""
    if x is None:
        return None
    value = float(x)
    return value if math.isfinite(value) else None


_EARLY_TIMES = ("screening", "baseline", "pre", "week 0", "day 0")


def natural_time_key(time: str) -> tuple[int, list[tuple[int, Any]]]:
    """Sort key for time-point labels: baseline-like first, then numbers in numeric order."""
    lowered = time.strip().lower()
    early = 0 if lowered in _EARLY_TIMES else 1
    parts: list[tuple[int, Any]] = []
    number = ""
    text = ""
    for ch in lowered:
        if ch.isdigit():
            if text:
                parts.append((1, text))
                text = ""
            number += ch
        else:
            if number:
                parts.append((0, int(number)))
                number = ""
            text += ch
    if number:
        parts.append((0, int(number)))
    if text:
        parts.append((1, text))
    return early, parts


def _validate_long(long: Any) -> Any:
    """Check the long frame's columns and uniqueness; return a clean copy."""
    if not isinstance(long, pd.DataFrame):
        raise StatsInputError(
            "expected a pandas DataFrame with columns participant, arm, time, score"
        )
    absent = [c for c in LONG_COLUMNS if c not in long.columns]
    if absent:
        raise StatsInputError(f"the data lacks column(s) {', '.join(absent)}")
    frame = long.loc[:, list(LONG_COLUMNS)].copy()
    for column in ("participant", "arm", "time"):
        if frame[column].isna().any():
            raise StatsInputError(
                f"column {column!r} has missing values; only score may be missing"
            )
        frame[column] = frame[column].astype(str)
    try:
        scores = pd.to_numeric(frame["score"], errors="raise")
    except (TypeError, ValueError) as err:
        raise StatsInputError(f"column 'score' must be numeric: {err}") from err
    frame["score"] = np.asarray(scores.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    if np.isinf(frame["score"].to_numpy()).any():
        raise StatsInputError("column 'score' contains an infinite value")
    dup = frame.duplicated(subset=["participant", "time"], keep=False)
    if dup.any():
        first = frame.loc[dup].iloc[0]
        raise StatsInputError(
            f"participant {first['participant']!r} has more than one row at time "
            f"{first['time']!r}; aggregate repeated measurements first"
        )
    arms_per_participant = frame.groupby("participant")["arm"].nunique()
    if (arms_per_participant > 1).any():
        who = arms_per_participant[arms_per_participant > 1].index[0]
        raise StatsInputError(f"participant {who!r} appears in more than one arm")
    return frame


def _order_times(frame: Any, time_order: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(frame["time"].tolist()))
    if time_order is None:
        return sorted(present, key=natural_time_key)
    order = [str(t) for t in time_order]
    unknown = [t for t in present if t not in order]
    if unknown:
        raise StatsInputError(f"time point(s) {', '.join(unknown)} are not in time_order")
    return order


def _roster(frame: Any, roster: Mapping[str, str] | None) -> dict[str, str]:
    """participant -> arm, from the explicit roster or from the data itself."""
    if roster is not None:
        mapping = {str(p): str(a) for p, a in roster.items()}
        clash = frame.loc[frame["participant"].map(mapping).fillna(frame["arm"]) != frame["arm"]]
        if len(clash):
            who = clash.iloc[0]["participant"]
            raise StatsInputError(f"participant {who!r} is in a different arm in the roster")
        unknown = set(frame["participant"]) - set(mapping)
        if unknown:
            raise StatsInputError(
                f"{len(unknown)} participant(s) in the data are not in the roster"
            )
        return mapping
    pairs = frame.drop_duplicates("participant")
    return dict(zip(pairs["participant"], pairs["arm"], strict=True))


def _wide(frame: Any, roster: Mapping[str, str], times: Sequence[str]) -> Any:
    """participant x time table of scores (NaN where missing), one row per roster participant."""
    wide = frame.pivot(index="participant", columns="time", values="score")
    wide = wide.reindex(index=list(roster), columns=list(times))
    wide.insert(0, "__arm__", [roster[p] for p in wide.index])
    return wide


# --------------------------------------------------------------------------- descriptives


def describe(values: Sequence[float | None] | Any) -> Descriptives:
    """n, missing, mean, SD (ddof=1), median, quartiles, min and max; None/NaN is missing."""
    arr = _as_float_array(values)
    present = arr[~np.isnan(arr)]
    n = int(present.size)
    n_missing = int(arr.size - n)
    if n == 0:
        return Descriptives(0, n_missing, None, None, None, None, None, None, None)
    q1, median, q3 = np.quantile(present, [0.25, 0.5, 0.75])
    return Descriptives(
        n=n,
        n_missing=n_missing,
        mean=float(np.mean(present)),
        sd=float(np.std(present, ddof=1)) if n >= 2 else None,
        median=float(median),
        q1=float(q1),
        q3=float(q3),
        min=float(np.min(present)),
        max=float(np.max(present)),
    )


def describe_by_arm_time(
    long: Any,
    *,
    time_order: Sequence[str] | None = None,
    roster: Mapping[str, str] | None = None,
) -> list[ArmTimeDescriptives]:
    """Descriptives for every arm and time point; participants without a score count as missing.

    ``long`` has columns participant, arm, time, score (one row per participant and time).
    ``roster`` (participant -> arm) says who was expected; by default, everyone in ``long``.
    """
    frame = _validate_long(long)
    times = _order_times(frame, time_order)
    who = _roster(frame, roster)
    wide = _wide(frame, who, times)
    out: list[ArmTimeDescriptives] = []
    for arm in sorted(set(who.values())):
        rows = wide.loc[wide["__arm__"] == arm]
        for time in times:
            out.append(ArmTimeDescriptives(arm, time, describe(rows[time].to_numpy(dtype=float))))
    return out


def missing_data_summary(
    long: Any,
    *,
    time_order: Sequence[str] | None = None,
    roster: Mapping[str, str] | None = None,
) -> list[MissingCell]:
    """Per arm and time point: participants expected, scores observed, scores missing."""
    return [
        MissingCell(
            arm=d.arm,
            time=d.time,
            expected=d.stats.n + d.stats.n_missing,
            observed=d.stats.n,
            missing=d.stats.n_missing,
        )
        for d in describe_by_arm_time(long, time_order=time_order, roster=roster)
    ]


# --------------------------------------------------------------------------- within-arm change


def _wilcoxon_method_label(diffs: Any) -> str:
    """Which p-value scipy's ``wilcoxon(method="auto")`` computes for these differences."""
    n = diffs.size
    if n > 50:
        return "approx"
    nonzero = diffs[diffs != 0]
    has_zeros = nonzero.size < n
    has_ties = np.unique(np.abs(nonzero)).size < nonzero.size
    if not (has_zeros or has_ties):
        return "exact"
    if n <= 13:
        return "exact-permutation"
    return "approx"


def paired_change(
    pre: Sequence[float | None] | Any,
    post: Sequence[float | None] | Any,
    *,
    confidence: float = 0.95,
) -> PairedChange:
    """Within-arm change post - pre: paired t-test (with CI of the mean change) and Wilcoxon.

    ``pre[i]`` and ``post[i]`` belong to the same participant. Pairs with a missing value are
    dropped and counted in ``n_dropped``. Wilcoxon uses scipy's defaults: zero differences
    discarded ("wilcox"), average ranks for ties, no continuity correction, method "auto".
    """
    a = _as_float_array(pre, "pre")
    b = _as_float_array(post, "post")
    if a.size != b.size:
        raise StatsInputError(f"pre has {a.size} values but post has {b.size}; they must pair up")
    complete = ~(np.isnan(a) | np.isnan(b))
    a, b = a[complete], b[complete]
    n = int(a.size)
    n_dropped = int(complete.size - n)
    diffs = b - a
    n_zero = int(np.count_nonzero(diffs == 0))
    mean_pre = float(np.mean(a)) if n else None
    mean_post = float(np.mean(b)) if n else None
    mean_diff = float(np.mean(diffs)) if n else None
    sd_diff = float(np.std(diffs, ddof=1)) if n >= 2 else None

    t = df = p_t = ci_low = ci_high = None
    if n >= 2 and sd_diff is not None and sd_diff > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # scipy's near-constant-data note
            res = sps.ttest_rel(b, a)
        t, p_t, df = float(res.statistic), float(res.pvalue), int(res.df)
        ci = res.confidence_interval(confidence_level=confidence)
        ci_low, ci_high = float(ci.low), float(ci.high)
    elif n >= 2 and mean_diff is not None:
        # Every difference is identical: the mean change is known without sampling error.
        ci_low = ci_high = mean_diff
        df = n - 1

    w_stat = p_w = None
    w_method: str | None = None
    if n - n_zero >= 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # scipy's "sample size too small" note
            wres = sps.wilcoxon(b, a, zero_method="wilcox", correction=False, method="auto")
        w_stat, p_w = _f(wres.statistic), _f(wres.pvalue)
        w_method = _wilcoxon_method_label(diffs)

    return PairedChange(
        n_pairs=n,
        n_dropped=n_dropped,
        mean_pre=mean_pre,
        mean_post=mean_post,
        mean_diff=mean_diff,
        sd_diff=sd_diff,
        ci_low=ci_low,
        ci_high=ci_high,
        t=t,
        df=df,
        p_t=p_t,
        wilcoxon_statistic=w_stat,
        p_wilcoxon=p_w,
        n_zero_differences=n_zero,
        wilcoxon_method=w_method,
        confidence=confidence,
    )


def change_scores(
    long: Any,
    baseline: str,
    follow_up: str,
    *,
    roster: Mapping[str, str] | None = None,
) -> Any:
    """One row per participant: participant, arm, pre, post, change (NaN if a score is missing)."""
    frame = _validate_long(long)
    who = _roster(frame, roster)
    present = set(frame["time"])
    for label in (baseline, follow_up):
        if label not in present:
            raise StatsInputError(f"time point {label!r} has no rows in the data")
    wide = _wide(frame, who, [baseline, follow_up])
    out = pd.DataFrame(
        {
            "participant": wide.index.to_numpy(),
            "arm": wide["__arm__"].to_numpy(),
            "pre": wide[baseline].to_numpy(dtype=float),
            "post": wide[follow_up].to_numpy(dtype=float),
        }
    )
    out["change"] = out["post"] - out["pre"]
    return out


def within_arm_changes(
    long: Any,
    baseline: str,
    follow_up: str,
    *,
    roster: Mapping[str, str] | None = None,
    confidence: float = 0.95,
) -> dict[str, PairedChange]:
    """``paired_change`` from ``baseline`` to ``follow_up`` for every arm, keyed by arm."""
    changes = change_scores(long, baseline, follow_up, roster=roster)
    return {
        arm: paired_change(rows["pre"].to_numpy(), rows["post"].to_numpy(), confidence=confidence)
        for arm, rows in sorted(changes.groupby("arm"), key=lambda item: str(item[0]))
    }


# --------------------------------------------------------------------------- between arms


def hedges_correction(df: float) -> float:
    """Hedges' exact small-sample correction J(df) = Γ(df/2) / (√(df/2) Γ((df-1)/2))."""
    if df <= 1:
        raise StatsInputError("Hedges' correction needs at least 2 degrees of freedom")
    half = df / 2.0
    return math.exp(math.lgamma(half) - math.lgamma(half - 0.5)) / math.sqrt(half)


def hedges_g(a: Sequence[float] | Any, b: Sequence[float] | Any) -> float | None:
    """Hedges' g of a vs b: (mean a - mean b) / pooled SD x J(n_a + n_b - 2); None if undefined."""
    x = _as_float_array(a, "a")
    y = _as_float_array(b, "b")
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    g = _hedges_g_rows(x[None, :], y[None, :])[0]
    return _f(g)


def _hedges_g_rows(x: Any, y: Any) -> Any:
    """Hedges' g of each row of x (r, n_a) against the same row of y (r, n_b); NaN if undefined."""
    n_a, n_b = x.shape[-1], y.shape[-1]
    df = n_a + n_b - 2
    if n_a < 1 or n_b < 1 or df < 2:
        return np.full(x.shape[0], np.nan)
    var_a = np.var(x, axis=-1, ddof=1) if n_a > 1 else np.zeros(x.shape[0])
    var_b = np.var(y, axis=-1, ddof=1) if n_b > 1 else np.zeros(y.shape[0])
    pooled = np.sqrt(((n_a - 1) * var_a + (n_b - 1) * var_b) / df)
    diff = np.mean(x, axis=-1) - np.mean(y, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(pooled > 0, diff / np.where(pooled > 0, pooled, 1.0), np.nan)
    return d * hedges_correction(df)


def _bootstrap_g_percentile(
    x: Any, y: Any, *, seed: int, n_boot: int, confidence: float
) -> tuple[float | None, float | None]:
    """Percentile bootstrap CI of Hedges' g, resampling each arm separately (seeded, vectorised)."""
    rng = np.random.default_rng(seed)
    gs = np.empty(n_boot)
    chunk = max(1, 2_000_000 // max(1, x.size + y.size))  # bound memory on large arms
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        ia = rng.integers(0, x.size, size=(stop - start, x.size))
        ib = rng.integers(0, y.size, size=(stop - start, y.size))
        gs[start:stop] = _hedges_g_rows(x[ia], y[ib])
    gs = gs[np.isfinite(gs)]
    if gs.size < max(10, n_boot // 2):
        return None, None
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(gs, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _bootstrap_g_bca(
    x: Any, y: Any, *, seed: int, n_boot: int, confidence: float
) -> tuple[float | None, float | None]:
    """BCa bootstrap CI of Hedges' g via ``scipy.stats.bootstrap``; (None, None) if degenerate."""

    def statistic(a: Any, b: Any, axis: int = -1) -> Any:
        a2 = np.moveaxis(np.asarray(a), axis, -1)
        b2 = np.moveaxis(np.asarray(b), axis, -1)
        shape = a2.shape[:-1]
        g = _hedges_g_rows(a2.reshape(-1, a2.shape[-1]), b2.reshape(-1, b2.shape[-1]))
        return g.reshape(shape)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DegenerateDataWarning and NaN statistics -> None below
        try:
            res = sps.bootstrap(
                (x, y),
                statistic,
                n_resamples=n_boot,
                vectorized=True,
                method="BCa",
                confidence_level=confidence,
                rng=np.random.default_rng(seed),
            )
        except ValueError:
            return None, None
    return _f(res.confidence_interval.low), _f(res.confidence_interval.high)


def between_arm_change(
    change_a: Sequence[float | None] | Any,
    change_b: Sequence[float | None] | Any,
    *,
    seed: int,
    n_boot: int = 2000,
    confidence: float = 0.95,
    arm_a: str = "a",
    arm_b: str = "b",
    bca: bool = True,
) -> BetweenArms:
    """Difference in mean change a - b: Welch CI and t-test, Hedges' g with bootstrap CIs.

    Missing changes (None/NaN: a participant without both scores) are counted in
    ``n_missing_a``/``n_missing_b`` and left out. Same data and seed give the same CIs.
    """
    if n_boot < 100:
        raise StatsInputError("n_boot must be at least 100 for a usable bootstrap interval")
    if not 0.5 <= confidence < 1.0:
        raise StatsInputError("confidence must lie in [0.5, 1)")
    x_all = _as_float_array(change_a, "change_a")
    y_all = _as_float_array(change_b, "change_b")
    x, y = x_all[~np.isnan(x_all)], y_all[~np.isnan(y_all)]
    n_a, n_b = int(x.size), int(y.size)

    diff = lo = hi = t = df = p = None
    if n_a and n_b:
        diff = float(np.mean(x) - np.mean(y))
    if n_a >= 2 and n_b >= 2 and (np.var(x) > 0 or np.var(y) > 0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # scipy's near-constant-data note
            res = sps.ttest_ind(x, y, equal_var=False)
        t, p, df = float(res.statistic), float(res.pvalue), float(res.df)
        ci = res.confidence_interval(confidence_level=confidence)
        lo, hi = float(ci.low), float(ci.high)

    g = g_lo = g_hi = b_lo = b_hi = None
    if n_a >= 2 and n_b >= 2:
        g = hedges_g(x, y)
        if g is not None:
            g_lo, g_hi = _bootstrap_g_percentile(
                x, y, seed=seed, n_boot=n_boot, confidence=confidence
            )
            if bca:
                b_lo, b_hi = _bootstrap_g_bca(x, y, seed=seed, n_boot=n_boot, confidence=confidence)

    return BetweenArms(
        arm_a=arm_a,
        arm_b=arm_b,
        n_a=n_a,
        n_b=n_b,
        n_missing_a=int(x_all.size - n_a),
        n_missing_b=int(y_all.size - n_b),
        mean_a=float(np.mean(x)) if n_a else None,
        mean_b=float(np.mean(y)) if n_b else None,
        diff=diff,
        diff_ci_low=lo,
        diff_ci_high=hi,
        welch_t=t,
        welch_df=df,
        p=p,
        g=g,
        g_ci_low=g_lo,
        g_ci_high=g_hi,
        g_bca_low=b_lo,
        g_bca_high=b_hi,
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
        d=None if g is None else g / hedges_correction(n_a + n_b - 2),
    )


# --------------------------------------------------------------------------- mixed model


def _level_name(level: str) -> str:
    return level.replace("'", "\\'")


@dataclass(frozen=True)
class _Fit:
    effects: list[FixedEffect]
    converged: bool
    random_intercept_var: float | None
    residual_var: float | None
    log_likelihood: float | None
    notes: list[str]


def _fit_mixed(
    data: Any,
    exog: Any,
    labels: Mapping[str, tuple[str, str | None, str | None]],
    *,
    confidence: float,
    reml: bool,
) -> _Fit:
    """Fit MixedLM with a random intercept per participant on a prepared design matrix."""
    n_groups = int(data["participant"].nunique())
    if n_groups < 2 or len(data) <= exog.shape[1] + 1:
        raise StatsInputError(
            f"too little data for the mixed model: {n_groups} participant(s), {len(data)} "
            f"score(s) for {exog.shape[1]} fixed effects"
        )
    from statsmodels.regression.mixed_linear_model import (  # type: ignore[import-untyped]
        MixedLM,
    )

    k = exog.shape[1]
    names = list(exog.columns)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = MixedLM(data["score"].to_numpy(), exog, groups=data["participant"].to_numpy())
            fit = model.fit(reml=reml)
            params = np.asarray(fit.fe_params, dtype=float)
            bse = np.asarray(fit.bse_fe, dtype=float)
            z = np.asarray(fit.tvalues, dtype=float)[:k]
            pvals = np.asarray(fit.pvalues, dtype=float)[:k]
            ci = np.asarray(fit.conf_int(alpha=1.0 - confidence), dtype=float)[:k]
            cov_re = np.asarray(fit.cov_re, dtype=float)
            llf = _f(fit.llf)
        except (np.linalg.LinAlgError, ValueError) as err:
            raise StatsInputError(f"the mixed model could not be fitted: {err}") from err
    effects = [
        FixedEffect(
            term=name,
            label=labels[name][0],
            coef=float(params[i]),
            se=_f(bse[i]),
            z=_f(z[i]),
            p=_f(pvals[i]),
            ci_low=_f(ci[i, 0]),
            ci_high=_f(ci[i, 1]),
            arm=labels[name][1],
            time=labels[name][2],
        )
        for i, name in enumerate(names)
    ]
    return _Fit(
        effects=effects,
        converged=bool(fit.converged),
        random_intercept_var=_f(cov_re[0, 0]) if cov_re.size else None,
        residual_var=_f(fit.scale),
        log_likelihood=llf,
        notes=list(dict.fromkeys(str(w.message).strip() for w in caught)),
    )


def mixed_model(
    long: Any,
    *,
    reference_arm: str | None = None,
    time_order: Sequence[str] | None = None,
    confidence: float = 0.95,
    reml: bool = True,
) -> MixedModelResult:
    """Fit ``score ~ C(arm) * C(time) + (1 | participant)`` with statsmodels ``MixedLM``.

    Treatment coding: the reference arm is ``reference_arm`` (default "control" when present,
    else the first arm in sort order) and the reference time is the first of ``time_order``
    (default: natural order, baseline first). The design matrix is built here with plain term
    names (``arm[T.intervention]:time[T.week 8]``) and matches patsy's column order for the
    formula in ``MixedModelResult.formula``. Rows without a score are counted and left out.
    Convergence and boundary warnings are caught and returned in ``warnings``.
    """
    frame = _validate_long(long)
    missing = frame["score"].isna()
    n_missing = int(missing.sum())
    data = frame.loc[~missing].reset_index(drop=True)
    if data.empty:
        raise StatsInputError("no scores to fit: every row is missing its score")
    times = [t for t in _order_times(frame, time_order) if t in set(data["time"])]
    arms = sorted(set(data["arm"]))
    if reference_arm is None:
        reference_arm = "control" if "control" in arms else arms[0]
    if reference_arm not in arms:
        raise StatsInputError(f"reference arm {reference_arm!r} has no scores")
    reference_time = times[0]
    other_arms = [a for a in arms if a != reference_arm]
    other_times = times[1:]

    columns: dict[str, Any] = {"Intercept": np.ones(len(data))}
    labels: dict[str, tuple[str, str | None, str | None]] = {
        "Intercept": (f"{reference_arm} at {reference_time} (mean)", None, None)
    }
    arm_cols = {a: (data["arm"] == a).to_numpy(dtype=float) for a in other_arms}
    time_cols = {t: (data["time"] == t).to_numpy(dtype=float) for t in other_times}
    for a, col in arm_cols.items():
        name = f"arm[T.{a}]"
        columns[name] = col
        labels[name] = (f"{a} vs {reference_arm} at {reference_time}", a, reference_time)
    for t, col in time_cols.items():
        name = f"time[T.{t}]"
        columns[name] = col
        labels[name] = (f"change {reference_time} → {t} in {reference_arm}", reference_arm, t)
    for a, acol in arm_cols.items():
        for t, tcol in time_cols.items():
            name = f"arm[T.{a}]:time[T.{t}]"
            columns[name] = acol * tcol
            labels[name] = (
                f"{a} × {t}: extra change {reference_time} → {t} in {a} vs {reference_arm}",
                a,
                t,
            )
    notes: list[str] = []
    for name in list(columns):
        if name != "Intercept" and not columns[name].any():
            notes.append(f"term {name} dropped: no scores in that arm and time")
            del columns[name]
    exog = pd.DataFrame(columns)
    formula = (
        f"score ~ C(arm, Treatment('{_level_name(reference_arm)}')) * "
        f"C(time, Treatment('{_level_name(reference_time)}')) + (1 | participant)"
    )
    fit = _fit_mixed(data, exog, labels, confidence=confidence, reml=reml)
    notes.extend(fit.notes)
    effects = fit.effects
    interactions = [e for e in effects if ":" in e.term]
    return MixedModelResult(
        formula=formula,
        method="REML" if reml else "ML",
        reference_arm=reference_arm,
        reference_time=reference_time,
        arms=arms,
        times=times,
        n_participants=int(data["participant"].nunique()),
        n_observations=len(data),
        n_rows_missing=n_missing,
        converged=fit.converged,
        fixed_effects=effects,
        interactions=interactions,
        random_intercept_var=fit.random_intercept_var,
        residual_var=fit.residual_var,
        log_likelihood=fit.log_likelihood,
        warnings=notes,
        confidence=confidence,
    )


WEEK_PER_WEEK = "per week"


def mixed_model_numeric(
    long: Any,
    time_days: Mapping[str, float],
    *,
    reference_arm: str | None = None,
    confidence: float = 0.95,
    reml: bool = True,
) -> MixedModelResult:
    """Fit ``score ~ C(arm) * weeks + (1 | participant)``: time as a number (weeks).

    ``weeks`` is the study day of each score divided by 7: the day the assessment was actually
    taken when ``long`` has a numeric ``day`` column (its visit date), else the scheduled day of
    its time point from ``time_days`` (label → day). One slope per arm, so the interaction
    ``arm[T.a]:weeks`` is the extra change per week in arm ``a`` over the reference arm; unlike
    the categorical model it assumes the change is linear in time and uses the real spacing of
    visits. Rows without a score are counted and left out, as in ``mixed_model``.
    """
    frame = _validate_long(long)
    unknown = sorted(set(frame["time"]) - set(time_days))
    if unknown:
        raise StatsInputError(f"no study day for time point(s) {', '.join(unknown)}")
    scheduled = frame["time"].map(lambda t: float(time_days[t])).to_numpy(dtype=float)
    days = scheduled
    n_actual = 0
    if isinstance(long, pd.DataFrame) and "day" in long.columns:
        actual = pd.to_numeric(long["day"], errors="coerce").to_numpy(dtype=float)
        use = np.isfinite(actual)
        n_actual = int((use & frame["score"].notna().to_numpy()).sum())
        days = np.where(use, actual, scheduled)
    frame["weeks"] = days / 7.0
    missing = frame["score"].isna()
    n_missing = int(missing.sum())
    data = frame.loc[~missing].reset_index(drop=True)
    if data.empty:
        raise StatsInputError("no scores to fit: every row is missing its score")
    arms = sorted(set(data["arm"]))
    if reference_arm is None:
        reference_arm = "control" if "control" in arms else arms[0]
    if reference_arm not in arms:
        raise StatsInputError(f"reference arm {reference_arm!r} has no scores")
    if data["weeks"].nunique() < 2:
        raise StatsInputError("time as a number needs scores on at least two different days")
    weeks = data["weeks"].to_numpy(dtype=float)
    columns: dict[str, Any] = {"Intercept": np.ones(len(data)), "weeks": weeks}
    labels: dict[str, tuple[str, str | None, str | None]] = {
        "Intercept": (f"{reference_arm} at study day 0 (mean)", None, None),
        "weeks": (f"change per week in {reference_arm}", reference_arm, WEEK_PER_WEEK),
    }
    for a in (a for a in arms if a != reference_arm):
        col = (data["arm"] == a).to_numpy(dtype=float)
        columns[f"arm[T.{a}]"] = col
        labels[f"arm[T.{a}]"] = (f"{a} vs {reference_arm} at study day 0", a, None)
        columns[f"arm[T.{a}]:weeks"] = col * weeks
        labels[f"arm[T.{a}]:weeks"] = (
            f"{a} × weeks: extra change per week in {a} vs {reference_arm}",
            a,
            WEEK_PER_WEEK,
        )
    order = ["Intercept"] + [n for n in columns if n.startswith("arm[") and ":" not in n]
    order += ["weeks"] + [n for n in columns if n.endswith(":weeks")]
    exog = pd.DataFrame({n: columns[n] for n in order})
    fit = _fit_mixed(data, exog, labels, confidence=confidence, reml=reml)
    notes = list(fit.notes)
    notes.append(
        f"weeks from the visit date for {n_actual} of {len(data)} scores, "
        "from the scheduled day of the time point for the rest"
    )
    times = sorted(set(data["time"]), key=lambda t: (float(time_days[t]), natural_time_key(t)))
    return MixedModelResult(
        formula=f"score ~ C(arm, Treatment('{_level_name(reference_arm)}')) * weeks"
        " + (1 | participant)",
        method="REML" if reml else "ML",
        reference_arm=reference_arm,
        reference_time="study day 0",
        arms=arms,
        times=times,
        n_participants=int(data["participant"].nunique()),
        n_observations=len(data),
        n_rows_missing=n_missing,
        converged=fit.converged,
        fixed_effects=fit.effects,
        interactions=[e for e in fit.effects if ":" in e.term],
        random_intercept_var=fit.random_intercept_var,
        residual_var=fit.residual_var,
        log_likelihood=fit.log_likelihood,
        warnings=notes,
        confidence=confidence,
        time_variable="weeks",
    )
