"""The study report: one self-contained HTML file with plots and tables, no identities.

``render_report(ReportData)`` is pure apart from matplotlib drawing in memory: the caller
gathers the figures (``cloud/research/stats.py`` results, enrolment counts, daily-metric
trends aggregated per arm) and writes the returned string to a file. Plots are SVG drawn with
matplotlib's Agg-family backends and embedded as ``data:`` URIs in ``<img>`` elements, so the
file opens offline and no text inside a plot can run as HTML. The template is autoescaped.
Statistics of groups of 1 to ``min_cell - 1`` participants are blanked in tables and plots
alike; counts stay exact (a CONSORT flow needs them).
"""

from __future__ import annotations

import base64
import importlib.metadata
import io
import math
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from scipy import stats as sps

from cloud.research.stats import (
    ArmTimeDescriptives,
    BetweenArms,
    MissingCell,
    MixedModelResult,
    PairedChange,
)

__all__ = [
    "METRIC_TREND_COLUMNS",
    "ArmFlow",
    "EnrolmentFlow",
    "InstrumentResults",
    "ReportData",
    "render_report",
]

TEMPLATES = Path(__file__).parent / "templates"
METRIC_TREND_COLUMNS = ("date", "arm", "metric", "mean", "n")
_CJK_FONTS = ("Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "Malgun Gothic", "UnDotum")


@dataclass(frozen=True)
class ArmFlow:
    """Enrolment of one arm: participants enrolled and withdrawn (withdrawn <= enrolled)."""

    arm: str
    enrolled: int
    withdrawn: int

    @property
    def active(self) -> int:
        """Participants still in the study."""
        return self.enrolled - self.withdrawn


@dataclass(frozen=True)
class EnrolmentFlow:
    """The CONSORT-like flow: optional screened count, per-arm enrolment, completeness."""

    arms: list[ArmFlow]
    completeness: list[MissingCell] = field(default_factory=list)
    screened: int | None = None

    @property
    def enrolled(self) -> int:
        """Participants enrolled over all arms."""
        return sum(a.enrolled for a in self.arms)

    @property
    def withdrawn(self) -> int:
        """Participants withdrawn over all arms."""
        return sum(a.withdrawn for a in self.arms)


@dataclass(frozen=True)
class InstrumentResults:
    """Everything the report shows for one instrument (GDS-15, UCLA-3, PHQ-9)."""

    instrument: str
    trajectories: list[ArmTimeDescriptives]
    within_arm: Mapping[str, PairedChange] = field(default_factory=dict)
    between: BetweenArms | None = None
    mixed: MixedModelResult | None = None
    baseline: str | None = None
    follow_up: str | None = None
    direction: str = "lower is better"
    mixed_numeric: MixedModelResult | None = None


@dataclass(frozen=True)
class ReportData:
    """The inputs of a study report; all figures are aggregates, never identities.

    ``metric_trends`` is a DataFrame with columns date, arm, metric, mean, n (one row per
    day, arm and daily metric: the mean over the arm's participants with data that day).
    """

    study_name: str
    arms: list[str]
    time_points: list[str]
    enrolment: EnrolmentFlow
    instruments: list[InstrumentResults] = field(default_factory=list)
    metric_trends: Any = None
    min_cell: int = 5
    study_id: str | None = None
    generated_at: datetime | None = None
    software_version: str | None = None
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- formatting


def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{digits}f}"


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _fmt_ci(low: float | None, high: float | None, digits: int = 2) -> str:
    if low is None or high is None:
        return "—"
    return f"{low:.{digits}f} to {high:.{digits}f}"


class _Cells:
    """Small-cell rule shared by every table and plot of one report.

    Statistics of a group of 1..min_cell-1 participants (means, SDs, tests, effect sizes,
    model estimates, daily-metric means) are blanked; counts stay exact, as a CONSORT flow
    needs them, and identify nobody on their own.
    """

    def __init__(self, min_cell: int) -> None:
        if min_cell < 2:
            raise ValueError("min_cell must be at least 2")
        self.min_cell = min_cell
        self.suppressed = 0

    def small(self, n: int | None) -> bool:
        return n is not None and 0 < n < self.min_cell

    def blank(self, n: int | None) -> bool:
        """Whether a group's statistics are blanked; tallies each blanked table entry."""
        hidden = self.small(n)
        self.suppressed += int(hidden)
        return hidden

    @staticmethod
    def count(n: int | None) -> str:
        """A count as text ("—" when unknown)."""
        return "—" if n is None else str(n)


# --------------------------------------------------------------------------- plots


