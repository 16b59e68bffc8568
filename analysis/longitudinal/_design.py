"""Formula -> design matrices for the longitudinal models (private helper).

Wraps patsy so that the mixed model and the MMRM share one way of turning a formula and a
DataFrame into ``y``, ``X`` and the term names (patsy's column names: ``Intercept``, ``week``,
``C(group)[T.b]``, ...), and one way of building a reference grid for least-squares means.
"""

from __future__ import annotations

import ast
import contextlib
import itertools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import patsy
from scipy import stats
from threadpoolctl import threadpool_limits

from analysis.errors import AnalysisError


class _SingleThreadBlas:
    """BLAS limited to one thread while any caller is inside (the limit is process-wide, so it is
    counted across threads: set by the first to enter, restored by the last to leave)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._limit: Any = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._limit = threadpool_limits(limits=1, user_api="blas")
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._limit.restore_original_limits()
                    self._limit = None


# The mixed model's sums over patients are skinny matrix products (G*q x q, G = patients): split
# over OpenBLAS threads on 2 shared cores they made a 268,000-row fit 4x slower (4.0 s -> 1.0 s
# on one thread, identical estimates).
single_thread_blas = _SingleThreadBlas()


@dataclass(frozen=True)
class Design:
    """Response, fixed-effects design and the rows of ``frame`` they came from."""

    y: np.ndarray
    X: np.ndarray
    term_names: list[str]
    design_info: patsy.DesignInfo
    rows: pd.Index  # index labels of the analysis rows (complete cases)
    response: str


def formula_variables(formula: str, columns: pd.Index) -> list[str]:
    """Names of the frame columns a formula (or one side of it) refers to, in order of appearance."""
    names: list[str] = []
    for side in formula.split("~"):
        for piece in side.replace("|", "+").split("+"):
            piece = piece.strip()
            if not piece:
                continue
            try:
                tree = ast.parse(piece.replace(":", "*").replace("^", "**"), mode="eval")
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Name) and node.id in columns and node.id not in names:
                    names.append(node.id)
    return names


def complete_rows(frame: pd.DataFrame, variables: list[str]) -> pd.DataFrame:
    """Rows of ``frame`` with no missing value in ``variables`` (SAS/R complete-case rule)."""
    if not variables:
        return frame
    return frame.loc[frame[variables].notna().all(axis=1)]


def as_categorical(frame: pd.DataFrame, variables: list[str]) -> pd.DataFrame:
    """Text columns as pandas categoricals (sorted levels, as patsy would use): patsy codes
    categoricals by their codes, far faster than sniffing a million Python strings."""
    text = [name for name in variables
            if frame[name].dtype == object or isinstance(frame[name].dtype, pd.StringDtype)]
    if not text:
        return frame
    frame = frame.copy(deep=False)
    for name in text:
        frame[name] = pd.Categorical(frame[name])
    return frame


def build_design(frame: pd.DataFrame, formula: str) -> Design:
    """Build ``y`` and ``X`` from a two-sided patsy formula on the complete-case rows of ``frame``.

    Rows with a missing value in any variable of the formula are dropped. Raises ``ValueError``
    for a one-sided formula or a rank-deficient design.
    """
    if "~" not in formula:
        raise AnalysisError(f"formula must be two-sided (response ~ terms), got {formula!r}")
    frame = as_categorical(frame, formula_variables(formula, frame.columns))
    y_frame, x_frame = patsy.dmatrices(formula, frame, NA_action="drop", return_type="dataframe")
    if y_frame.shape[1] != 1:
        raise AnalysisError("the response must be a single numeric column")
    X = np.asarray(x_frame, dtype=float)
    if X.shape[0] == 0:
        raise AnalysisError("no complete rows for the formula")
    # rank from the Gram matrix of unit-norm columns: one pass over the rows, p x p eigenproblem
    norms = np.sqrt(np.einsum("ij,ij->j", X, X))
    norms[norms == 0] = 1.0
    gram = (X.T @ X) / np.outer(norms, norms)
    eigenvalues = np.linalg.eigvalsh(gram)
    rank = int(np.sum(eigenvalues > 1e-10 * eigenvalues.max()))
    if rank < X.shape[1]:
        raise AnalysisError(
            f"fixed-effects design is rank deficient ({rank} < {X.shape[1]} columns); "
            "remove redundant terms"
        )
    return Design(
        y=np.asarray(y_frame, dtype=float)[:, 0],
        X=X,
        term_names=list(x_frame.columns),
        design_info=x_frame.design_info,
        rows=x_frame.index,
        response=str(y_frame.columns[0]),
    )


def variable_kinds(design: Design, frame: pd.DataFrame) -> dict[str, list]:
    """Map each right-hand-side variable to its levels (categorical) or to ``[]`` (numeric).

    A variable is categorical if patsy treats any factor that uses it as categorical (a string
    column, a pandas categorical, or a ``C(...)`` wrapper); its levels are patsy's, in patsy's order.
    """
    kinds: dict[str, list] = {}
    for factor, info in design.design_info.factor_infos.items():
        used = formula_variables(factor.code, frame.columns)
        for name in used:
            if info.type == "categorical":
                if len(used) == 1:
                    kinds[name] = list(info.categories)
                else:
                    kinds[name] = sorted(frame.loc[design.rows, name].unique())
            else:
                kinds.setdefault(name, [])
    return kinds


def reference_grid(
    design: Design,
    frame: pd.DataFrame,
    fixed_values: dict[str, list],
) -> tuple[pd.DataFrame, np.ndarray]:
    """Least-squares-means reference grid, SAS style.

    For every combination of the variables in ``fixed_values`` (name -> values), the design row
    is the equally weighted average over all levels of the other categorical variables, with
    numeric covariates at their mean over the analysis rows. Returns the grid (one row per
    combination, in the order of ``itertools.product``) and its design matrix ``L``.
    """
    kinds = variable_kinds(design, frame)
    analysis = frame.loc[design.rows]
    others = {name: levels for name, levels in kinds.items() if levels and name not in fixed_values}
    means = {name: float(analysis[name].mean()) for name, levels in kinds.items()
             if not levels and name not in fixed_values}
    fixed_names = list(fixed_values)
    other_names = list(others)
    combos = list(itertools.product(*fixed_values.values()))
    inner = list(itertools.product(*others.values())) or [()]
    records = []
    for combo in combos:
        for rest in inner:
            record = dict(zip(fixed_names, combo, strict=True))
            record.update(zip(other_names, rest, strict=True))
            record.update(means)
            records.append(record)
    full = pd.DataFrame.from_records(records)
    for name in full.columns:
        if name in analysis.columns and isinstance(analysis[name].dtype, pd.CategoricalDtype):
            full[name] = pd.Categorical(full[name], categories=analysis[name].cat.categories)
    (rows,) = patsy.build_design_matrices([design.design_info], full, NA_action="raise")
    rows = np.asarray(rows, dtype=float).reshape(len(combos), len(inner), -1)
    grid = pd.DataFrame.from_records(combos, columns=fixed_names)
    return grid, rows.mean(axis=1)


def reference_levels(frame: pd.DataFrame) -> dict[str, str]:
    """Each categorical column's reference level: its first category, which patsy's ``C(x)`` codes
    the others against."""
    return {str(c): str(frame[c].cat.categories[0]) for c in frame.columns
            if isinstance(frame[c].dtype, pd.CategoricalDtype) and len(frame[c].cat.categories)}


def term_in_words(term: str, named: dict[str, str], references: dict[str, str]) -> tuple[str, bool]:
    """A patsy term in words, and whether one of its parts is ``named`` as a slope: parts joined by
    ', ' ('C(course)[T.series]:time_days' -> 'Course: series vs single, slope ...'), a factor's level
    against its reference (``references``: variable -> reference level), ``named``: part -> words
    (the time terms), other parts as they are. Capitalised; the caller adds the unit."""
    words, slope = [], False
    for part in term.split(":"):
        factor = re.fullmatch(r"C\((\w+)\)\[T\.(.+)\]", part)
        if part in named:
            words.append(named[part])
            slope = True
        elif factor:
            variable, level = factor.groups()
            words.append(f"{variable}: {level} vs {references.get(variable, 'the reference')}")
        elif part == "baseline_score":
            words.append("baseline score")
        else:
            words.append(part)
    text = ", ".join(words)
    return text[:1].upper() + text[1:], slope


def t_table(estimate: np.ndarray, se: np.ndarray, df: np.ndarray, alpha: float) -> pd.DataFrame:
    """estimate, se, df, statistic (estimate / se), two-sided t p-value and the
    ``1 - alpha`` t interval (lower, upper) of linear combinations of fixed effects."""
    statistic = estimate / se
    quantile = stats.t.ppf(1 - alpha / 2, df)
    return pd.DataFrame({
        "estimate": estimate, "se": se, "df": df, "statistic": statistic,
        "p": 2 * stats.t.sf(np.abs(statistic), df),
        "lower": estimate - quantile * se, "upper": estimate + quantile * se,
    })
