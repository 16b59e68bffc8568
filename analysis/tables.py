"""Summary tables: the baseline-characteristics table every paper opens with ("Table 1").

::

    import analysis
    t1 = analysis.table_one(analysis.load_sample(), by="route")
    t1.display      # ready to show or export: one row per characteristic / level
    t1.table        # tidy: variable, level, group, n, missing, mean, sd, median, q1, q3, count, percent

Patients are those with a baseline rating of the instrument (the analysed cohort of
:func:`analysis.derive_endpoints`); ``excluded`` lists the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.baseline import require_baseline
from analysis.errors import AnalysisError
from analysis.grouping import grouping_for
from analysis.longitudinal.trajectories import (
    describe_endpoints,
    endpoint_instrument,
    patients_with_zero_baseline,
    resolve_endpoints,
)

__all__ = ["TableOne", "table_one"]

OVERALL = "overall"
# Columns of Endpoints.patients that are outcomes, not baseline characteristics.
_OUTCOME_COLUMNS = {
    "patient_id", "n_ratings", "responded", "onset_infusion", "onset_lower_hours", "onset_upper_hours",
    "onset_time_hours", "remitted", "relapsed", "relapse_lower_days", "relapse_upper_days",
    "relapse_time_days", "relapse_event", "last_rating_hours", "durability_origin_hours", "relapse_status",
    "intercurrent_event", "intercurrent_days", "n_series_infusions", "n_boosters",
}
_LABELS = {
    "age": "Age, years",
    "sex": "Sex",
    "diagnosis": "Diagnosis",
    "first_dose_mg_per_kg": "Dose of first infusion, mg/kg",
    "route": "Route of first infusion",
    "n_infusions": "Number of infusions",
    "course": "Course (single infusion or series)",
    "peak_cadss": "Peak CADSS (0-4 h after an infusion)",
}
SKEWNESS_LIMIT = 1.0
_TWO_DECIMALS = {"first_dose_mg_per_kg"}


@dataclass(frozen=True)
class TableOne:
    """Baseline characteristics by group.

    table : tidy, one row per variable (and level, for categorical variables) and column
        (``"overall"`` and each group): variable, label, level (NA for continuous), group,
        kind ("continuous" | "categorical"), statistic ("mean_sd" | "median_iqr" |
        "n_percent"), n (patients with a value), missing, mean, sd, median, q1, q3 (R type 7),
        count, percent (of patients with a value).
    display : display-ready strings: index = characteristic rows, columns = "Overall (n=..)" and
        "<group> (n=..)".
    group_sizes : patients per column.
    """

    table: pd.DataFrame
    display: pd.DataFrame
    group_sizes: pd.Series
    settings: dict[str, Any]
    excluded: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def summary(self) -> pd.DataFrame:
        """The display-ready table."""
        return self.display

    def describe(self) -> list[str]:
        s = self.settings
        lines = [
            f"Patients with a baseline {s['instrument']} rating"
            + (f", {s.get('grouping') or 'by ' + s['by']}" if s["by"] else "")
            + f" ({len(self.excluded)} without one excluded).",
            "Continuous: mean (SD), or median [IQR] when the overall sample skewness exceeds "
            f"{SKEWNESS_LIMIT:g} in absolute value." if s["continuous"] == "auto"
            else f"Continuous: {'mean (SD)' if s['continuous'] == 'mean' else 'median [IQR]'}.",
            "Categorical: n (%), percentages of patients with a known value; missing counts listed.",
        ]
        return lines + list(s["endpoint_definitions"]) + [f"Note: {n}." for n in s.get("notes", ())]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.group_sizes.items())
        return f"TableOne({self.table['variable'].nunique()} variables; {sizes})"


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def _skewness(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    if values.size < 3 or np.ptp(values) == 0:
        return 0.0
    return float(stats.skew(values, bias=False))


def _format_number(x: float, digits: int) -> str:
    return "NA" if not np.isfinite(x) else f"{x:.{digits}f}"


def table_one(
    data: Any,
    by: str | None = None,
    instrument: str = "MADRS",
    variables: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    continuous: str | Mapping[str, str] = "auto",
    labels: Mapping[str, str] | None = None,
    digits: int | Mapping[str, int] = 1,
    group_bins: Sequence[float] | int | None = None,
    **endpoint_options: Any,
) -> TableOne:
    """Baseline characteristics by group: n; mean (SD) or median [IQR]; n (%); missing counts.

    Parameters
    ----------
    data : OutcomeData or Endpoints
        Patients with a baseline rating of ``instrument`` are described, including those whose
        baseline is 0 (Table 1 divides by nothing; with derived Endpoints, which leave them
        out, a note says how many are missing).
    by : str, optional
        Grouping (:func:`analysis.group_patients`: a patient or first-infusion column,
        ``course``, ``dose_band``, ``baseline``; numeric columns cut at quartiles). An
        "overall" column is always included.
    group_bins : list of float or int, optional
        Cut points or number of groups for a numeric ``by``.
    variables : list of str, optional
        Columns of the endpoints' patient table to describe, in order. Default: age, sex,
        diagnosis, user covariates, baseline score, dose and route of the first infusion,
        number of infusions, and peak CADSS when the data has CADSS ratings.
    categorical : list of str
        Numeric columns to treat as categorical (strings and booleans always are).
    continuous : {"auto", "mean", "median"} or mapping variable -> "mean" | "median"
        "auto" (default): mean (SD) unless the overall sample skewness (adjusted
        Fisher-Pearson, ``scipy.stats.skew(bias=False)``) exceeds 1 in absolute value, then
        median [IQR]. The choice is made once per variable, on all patients, so a row uses one
        statistic in every column.
    labels : mapping, optional
        Display labels overriding the defaults.
    digits : int or mapping variable -> int
        Decimals in the display table (default 1; 2 for the dose in mg/kg unless given).
        Percentages use the overall ``digits`` (1 with a mapping).

    References
    ----------
    Hayes-Larson E et al. Who is in this study, anyway? Guidelines for a useful Table 1. J Clin
    Epidemiol 2019;114:125-32. Quartiles: R type 7 (Hyndman & Fan 1996).
    """
    if isinstance(continuous, str) and continuous not in ("auto", "mean", "median"):
        raise AnalysisError("continuous must be 'auto', 'mean', 'median' or a mapping of those.")
    endpoints = resolve_endpoints(data, instrument, endpoint_options)
    instrument = endpoint_instrument(endpoints, instrument)
    patients, excluded, notes = patients_with_zero_baseline(data, endpoints, instrument)
    if patients.empty:
        require_baseline(endpoints, "Table 1", data=data)
    label_map = {**_LABELS, "baseline_score": f"Baseline {instrument} score", **dict(labels or {})}
    default_variables = variables is None
    if variables is None:
        standard = ["age", "sex", "diagnosis"]
        fixed = ["baseline_score", "first_dose_mg_per_kg", "route", "n_infusions", "peak_cadss"]
        user = [c for c in patients.columns if c not in _OUTCOME_COLUMNS and c not in standard + fixed]
        variables = [c for c in standard + user + fixed if c in patients.columns]
        if "peak_cadss" in variables and patients["peak_cadss"].isna().all():
            variables.remove("peak_cadss")
    grouping = grouping_for(data, endpoints, by, bins=group_bins)
    if by is not None and default_variables:
        variables = [v for v in variables if v != grouping.column]
    missing_columns = [v for v in variables if v not in patients.columns]
    if missing_columns:
        raise AnalysisError(f"Unknown variable(s) {missing_columns}; patient-level columns: "
                            + ", ".join(c for c in patients.columns if c not in _OUTCOME_COLUMNS) + ".")
    group_series = grouping.of(patients["patient_id"])
    groups = group_series.astype(object).to_numpy()
    columns = [OVERALL] + ([str(g) for g in grouping.levels if (groups == g).any()] if by else [])
    masks = {OVERALL: np.ones(len(patients), dtype=bool)}
    if by:
        for g in columns[1:]:
            masks[g] = np.asarray(groups == g)
    sizes = pd.Series({c: int(m.sum()) for c, m in masks.items()}, name="n")

    rows: list[dict[str, Any]] = []
    for variable in variables:
        series = patients[variable]
        label = label_map.get(variable, variable)
        if _is_categorical(series) or variable in categorical:
            values = series.astype(object).where(series.notna(), None)
            levels = [v for v in pd.unique(values.dropna())]
            try:
                levels = sorted(levels)
            except TypeError:
                levels = sorted(levels, key=str)
            for column, mask in masks.items():
                part = values[mask]
                known = int(part.notna().sum())
                missing = int(part.isna().sum())
                counts = part.value_counts()
                for level in levels:
                    count = int(counts.get(level, 0))
                    rows.append({"variable": variable, "label": label, "level": str(level), "group": column,
                                 "kind": "categorical", "statistic": "n_percent", "n": known, "missing": missing,
                                 "count": count, "percent": 100 * count / known if known else np.nan})
        else:
            values = pd.to_numeric(series, errors="coerce").to_numpy(float)
            choice = continuous.get(variable, "auto") if isinstance(continuous, Mapping) else continuous
            if choice == "auto":
                choice = "median" if abs(_skewness(values)) > SKEWNESS_LIMIT else "mean"
            for column, mask in masks.items():
                part = values[mask]
                known = part[np.isfinite(part)]
                q1, median, q3 = (np.quantile(known, [0.25, 0.5, 0.75]) if known.size else (np.nan,) * 3)
                rows.append({"variable": variable, "label": label, "level": pd.NA, "group": column,
                             "kind": "continuous", "statistic": "mean_sd" if choice == "mean" else "median_iqr",
                             "n": int(known.size), "missing": int(part.size - known.size),
                             "mean": known.mean() if known.size else np.nan,
                             "sd": known.std(ddof=1) if known.size > 1 else np.nan,
                             "median": median, "q1": q1, "q3": q3})
    table = pd.DataFrame(rows, columns=["variable", "label", "level", "group", "kind", "statistic", "n",
                                        "missing", "mean", "sd", "median", "q1", "q3", "count", "percent"])
    table["count"] = table["count"].astype("Int64")
    decimals = {v: 2 if v in _TWO_DECIMALS else 1 for v in variables}
    if isinstance(digits, Mapping):
        decimals.update({str(k): int(v) for k, v in digits.items()})
        percent_digits = 1
    else:
        decimals.update({v: int(digits) for v in variables if v not in _TWO_DECIMALS})
        percent_digits = int(digits)
    display = _display(table, sizes, columns, decimals, percent_digits)
    settings = {"instrument": instrument, "by": by, "variables": tuple(variables), "continuous": continuous,
                "digits": digits, "endpoint_definitions": describe_endpoints(endpoints),
                "grouping": grouping.description if by else None, "reference": grouping.reference if by else None,
                "notes": tuple(notes) + (grouping.notes if by else ())}
    return TableOne(table=table, display=display, group_sizes=sizes, settings=settings, excluded=excluded)


def _display(table: pd.DataFrame, sizes: pd.Series, columns: list[str], decimals: Mapping[str, int],
             percent_digits: int) -> pd.DataFrame:
    headers = {c: ("Overall" if c == OVERALL else c) + f" (n={sizes[c]})" for c in columns}
    lines: list[tuple[str, dict[str, str]]] = [("n", {headers[c]: str(sizes[c]) for c in columns})]
    for variable, part in table.groupby("variable", sort=False):
        first = part.iloc[0]
        digits = decimals.get(str(variable), 1)
        missing = part.groupby("group", sort=False)["missing"].first()
        if first["kind"] == "continuous":
            by_group = part.set_index("group")
            if first["statistic"] == "mean_sd":
                name = f"{first['label']}, mean (SD)"
                cells = {headers[c]: f"{_format_number(by_group.loc[c, 'mean'], digits)} "
                                     f"({_format_number(by_group.loc[c, 'sd'], digits)})" for c in columns}
            else:
                name = f"{first['label']}, median [IQR]"
                cells = {headers[c]: f"{_format_number(by_group.loc[c, 'median'], digits)} "
                                     f"[{_format_number(by_group.loc[c, 'q1'], digits)}, "
                                     f"{_format_number(by_group.loc[c, 'q3'], digits)}]" for c in columns}
            lines.append((name, cells))
        else:
            lines.append((f"{first['label']}, n (%)", dict.fromkeys(headers.values(), "")))
            for level, rows in part.groupby("level", sort=False):
                by_group = rows.set_index("group")
                lines.append((f"    {level}", {headers[c]: f"{int(by_group.loc[c, 'count'])} "
                                                           f"({_format_number(by_group.loc[c, 'percent'], percent_digits)})"
                                               for c in columns}))
        if missing.sum() > 0:
            lines.append(("    missing", {headers[c]: str(int(missing.get(c, 0))) for c in columns}))
    display = pd.DataFrame([cells for _, cells in lines], index=pd.Index([name for name, _ in lines],
                                                                           name="characteristic"))
    return display[[headers[c] for c in columns]]