# matplotlib's rcParams and warning filters are process-global: one report draws at a time.
_PLOT_LOCK = threading.Lock()


def _figure(**kwargs: Any) -> Any:
    """A new Figure without pyplot (no global figure registry, safe in a server thread)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _rc() -> Any:
    from matplotlib import font_manager

    available = {f.name for f in font_manager.fontManager.ttflist}
    families = [f for f in _CJK_FONTS if f in available] + ["DejaVu Sans"]
    return {
        "svg.fonttype": "none",  # text stays text: the browser draws Hangul with its fonts
        "text.parse_math": False,  # "$5 or $10" in a name is text, not (broken) mathtext
        "svg.hashsalt": "dolbom",  # stable element ids: the same data gives the same file
        "font.family": "sans-serif",
        "font.sans-serif": families,
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }


def _svg_uri(fig: Any) -> str:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # Without a CJK font installed, layout warns about Hangul glyphs; the SVG keeps the
        # text and the browser renders it.
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from font")
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass(frozen=True)
class _Plot:
    uri: str
    alt: str
    title: str


def _flow_plot(flow: EnrolmentFlow, cells: _Cells) -> _Plot:
    n_arms = max(1, len(flow.arms))
    fig = _figure(figsize=(max(5.0, 2.6 * n_arms), 3.6))
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_xlim(0, n_arms)
    ax.set_ylim(0, 4)
    box = {"boxstyle": "round,pad=0.4", "facecolor": "#eef3f8", "edgecolor": "#44607a"}
    top_lines = [f"Enrolled: {cells.count(flow.enrolled)}"]
    if flow.screened is not None:
        top_lines.insert(0, f"Screened: {cells.count(flow.screened)}")
    ax.text(n_arms / 2, 3.5, "\n".join(top_lines), ha="center", va="center", bbox=box)
    for i, arm in enumerate(flow.arms):
        x = i + 0.5
        ax.annotate(
            "",
            xy=(x, 2.75),
            xytext=(n_arms / 2, 3.15),
            arrowprops={"arrowstyle": "->", "color": "#44607a"},
        )
        ax.text(
            x,
            2.45,
            f"{arm.arm}\nallocated: {cells.count(arm.enrolled)}",
            ha="center",
            va="center",
            bbox=box,
        )
        ax.annotate(
            "", xy=(x, 1.55), xytext=(x, 2.05), arrowprops={"arrowstyle": "->", "color": "#44607a"}
        )
        ax.text(
            x,
            1.2,
            f"withdrawn: {cells.count(arm.withdrawn)}\nactive: {cells.count(arm.active)}",
            ha="center",
            va="center",
            bbox=box,
        )
        done = [c for c in flow.completeness if c.arm == arm.arm]
        if done:
            last = done[-1]
            ax.text(
                x,
                0.3,
                f"observed at {last.time}: {cells.count(last.observed)}"
                f" of {cells.count(last.expected)}",
                ha="center",
                va="center",
                fontsize=8,
            )
    return _Plot(
        _svg_uri(fig),
        "Enrolment flow: enrolled, allocated per arm, withdrawn, observed at the last time point",
        "Enrolment flow",
    )


def _trajectory_plot(
    res: InstrumentResults, arms: Sequence[str], times: Sequence[str], cells: _Cells
) -> _Plot:
    fig = _figure(figsize=(6.0, 3.6))
    ax = fig.subplots()
    x = np.arange(len(times))
    width = 0.08
    by_key = {(d.arm, d.time): d.stats for d in res.trajectories}
    plotted = 0
    for i, arm in enumerate(arms):
        means: list[float] = []
        errs: list[float] = []
        for t in times:
            s = by_key.get((arm, t))
            if s is None or s.mean is None or cells.small(s.n):
                means.append(math.nan)
                errs.append(math.nan)
                continue
            means.append(s.mean)
            # 95 % CI half-width of the mean: t quantile with n - 1 df.
            half = sps.t.ppf(0.975, s.n - 1) * s.sd / math.sqrt(s.n) if s.sd is not None else None
            errs.append(math.nan if half is None else float(half))
        if np.all(np.isnan(means)):
            continue
        plotted += 1
        offset = (i - (len(arms) - 1) / 2) * width
        ax.errorbar(
            x + offset, means, yerr=errs, marker="o", capsize=3, label=arm, color=f"C{i % 10}"
        )
    ax.set_xticks(x, list(times))
    ax.set_ylabel(f"{res.instrument} score ({res.direction})")
    ax.set_title(f"{res.instrument}: mean ± 95 % CI per arm")
    if plotted:
        ax.legend(frameon=False)
    else:
        ax.text(0.5, 0.5, "no data to show", transform=ax.transAxes, ha="center")
    return _Plot(
        _svg_uri(fig),
        f"{res.instrument} mean score per arm and time point with 95 % confidence intervals",
        f"{res.instrument} trajectories",
    )


def _between_hidden(res: InstrumentResults, cells: _Cells) -> bool:
    b = res.between
    return b is not None and (cells.small(b.n_a) or cells.small(b.n_b))


def _mixed_hidden(res: InstrumentResults, cells: _Cells) -> bool:
    """A model fitted on a small arm x time cell would disclose that cell's mean."""
    return any(cells.small(d.stats.n) for d in res.trajectories)


