"""Forest plot of Cox hazard ratios, with continuous covariates per a stated clinical unit.

A hazard ratio "per 1 mg/kg" of ketamine (a dose range of 0.2-1 mg/kg) or "per year" of age is
hard to read; each continuous covariate is reported per a unit a clinician thinks in (dose per
0.1 mg/kg, age per 10 years, scores per 5 points). A Cox model is invariant to rescaling a
covariate: fitting on ``x / k`` gives coefficient ``k * beta`` with standard error ``k * se``,
so the hazard ratio per ``k`` units is ``HR ** k`` and its interval ``(lower ** k, upper ** k)``;
the p-value is unchanged. ``per_unit_hazard_ratios`` applies that to a ``CoxResult``, and the
tests check it against ``analysis.cox`` refitted on the rescaled column::

    import analysis
    from analysis import figures
    cox = analysis.relapse_hazards(analysis.load_sample(), covariates=["first_dose_mg_per_kg", "age"])
    table = figures.per_unit_hazard_ratios(cox)
    figures.forest_figure(table).show()
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.figures._style import OKABE_ITO, with_definitions
from analysis.figures.survival import format_p

__all__ = ["COVARIATE_LABELS", "COVARIATE_UNITS", "forest_figure", "per_unit_hazard_ratios"]

# covariate -> (units per step, the step in words)
COVARIATE_UNITS: dict[str, tuple[float, str]] = {
    "first_dose_mg_per_kg": (0.1, "per 0.1 mg/kg"),
    "dose_mg_per_kg": (0.1, "per 0.1 mg/kg"),
    "age": (10.0, "per 10 years"),
    "baseline_score": (5.0, "per 5 points"),
    "peak_cadss": (5.0, "per 5 points"),
    "n_infusions": (1.0, "per infusion"),
    "duration_min": (10.0, "per 10 min"),
}
COVARIATE_LABELS: dict[str, str] = {
    "first_dose_mg_per_kg": "Dose (first infusion)",
    "dose_mg_per_kg": "Dose (first infusion)",
    "route": "Route",
    "diagnosis": "Diagnosis",
    "baseline_score": "Baseline severity",
    "peak_cadss": "Peak dissociation (CADSS)",
    "n_infusions": "Number of infusions",
    "age": "Age",
    "sex": "Sex",
    "duration_min": "Infusion duration",
}
_TABLE_COLUMNS = ["label", "unit", "scale", "hr", "hr_lower", "hr_upper", "p", "n", "events", "n_reference",
                  "events_reference", "note", "coef", "se"]
# A coefficient beyond this (log hazard ratio, HR beyond ~1 : 22,000) in a fit that did not converge
# is running off to infinity (monotone likelihood), not an estimate
_DIVERGED_LOG_HR = 10.0


def _unsupported(cox: Any, term: str, row: pd.Series, counts: dict[str, Any], reference: Any) -> str:
    """Why a term's hazard ratio cannot be estimated ("" when it can): a level or its reference
    without relapses, or a coefficient running off to infinity in a fit that did not converge."""
    if counts:
        if counts["events"] == 0:
            return f"not estimable: no relapse among the {counts['n']} responders at {counts['level']}"
        if counts["events_reference"] == 0:
            return f"not estimable: no relapse among the {counts['n_reference']} responders at {reference}"
    coef, se = float(row["coef"]), float(row["se"])
    if not (np.isfinite(coef) and np.isfinite(se)) or (
            not getattr(cox, "converged", True) and abs(coef) > _DIVERGED_LOG_HR):
        return ("not estimable: the model did not converge for this term (its hazard ratio runs off to 0 or "
                "infinity: the covariate separates who relapses first)")
    return ""


def _level_key(level: Any) -> tuple[str, Any]:
    return (str(type(level)), level)  # analysis.cox's order of levels: the first is the reference


def per_unit_hazard_ratios(cox: Any, units: Mapping[str, tuple[float, str]] | None = None,
                           levels: Mapping[str, Iterable[Any]] | None = None) -> pd.DataFrame:
    """Hazard ratios of a ``CoxResult`` per a stated unit of each continuous covariate.

    Parameters
    ----------
    cox : CoxResult (``analysis.cox`` / ``analysis.relapse_hazards``).
    units : covariate -> (step, words), default ``COVARIATE_UNITS`` (dose per 0.1 mg/kg, age per
        10 years, baseline and CADSS per 5 points); other continuous covariates stay per 1 unit.
    levels : covariate -> its observed levels, to name the reference level of a dummy-coded
        covariate when the result does not carry it (``CoxResult.references``).

    Returns
    -------
    DataFrame indexed by term: label (row text, e.g. "Dose (first infusion), per 0.1 mg/kg" or
    "Diagnosis: PTSD vs MDD"), unit, scale (the step), hr, hr_lower, hr_upper (per step),
    p (Wald, unchanged by the step), for a level of a categorical covariate n and events (its
    responders and relapses) and n_reference, events_reference (of the reference level; all
    four NaN for continuous covariates and when the result has no ``level_counts``), note (why
    the hazard ratio is not estimable, e.g. no relapse at the level, "" otherwise; hr, its
    interval and p are then NaN), coef and se (per step).
    """
    units = COVARIATE_UNITS if units is None else units
    level_counts = getattr(cox, "level_counts", None)
    by_term: dict[str, dict[str, Any]] = {}
    if level_counts is not None and len(level_counts):
        for _covariate, part in level_counts.groupby("covariate", sort=False):
            first = part.iloc[0]  # the reference level
            for _, level in part.iloc[1:].iterrows():
                by_term[str(level["term"])] = {"level": level["level"], "n": int(level["n"]),
                                               "events": int(level["events"]), "n_reference": int(first["n"]),
                                               "events_reference": int(first["events"])}
    rows = []
    for column, terms in cox.terms.items():
        name = COVARIATE_LABELS.get(column, column.replace("_", " "))
        dummy = len(terms) > 1 or terms[0] != column
        reference = getattr(cox, "references", {}).get(column)  # as analysis.cox coded it
        if dummy and reference is None and levels is not None and column in levels:
            # cox codes levels[1:] of the sorted observed levels: the reference sorts before every
            # coded level; a level of the data absent from the fitted rows could too (then unnamed)
            observed = [str(v) for v in pd.unique(pd.Series(list(levels[column])).dropna())]
            coded = sorted({t[len(column) + 1:-1] for t in terms}, key=_level_key)
            below = [v for v in observed if v not in coded and _level_key(v) < _level_key(coded[0])]
            reference = below[0] if len(below) == 1 else None
        for term in terms:
            row = cox.table.loc[term]
            if dummy:
                level = term[len(column) + 1:-1] if term.startswith(f"{column}[") else term
                step, unit = 1.0, f"vs {reference}" if reference else "vs the reference level"
                label = f"{name}: {level} {unit}"
            else:
                step, unit = units.get(column, (1.0, "per unit"))
                label = f"{name}, {unit}"
            counts = by_term.get(term, {})
            note = _unsupported(cox, term, row, counts, reference)
            estimate = {"hr": float(row["hr"]) ** step, "hr_lower": float(row["hr_lower"]) ** step,
                        "hr_upper": float(row["hr_upper"]) ** step, "p": float(row["p"])}
            if note:
                estimate = dict.fromkeys(estimate, np.nan)
            rows.append({"term": term, "label": label, "unit": unit, "scale": step, **estimate,
                         **{k: counts.get(k, np.nan) for k in ("n", "events", "n_reference", "events_reference")},
                         "note": note, "coef": step * float(row["coef"]), "se": step * float(row["se"])})
    return pd.DataFrame(rows, columns=["term", *_TABLE_COLUMNS]).set_index("term")


def hr_text(hr: float, lower: float, upper: float) -> str:
    """'0.98 (0.85-1.12)' with two decimals (three below 0.1)."""
    def value(v: float) -> str:
        return "not estimated" if not np.isfinite(v) else f"{v:.3f}" if v < 0.1 else f"{v:.2f}"
    return f"{value(hr)} ({value(lower)}\u2013{value(upper)})"


def forest_figure(
    table: pd.DataFrame,
    *,
    definitions: Sequence[str] = (),
    title: str = "Hazard ratios for relapse (Cox model)",
    x_title: str = "Hazard ratio of relapse (log scale)<br>< 1 = longer response",
) -> go.Figure:
    """Forest plot of hazard ratios with 95% CI, and per row the HR (95% CI) and p printed in a
    column to the right. ``table`` indexed by term with hr, hr_lower, hr_upper, optionally p and
    label (the row text, e.g. from ``per_unit_hazard_ratios``, which says the unit)."""
    frame = table.reset_index().rename(columns={table.index.name or "index": "term"})
    frame = frame.iloc[::-1]
    # row labels wrapped so the left margin stays narrow on an 800 px screen
    labels = ["<br>".join(textwrap.wrap(str(v), 26)) or str(v)
              for v in (frame["label"] if "label" in frame.columns else frame["term"])]
    text = [hr_text(hr, lo, hi) for hr, lo, hi in zip(frame["hr"], frame["hr_lower"], frame["hr_upper"], strict=True)]
    p_text = [format_p(p).removeprefix("p ").replace("= ", "") for p in frame["p"]] if "p" in frame.columns else None
    # a row the model cannot estimate says why instead of numbers (no point is drawn for it)
    reasons = ([str(v) if isinstance(v, str) and v else "" for v in frame["note"]] if "note" in frame.columns
               else [""] * len(frame))
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.6, 0.4], horizontal_spacing=0.03)
    figure.add_trace(go.Scatter(
        x=frame["hr"], y=labels, mode="markers", marker=dict(symbol="square", size=10, color=OKABE_ITO[0]),
        error_x=dict(type="data", symmetric=False, array=frame["hr_upper"] - frame["hr"],
                     arrayminus=frame["hr"] - frame["hr_lower"], color=OKABE_ITO[0]),
        text=text, name="hazard ratio", hovertemplate="%{y}: HR %{text}<extra></extra>", showlegend=False),
        row=1, col=1)
    row_text = [f"{t}<br>p {p}" for t, p in zip(text, p_text, strict=True)] if p_text else list(text)
    row_text = ["<br>".join(textwrap.wrap(reason, 34)) if reason else t
                for t, reason in zip(row_text, reasons, strict=True)]
    figure.add_trace(go.Scatter(x=[0.0] * len(labels), y=labels, mode="text", text=row_text,
                                name="HR (95% CI), p", textposition="middle right", showlegend=False,
                                hoverinfo="skip", cliponaxis=False), row=1, col=2)
    figure.add_annotation(text="<b>HR (95% CI)" + (", p" if p_text else "") + "</b>", x=0.0, xref="x2", y=1,
                          yref="y domain", xanchor="left", yanchor="bottom", showarrow=False, font=dict(size=12))
    figure.add_vline(x=1, line=dict(color="gray", dash="dot"), row=1, col=1)
    # explicit 1-2-5 ticks written in full: plotly's default log ticks label 0.3 as "3"
    values = pd.concat([frame["hr_lower"], frame["hr_upper"], frame["hr"]]).to_numpy(float)
    values = values[np.isfinite(values) & (values > 0)]
    low, high = (min(values.min(), 1.0), max(values.max(), 1.0)) if values.size else (0.5, 2.0)
    ticks = [m * 10.0 ** e for e in range(-3, 4) for m in (1, 2, 5)]
    below = [t for t in ticks if t <= low]
    above = [t for t in ticks if t >= high]
    shown = [t for t in ticks if (below[-1] if below else ticks[0]) <= t <= (above[0] if above else ticks[-1])]
    figure.update_xaxes(type="log", title=x_title, tickvals=shown, ticktext=[f"{t:g}" for t in shown],
                        range=[np.log10(shown[0]) - 0.02, np.log10(shown[-1]) + 0.02], row=1, col=1)
    figure.update_xaxes(range=[0, 1], visible=False, row=1, col=2)
    figure.update_yaxes(automargin=True, showgrid=False, row=1, col=1)
    figure.update_yaxes(showline=False, showgrid=False, ticks="", row=1, col=2)
    figure.update_layout(title=title, height=max(320, 150 + 44 * len(frame)), margin=dict(t=80))
    # the definitions start at the plot, right of the row labels: narrower lines
    return with_definitions(figure, definitions, axis_space=92, width=50)