def _forest_plot(instruments: Sequence[InstrumentResults], cells: _Cells) -> _Plot | None:
    rows_g: list[tuple[str, float, float | None, float | None]] = []
    rows_raw: list[tuple[str, float, float | None, float | None]] = []
    for res in instruments:
        b = None if _between_hidden(res, cells) else res.between
        if b is not None and b.g is not None:
            rows_g.append(
                (f"{res.instrument}: {b.arm_a} vs {b.arm_b}", b.g, b.g_ci_low, b.g_ci_high)
            )
        if b is not None and b.diff is not None:
            rows_raw.append(
                (
                    f"{res.instrument}: Δ change ({b.arm_a} − {b.arm_b})",
                    b.diff,
                    b.diff_ci_low,
                    b.diff_ci_high,
                )
            )
        if res.mixed is not None and not _mixed_hidden(res, cells):
            for term in res.mixed.interactions:
                rows_raw.append(
                    (
                        f"{res.instrument}: {term.arm} × {term.time} (LMM)",
                        term.coef,
                        term.ci_low,
                        term.ci_high,
                    )
                )
    if not rows_g and not rows_raw:
        return None
    panels = [
        (rows, name)
        for rows, name in (
            (rows_g, "Hedges' g (bootstrap 95 % CI)"),
            (rows_raw, "score points (95 % CI)"),
        )
        if rows
    ]
    sizes = [len(r) for r, _ in panels]
    fig = _figure(figsize=(7.5, 1.2 + 0.9 * len(panels) + 0.32 * sum(sizes)), layout="constrained")
    axes = fig.subplots(
        len(panels),
        1,
        squeeze=False,
        gridspec_kw={"height_ratios": [max(1, n) for n in sizes]},
    )
    for ax, (rows, name) in zip(axes[:, 0], panels, strict=True):
        y = np.arange(len(rows))[::-1]
        est = np.array([r[1] for r in rows])
        low = np.array([np.nan if r[2] is None else r[2] for r in rows])
        high = np.array([np.nan if r[3] is None else r[3] for r in rows])
        err = np.vstack(
            [np.where(np.isnan(low), 0, est - low), np.where(np.isnan(high), 0, high - est)]
        )
        ax.errorbar(est, y, xerr=err, fmt="s", color="#1f4e79", capsize=3)
        ax.axvline(0, color="#888888", linewidth=0.8, linestyle="--")
        ax.set_yticks(y, [r[0] for r in rows])
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_xlabel(name)
    fig.suptitle("Effect sizes")
    return _Plot(
        _svg_uri(fig), "Forest plot of effect sizes with 95 % confidence intervals", "Effect sizes"
    )


def _small_trend_rows(trends: Any, cells: _Cells) -> Any:
    """Boolean mask of trend points averaged over 1..min_cell-1 participants."""
    n = pd.to_numeric(trends["n"], errors="coerce").fillna(0).to_numpy(dtype=float)
    return pd.Series((n > 0) & (n < cells.min_cell), index=trends.index)


def _trend_plot(trends: Any, arms: Sequence[str], cells: _Cells) -> _Plot | None:
    if trends is None or len(trends) == 0:
        return None
    data = trends.loc[~_small_trend_rows(trends, cells)]
    data = data.dropna(subset=["mean"])
    metrics = sorted(data["metric"].astype(str).unique())
    if not metrics:
        return None
    ncols = 2 if len(metrics) > 1 else 1
    nrows = math.ceil(len(metrics) / ncols)
    fig = _figure(figsize=(6.0 * ncols, 2.4 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    grouped = {key: g for key, g in data.groupby(["metric", "arm"], sort=False)}
    for idx, metric in enumerate(metrics):
        ax = axes[idx // ncols][idx % ncols]
        for i, arm in enumerate(arms):
            g = grouped.get((metric, arm))
            if g is None or g.empty:
                continue
            series = pd.Series(
                g["mean"].to_numpy(dtype=float), index=pd.to_datetime(g["date"])
            ).sort_index()
            color = f"C{i % 10}"
            ax.plot(series.index, series.to_numpy(), color=color, linewidth=0.6, alpha=0.35)
            # A trailing 7-day rolling mean over calendar days shows the trend through the noise.
            smooth = series.rolling("7D", min_periods=3).mean()
            ax.plot(smooth.index, smooth.to_numpy(), color=color, linewidth=1.4, label=arm)
        ax.set_title(metric, fontsize=9)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    for idx in range(len(metrics), nrows * ncols):
        axes[idx // ncols][idx % ncols].set_axis_off()
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper right", frameon=False)
    fig.suptitle("Daily metrics: mean per arm and day (faint) and 7-day rolling mean")
    fig.tight_layout()
    return _Plot(_svg_uri(fig), "Daily metric trends per arm", "Daily-metric trends")


# --------------------------------------------------------------------------- tables


def _trend_summary(trends: Any, cells: _Cells) -> list[dict[str, str]]:
    if trends is None or len(trends) == 0:
        return []
    small = _small_trend_rows(trends, cells)
    ok = trends.loc[~small].dropna(subset=["mean"])
    cells.suppressed += int(small.sum())
    rows = []
    for (metric, arm), g in ok.groupby(["metric", "arm"], sort=True):
        g = g.sort_values("date")
        dates = pd.to_datetime(g["date"])
        first = g.loc[(dates <= dates.min() + pd.Timedelta(days=6)).to_numpy(), "mean"]
        last = g.loc[(dates >= dates.max() - pd.Timedelta(days=6)).to_numpy(), "mean"]
        rows.append(
            {
                "metric": str(metric),
                "arm": str(arm),
                "days": str(len(g)),
                "mean": _fmt(float(g["mean"].mean())),
                "first_week": _fmt(float(first.mean())),
                "last_week": _fmt(float(last.mean())),
                "median_n": str(int(np.median(g["n"].to_numpy()))),
            }
        )
    return rows


def _validate(data: ReportData) -> None:
    if data.metric_trends is not None:
        absent = [c for c in METRIC_TREND_COLUMNS if c not in data.metric_trends.columns]
        if absent:
            raise ValueError(f"metric_trends lacks column(s) {', '.join(absent)}")
    for flow in data.enrolment.arms:
        if flow.withdrawn > flow.enrolled or flow.withdrawn < 0:
            raise ValueError(f"arm {flow.arm}: withdrawn must lie between 0 and enrolled")


def _version(explicit: str | None) -> str:
    if explicit:
        return explicit
    try:
        return importlib.metadata.version("dolbom")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def render_report(data: ReportData) -> str:
    """Render the study report as one self-contained HTML document (UTF-8 text)."""
    _validate(data)
    cells = _Cells(data.min_cell)
    import matplotlib

    with _PLOT_LOCK, matplotlib.rc_context(_rc()):
        flow_plot = _flow_plot(data.enrolment, cells)
        instruments = []
        for res in data.instruments:
            instruments.append(_instrument_view(res, data, cells))
        forest = _forest_plot(data.instruments, cells)
        trend = _trend_plot(data.metric_trends, data.arms, cells)
    trend_rows = _trend_summary(data.metric_trends, cells)

    completeness = [
        {
            "arm": c.arm,
            "time": c.time,
            "expected": cells.count(c.expected),
            "observed": cells.count(c.observed),
            "missing": cells.count(c.missing),
            "completeness": "—" if c.completeness is None else f"{100 * c.completeness:.0f} %",
        }
        for c in data.enrolment.completeness
    ]
    arms_flow = [
        {
            "arm": a.arm,
            "enrolled": cells.count(a.enrolled),
            "withdrawn": cells.count(a.withdrawn),
            "active": cells.count(a.active),
        }
        for a in data.enrolment.arms
    ]
    generated = (data.generated_at or datetime.now(UTC)).astimezone(UTC)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.get_template("report.html.j2")
    return template.render(
        study_name=data.study_name,
        study_id=data.study_id,
        arms=data.arms,
        time_points=data.time_points,
        enrolled=cells.count(data.enrolment.enrolled),
        withdrawn=cells.count(data.enrolment.withdrawn),
        arms_flow=arms_flow,
        completeness=completeness,
        flow_plot=flow_plot,
        instruments=instruments,
        forest=forest,
        trend=trend,
        trend_rows=trend_rows,
        min_cell=data.min_cell,
        small_cells=cells.suppressed,
        notes=data.notes,
        generated_at=generated.strftime("%Y-%m-%d %H:%M UTC"),
        version=_version(data.software_version),
    )


def _mixed_table(m: MixedModelResult | None, title: str) -> dict[str, Any] | None:
    if m is None:
        return None
    return {
        "title": title,
        "formula": m.formula,
        "method": m.method,
        "converged": m.converged,
        "n_participants": _Cells.count(m.n_participants),
        "n_observations": _Cells.count(m.n_observations),
        "n_missing": _Cells.count(m.n_rows_missing),
        "warnings": m.warnings,
        "terms": [
            {
                "term": e.term,
                "label": e.label,
                "coef": _fmt(e.coef),
                "se": _fmt(e.se),
                "z": _fmt(e.z),
                "p": _fmt_p(e.p),
                "ci": _fmt_ci(e.ci_low, e.ci_high),
                "interaction": e in m.interactions,
            }
            for e in m.fixed_effects
        ],
    }


def _instrument_view(res: InstrumentResults, data: ReportData, cells: _Cells) -> dict[str, Any]:
    plot = _trajectory_plot(res, data.arms, data.time_points, cells)
    rows = []
    for d in res.trajectories:
        s = d.stats
        hide = cells.blank(s.n)
        rows.append(
            {
                "arm": d.arm,
                "time": d.time,
                "n": cells.count(s.n),
                "missing": cells.count(s.n_missing),
                "mean": "—" if hide else _fmt(s.mean),
                "sd": "—" if hide else _fmt(s.sd),
                "median": "—" if hide else _fmt(s.median),
                "iqr": "—" if hide else _fmt_ci(s.q1, s.q3).replace(" to ", "–"),
            }
        )
    within = []
    for arm, c in res.within_arm.items():
        hide = cells.blank(c.n_pairs)
        within.append(
            {
                "arm": arm,
                "n": cells.count(c.n_pairs),
                "dropped": cells.count(c.n_dropped),
                "change": "—" if hide else _fmt(c.mean_diff),
                "ci": "—" if hide else _fmt_ci(c.ci_low, c.ci_high),
                "t": "—" if hide else _fmt(c.t),
                "df": "—" if hide or c.df is None else str(c.df),
                "p_t": "—" if hide else _fmt_p(c.p_t),
                "w": "—" if hide else _fmt(c.wilcoxon_statistic, 1),
                "p_w": "—" if hide else _fmt_p(c.p_wilcoxon),
                "w_method": c.wilcoxon_method or "—",
            }
        )
    between = None
    b = res.between
    if b is not None:
        hide = _between_hidden(res, cells)
        cells.suppressed += int(hide)
        between = {
            "arms": f"{b.arm_a} − {b.arm_b}",
            "n_a": cells.count(b.n_a),
            "n_b": cells.count(b.n_b),
            "missing": f"{cells.count(b.n_missing_a)} / {cells.count(b.n_missing_b)}",
            "diff": "—" if hide else _fmt(b.diff),
            "diff_ci": "—" if hide else _fmt_ci(b.diff_ci_low, b.diff_ci_high),
            "t": "—" if hide else _fmt(b.welch_t),
            "df": "—" if hide else _fmt(b.welch_df, 1),
            "p": "—" if hide else _fmt_p(b.p),
            "g": "—" if hide else _fmt(b.g),
            "d": "—" if hide else _fmt(b.d),
            "g_ci": "—" if hide else _fmt_ci(b.g_ci_low, b.g_ci_high),
            "g_bca": "—" if hide else _fmt_ci(b.g_bca_low, b.g_bca_high),
            "n_boot": b.n_boot,
            "seed": b.seed,
        }
    mixed_hidden = (res.mixed is not None or res.mixed_numeric is not None) and _mixed_hidden(
        res, cells
    )
    cells.suppressed += int(mixed_hidden)
    mixed = None if mixed_hidden else _mixed_table(res.mixed, "Linear mixed model")
    mixed_numeric = (
        None
        if mixed_hidden
        else _mixed_table(res.mixed_numeric, "Linear mixed model, time as a number (weeks)")
    )
    return {
        "name": res.instrument,
        "direction": res.direction,
        "plot": plot,
        "rows": rows,
        "within": within,
        "between": between,
        "mixed": mixed,
        "mixed_numeric": mixed_numeric,
        "mixed_hidden": mixed_hidden,
        "baseline": res.baseline,
        "follow_up": res.follow_up,
    }
