"""Cox proportional-hazards regression (Efron or Breslow ties, strata) with R-compatible tests."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis.survival._common import as_time_event, chi2_sf, tied_times, z_value

TIES = ("efron", "breslow")
PH_TRANSFORMS = ("km", "identity", "log", "rank")
_MAX_ITERATIONS = 50
_MAX_HALVINGS = 30


# ----------------------------------------------------------------------------------------
# Data layout: rows sorted by (stratum, time, event); events tied at the same (stratum, time)
# form a "tie group". The risk set of a tie group is every row of its stratum from the first row
# at the group's time (censored rows at that time included) to the stratum's end. No loop over
# times or groups: all sums are running sums over rows, gathered at group boundaries.
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _RiskSets:
    xt: np.ndarray  # (p, n) centred covariates, sorted, transposed and contiguous
    time: np.ndarray  # (n,) sorted
    event: np.ndarray  # (n,) bool, sorted
    stratum: np.ndarray  # (n,) int codes, sorted
    stratum_end: np.ndarray  # (n,) one past the last row of each row's stratum
    stratum_begin: np.ndarray  # (n,) first row of each row's stratum
    event_rows: np.ndarray  # (n_events,) row positions of the events
    group_of_event: np.ndarray  # (n_events,) tie-group number of each event
    group_first_event: np.ndarray  # (n_groups,) first position in event_rows of each group
    group_start_row: np.ndarray  # (n_groups,) first row (any status) at the group's time
    group_size: np.ndarray  # (n_groups,) number of tied events
    group_event_start: np.ndarray  # (n_groups,) first event row (events close their time block)
    group_stratum_end: np.ndarray  # (n_groups,) one past the last row of the group's stratum
    efron_fraction: np.ndarray  # (n_events,) l / d for the l-th (0..d-1) of d tied events
    x_events: np.ndarray  # (p, n_events) covariates of the events
    x_events_total: np.ndarray  # (p,) their sum
    single_stratum: bool


def _risk_sets(x: np.ndarray, time: np.ndarray, event: np.ndarray, stratum: np.ndarray) -> _RiskSets:
    # Within a time, censored rows first and events last: each tie group's events are then a
    # contiguous block closing its time block, so their sums come from the same running sums.
    order = np.lexsort((event, time, stratum))
    x, time, event, stratum = x[order], time[order], event[order], stratum[order]
    n = len(time)
    new_stratum = np.ones(n, dtype=bool)
    new_stratum[1:] = stratum[1:] != stratum[:-1]
    stratum_first = np.flatnonzero(new_stratum)
    stratum_last = np.append(stratum_first[1:], n)
    stratum_number = np.cumsum(new_stratum) - 1
    new_time = new_stratum.copy()
    new_time[1:] |= time[1:] != time[:-1]
    time_start = np.maximum.accumulate(np.where(new_time, np.arange(n), 0))

    event_rows = np.flatnonzero(event)
    event_time_start = time_start[event_rows]
    new_group = np.ones(len(event_rows), dtype=bool)
    new_group[1:] = event_time_start[1:] != event_time_start[:-1]
    group_of_event = np.cumsum(new_group) - 1
    group_first_event = np.flatnonzero(new_group)
    group_size = np.diff(np.append(group_first_event, len(event_rows)))
    rank_in_group = np.arange(len(event_rows)) - group_first_event[group_of_event]
    xt = np.ascontiguousarray(x.T)
    x_events = np.ascontiguousarray(xt[:, event_rows])
    return _RiskSets(
        xt=xt,
        time=time,
        event=event,
        stratum=stratum,
        stratum_end=stratum_last[stratum_number],
        stratum_begin=stratum_first[stratum_number],
        event_rows=event_rows,
        group_of_event=group_of_event,
        group_first_event=group_first_event,
        group_start_row=event_time_start[group_first_event],
        group_size=group_size,
        group_event_start=event_rows[group_first_event],
        group_stratum_end=stratum_last[stratum_number][event_rows[group_first_event]],
        efron_fraction=rank_in_group / group_size[group_of_event],
        x_events=x_events,
        x_events_total=x_events.sum(axis=1),
        single_stratum=len(stratum_first) == 1,
    )


def _group_sums(values: np.ndarray, rs: _RiskSets) -> tuple[np.ndarray, np.ndarray]:
    """Per tie group, row sums of ``values`` (shape (k, n)) over the risk set and over the
    tied events, both from one running sum taken from the last row backwards."""
    n = values.shape[1]
    # tail[:, m] is the sum of the last m rows, so rows r .. n - 1 sum to tail[:, n - r].
    tail = np.zeros((values.shape[0], n + 1))
    np.cumsum(values[:, ::-1], axis=1, out=tail[:, 1:])
    risk_set = tail[:, n - rs.group_start_row]
    events_from = tail[:, n - rs.group_event_start]
    tied = events_from - tail[:, n - rs.group_event_start - rs.group_size]
    if not rs.single_stratum:
        risk_set -= tail[:, n - rs.group_stratum_end]
    return risk_set, tied


def _within_stratum_forward_sum(values: np.ndarray, rs: _RiskSets) -> np.ndarray:
    """Cumulative sum of ``values`` from the start of each row's stratum up to the row."""
    forward = np.concatenate([[0.0], np.cumsum(values)])
    return forward[1:] - forward[rs.stratum_begin]


def _derivatives(
    beta: np.ndarray, rs: _RiskSets, efron: bool, group_weight: np.ndarray | None = None
) -> tuple[float, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """Partial log-likelihood, score and information, vectorised over tie groups.

    Efron's approximation expands a group of d tied events into d terms with denominators
    S0 - f_l D0, f_l = l/d, l = 0..d-1 (S0: risk-set sum of exp(eta), D0: the same over the tied
    events); Breslow uses f_l = 0. Only these scalar denominators are formed per event: the
    vector and matrix terms are sums over the group's l of (S1 - f_l D1) / den_l and of its outer
    products, i.e. S1, D1 (and their outer products) times per-group sums of 1/den_l, f_l/den_l,
    f_l^k/den_l^2, so with tied times the work is per distinct time, not per event. The
    information sum_g c_g S2_g over risk sets is rewritten as X' diag(w * C) X with C the
    running sum of c_g, so no (n, p, p) array is formed. Covariates are held transposed,
    (p, n), so every cumulative sum runs along contiguous memory.

    With ``group_weight`` (a value h_g per tie group), also returns the score and information
    blocks for the added covariates x * h(t) used by the cox.zph test.
    """
    xt = rs.xt
    p, n = xt.shape
    eta = np.einsum("k,kn->n", beta, xt)  # several times faster than BLAS gemv on a (p, n) matrix this skinny
    shift = float(eta.max())
    risk = np.exp(eta - shift)
    stacked = np.empty((p + 1, n))
    stacked[0] = risk
    np.multiply(xt, risk, out=stacked[1:])
    group_rows = rs.group_start_row
    at_risk_sums, tied_sums = _group_sums(stacked, rs)  # (p + 1, n_groups) each
    n_groups = len(group_rows)
    n_events = len(rs.event_rows)

    g = rs.group_of_event
    fraction = rs.efron_fraction
    denominator = at_risk_sums[0, g] - fraction * tied_sums[0, g] if efron else at_risk_sums[0, g]
    inverse = 1.0 / denominator
    inverse2 = inverse * inverse

    def per_group(weights: np.ndarray) -> np.ndarray:
        return np.bincount(g, weights=weights, minlength=n_groups)

    loglik = float(beta @ rs.x_events_total - np.log(denominator).sum() - shift * n_events)
    s1, d1 = at_risk_sums[1:], tied_sums[1:]  # (p, n_groups)
    a0 = per_group(inverse)  # sum_l 1 / den_l
    a1 = per_group(inverse * fraction) if efron else None  # sum_l f_l / den_l
    squares = (per_group(inverse2), *((per_group(inverse2 * fraction), per_group(inverse2 * fraction**2))
                                      if efron else ()))
    mean_sum = s1 @ a0 - (d1 @ a1 if efron else 0.0)  # sum over events of the risk-set mean of x
    score = rs.x_events_total - mean_sum
    x_events = rs.x_events
    risk_events = risk[rs.event_rows] if efron else None

    def information(h: np.ndarray | None) -> np.ndarray:
        weight = (lambda v: v) if h is None else (lambda v: v * h)
        placed = np.bincount(group_rows, weights=weight(a0), minlength=n)
        cumulative = _within_stratum_forward_sum(placed, rs)
        info = (xt * (risk * cumulative)) @ xt.T
        # sum over events of mean mean' = S1 S1' q0 - (S1 D1' + D1 S1') q1 + D1 D1' q2 per group
        info -= (s1 * weight(squares[0])) @ s1.T
        if efron:
            info -= (x_events * (risk_events * weight(a1)[g])) @ x_events.T
            cross = (s1 * weight(squares[1])) @ d1.T
            info += cross + cross.T
            info -= (d1 * weight(squares[2])) @ d1.T
        return info

    info = information(None)
    extra = None
    if group_weight is not None:
        h = group_weight
        mean_sum_h = s1 @ (a0 * h) - (d1 @ (a1 * h) if efron else 0.0)
        score_time = x_events @ h[g] - mean_sum_h
        extra = (score_time, information(h), information(h**2))
    return loglik, score, info, extra


def _solve(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(matrix, vector)
    except np.linalg.LinAlgError as error:
        raise ValueError(
            "the information matrix is singular: a covariate is constant or collinear with others "
            "(within strata), or a covariate perfectly predicts the events"
        ) from error


def _concordance_counts(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, stratum: np.ndarray
) -> tuple[float, float, float]:
    """Harrell's concordance counts (concordant, discordant, tied in risk), O(n log n).

    A pair is comparable when, within a stratum, one subject has an event at t and the other
    has follow-up beyond t or is censored at t; pairs of events at the same time are tied in
    time and left out (R's ``concordance``). Counting is a 2-D dominance count: place subjects
    in order of decreasing time (censored before events at equal time) and, for each event,
    count earlier-placed subjects with lower (and equal) risk with a wavelet matrix over the
    risk ranks, with no Python loop over subjects.
    """
    n = len(time)
    order = np.lexsort((event, -time, stratum))
    time, event, risk, stratum = time[order], event[order], risk[order], stratum[order]
    _, risk_rank = np.unique(risk, return_inverse=True)
    n_ranks = int(risk_rank.max()) + 1
    value = stratum.astype(np.int64) * n_ranks + risk_rank

    new_stratum = np.ones(n, dtype=bool)
    new_stratum[1:] = stratum[1:] != stratum[:-1]
    stratum_start = np.maximum.accumulate(np.where(new_stratum, np.arange(n), 0))
    new_block = new_stratum.copy()
    new_block[1:] |= (time[1:] != time[:-1]) | (event[1:] != event[:-1])
    block_start = np.maximum.accumulate(np.where(new_block, np.arange(n), 0))

    events = np.flatnonzero(event)
    limit = block_start[events]
    below, equal = _prefix_rank_counts(value, limit, value[events])
    # Subjects of earlier strata all sit before and have smaller values: remove them.
    less = below - stratum_start[events]
    comparable = limit - stratum_start[events]
    concordant = float(less.sum())
    tied = float(equal.sum())
    discordant = float((comparable - less - equal).sum())
    return concordant, discordant, tied


def _prefix_rank_counts(
    value: np.ndarray, limits: np.ndarray, query_values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each query q, among positions i < limits[q]: how many value[i] < query_values[q]
    and how many value[i] == query_values[q].

    A wavelet matrix over the bits of the (non-negative integer) values: each level stably
    moves values with a 0 bit before those with a 1 bit and keeps a running count of zeros, so
    all queries descend the levels together with O(1) array look-ups per level. Total work is
    O((n + queries) * bits), about O(n log n).
    """
    n = len(value)
    levels = int(max(int(value.max()), int(query_values.max()))).bit_length()
    current = value.astype(np.int64, copy=True)
    start = np.zeros(len(limits), dtype=np.int64)
    stop = limits.astype(np.int64, copy=True)
    less = np.zeros(len(limits), dtype=np.int64)
    zeros_before = np.zeros(n + 1, dtype=np.int64)
    for bit in range(levels - 1, -1, -1):
        is_zero = ((current >> bit) & 1) == 0
        np.cumsum(is_zero, out=zeros_before[1:])
        total_zeros = zeros_before[-1]
        query_one = ((query_values >> bit) & 1) == 1
        zeros_to_start = zeros_before[start]
        zeros_to_stop = zeros_before[stop]
        less += np.where(query_one, zeros_to_stop - zeros_to_start, 0)
        start = np.where(query_one, total_zeros + start - zeros_to_start, zeros_to_start)
        stop = np.where(query_one, total_zeros + stop - zeros_to_stop, zeros_to_stop)
        current = np.concatenate([current[is_zero], current[~is_zero]])
    return less, stop - start


@dataclass(frozen=True)
class PHTestResult:
    """Test of proportional hazards from scaled Schoenfeld residuals (R's ``cox.zph``).

    ``table`` is indexed by covariate (one row per model term, dummy columns of a categorical
    covariate tested jointly) plus "GLOBAL", with columns ``chisq``, ``df``, ``p``.
    """

    table: pd.DataFrame
    transform: str

    def summary(self) -> pd.DataFrame:
        return self.table.copy()


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox proportional-hazards model (never changes after fitting).

    Attributes
    ----------
    table : DataFrame indexed by ``term``: ``coef`` (log hazard ratio), ``se``, ``hr``
        (hazard ratio), ``hr_lower``, ``hr_upper`` (``1 - alpha`` Wald interval), ``z``, ``p``.
    covariance : DataFrame, variance-covariance matrix of the coefficients.
    loglik, null_loglik : partial log-likelihood at the estimate and at beta = 0.
    lr_statistic, lr_dof, lr_p : likelihood-ratio test of all coefficients = 0.
    wald_statistic, wald_dof, wald_p : Wald test. score_statistic, score_dof, score_p : score
        (log-rank) test at beta = 0.
    concordance : Harrell's C of the linear predictor (as R's ``concordance()``), with the
        counts ``concordant``, ``discordant``, ``tied_risk``.
    terms : dict mapping each covariate to its term names (several for a categorical one).
    references : dict mapping each dummy-coded covariate to its reference level.
    level_counts : DataFrame, one row per level of each dummy-coded covariate (its reference
        first): covariate, level, term (None for the reference), n (rows fitted), events. A level
        without events (or with only events) has no finite hazard ratio.
    n, n_events, n_dropped (rows with a missing value, dropped), ties, strata, alpha,
    n_iterations, converged : the settings and counts.
    notes : tuple of str
        Problems and choices in plain words (no convergence; for ``relapse_hazards``, covariates
        dropped because they do not vary). Each is also issued as a warning.
    """

    table: pd.DataFrame = field(repr=False)
    covariance: pd.DataFrame = field(repr=False)
    loglik: float
    null_loglik: float
    lr_statistic: float
    lr_dof: int
    lr_p: float
    wald_statistic: float
    wald_dof: int
    wald_p: float
    score_statistic: float
    score_dof: int
    score_p: float
    terms: dict[str, list[str]] = field(repr=False)
    n: int
    n_events: int
    n_dropped: int
    ties: str
    strata: tuple[str, ...]
    alpha: float
    n_iterations: int
    converged: bool
    _risk_sets: _RiskSets = field(repr=False, compare=False)
    _original_time: np.ndarray = field(repr=False, compare=False)
    _original_event: np.ndarray = field(repr=False, compare=False)
    notes: tuple[str, ...] = ()
    references: dict[str, Any] = field(default_factory=dict, repr=False)
    level_counts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["covariate", "level", "term", "n", "events"]), repr=False, compare=False)

    @functools.cached_property
    def _concordance_counts(self) -> tuple[float, float, float]:
        # computed on first use only: O(n log n) and often not wanted
        rs = self._risk_sets
        return _concordance_counts(rs.time, rs.event, self.table["coef"].to_numpy() @ rs.xt, rs.stratum)

    @property
    def concordant(self) -> float:
        return self._concordance_counts[0]

    @property
    def discordant(self) -> float:
        return self._concordance_counts[1]

    @property
    def tied_risk(self) -> float:
        return self._concordance_counts[2]

    @property
    def concordance(self) -> float:
        concordant, discordant, tied = self._concordance_counts
        comparable = concordant + discordant + tied
        return (concordant + tied / 2.0) / comparable if comparable > 0 else float("nan")

    def __repr__(self) -> str:
        strata = f", strata {list(self.strata)}" if self.strata else ""
        return (
            f"<CoxResult: fitted with {self.n} observations, {self.n_events} events "
            f"({self.n - self.n_events} censored); {len(self.table)} terms, ties={self.ties!r}{strata}; "
            f"LR chi-square {self.lr_statistic:.4g} on {self.lr_dof} df, concordance {self.concordance:.3f}>"
        )

    @property
    def coef(self) -> pd.Series:
        return self.table["coef"]

    def summary(self) -> pd.DataFrame:
        """The coefficient table (a copy), with the model's tests in ``.attrs``."""
        table = self.table.copy()
        table.attrs.update(
            {
                "n": self.n,
                "n_events": self.n_events,
                "loglik": self.loglik,
                "lr_statistic": self.lr_statistic,
                "lr_p": self.lr_p,
                "wald_statistic": self.wald_statistic,
                "wald_p": self.wald_p,
                "score_statistic": self.score_statistic,
                "score_p": self.score_p,
                "concordance": self.concordance,
                "ties": self.ties,
            }
        )
        return table

    def tests(self) -> pd.DataFrame:
        """Likelihood-ratio, Wald and score tests as a table (statistic, df, p)."""
        return pd.DataFrame(
            {
                "statistic": [self.lr_statistic, self.wald_statistic, self.score_statistic],
                "df": [self.lr_dof, self.wald_dof, self.score_dof],
                "p": [self.lr_p, self.wald_p, self.score_p],
            },
            index=pd.Index(["likelihood_ratio", "wald", "score"], name="test"),
        )

    def ph_test(self, transform: str = "km") -> PHTestResult:
        """Test proportional hazards as R's ``cox.zph`` (survival >= 3.0) does.

        A score test, at the fitted coefficients, for adding the covariates multiplied by
        g(t) - mean g over events, where g is the chosen transform of time: "km" (1 minus the
        left-continuous Kaplan-Meier estimate over all subjects, R's default), "identity",
        "log" or "rank". One test per covariate (all dummy columns of a categorical covariate
        jointly) and a global test.

        References
        ----------
        Grambsch PM, Therneau TM (1994). Proportional hazards tests and diagnostics based on
        weighted residuals. Biometrika 81, 515-526.
        """
        if transform not in PH_TRANSFORMS:
            raise ValueError(f"transform must be one of {PH_TRANSFORMS}, got {transform!r}")
        rs = self._risk_sets
        time = rs.time
        if transform == "km":
            from analysis.survival.kaplan_meier import kaplan_meier

            # the fit's own times, already tied (or not) by cox(timefix=)
            curve = kaplan_meier(self._original_time, self._original_event, ci="plain", timefix=False).table
            before = np.searchsorted(curve["time"].to_numpy(), time, side="left")
            survival_before = np.concatenate(([1.0], curve["survival"].to_numpy()))[before]
            transformed = 1.0 - survival_before
        elif transform == "identity":
            transformed = time
        elif transform == "log":
            transformed = np.log(time)
        else:
            transformed = stats.rankdata(time)
        transformed = transformed - transformed[rs.event].mean()
        group_time_weight = transformed[rs.event_rows[rs.group_first_event]]

        beta = self.table["coef"].to_numpy()
        _, _, info, extra = _derivatives(beta, rs, self.ties == "efron", group_time_weight)
        assert extra is not None
        score_time, info_cross, info_time = extra
        p = len(beta)
        full = np.block([[info, info_cross], [info_cross.T, info_time]])
        names = list(self.table.index)
        rows = {}
        for covariate, term_names in self.terms.items():
            columns = [names.index(term) for term in term_names]
            keep = list(range(p)) + [p + c for c in columns]
            u = np.concatenate([np.zeros(p), score_time[columns]])
            statistic = float(u @ _solve(full[np.ix_(keep, keep)], u))
            rows[covariate] = (statistic, len(columns), chi2_sf(statistic, len(columns)))
        u = np.concatenate([np.zeros(p), score_time])
        statistic = float(u @ _solve(full, u))
        rows["GLOBAL"] = (statistic, p, chi2_sf(statistic, p))
        table = pd.DataFrame.from_dict(rows, orient="index", columns=["chisq", "df", "p"])
        table.index.name = "term"
        return PHTestResult(table=table, transform=transform)


def _design(
    frame: pd.DataFrame, covariates: Sequence[str]
) -> tuple[np.ndarray, list[str], dict[str, list[str]], dict[str, Any]]:
    columns: list[np.ndarray] = []
    names: list[str] = []
    terms: dict[str, list[str]] = {}
    references: dict[str, Any] = {}
    for covariate in covariates:
        values = frame[covariate]
        if (
            isinstance(values.dtype, pd.CategoricalDtype)
            or pd.api.types.is_object_dtype(values.dtype)
            or pd.api.types.is_string_dtype(values.dtype)
        ):
            observed = values.astype(object)
            present = set(pd.unique(observed.dropna()))
            if isinstance(values.dtype, pd.CategoricalDtype):  # R's factor: its first level is the reference
                levels = [level for level in values.cat.categories if level in present]
            else:
                levels = sorted(present, key=lambda level: (str(type(level)), level))
            if len(levels) < 2:
                raise ValueError(f"covariate {covariate!r} has a single level ({levels}); drop it")
            references[covariate] = levels[0]
            terms[covariate] = []
            for level in levels[1:]:
                name = f"{covariate}[{level}]"
                columns.append((observed == level).to_numpy(dtype=float))
                names.append(name)
                terms[covariate].append(name)
        else:
            columns.append(values.to_numpy(dtype=float))
            names.append(covariate)
            terms[covariate] = [covariate]
    return np.column_stack(columns), names, terms, references


def cox(
    frame: pd.DataFrame,
    duration: str,
    event: str,
    covariates: Sequence[str],
    ties: Literal["efron", "breslow"] = "efron",
    strata: str | Sequence[str] | None = None,
    alpha: float = 0.05,
    timefix: bool = True,
) -> CoxResult:
    """Fit a Cox proportional-hazards model by Newton-Raphson with step halving.

    Parameters
    ----------
    frame : DataFrame
        One row per subject. Rows with a missing value in any used column are dropped (as R's
        default ``na.action``); the count is on the result as ``n_dropped``.
    duration : str
        Column of follow-up times (any unit; hazard ratios do not depend on it).
    event : str
        Column of event indicators (1/True = event, 0/False = censored).
    covariates : list of str
        Numeric or boolean columns enter as they are; object and string columns are
        dummy-coded against their first level in sorted order, categorical columns against
        their first category (as R's factors), with terms named
        ``"column[level]"`` (e.g. ``"route[IM]"``).
    ties : {"efron", "breslow"}
        Approximation for tied event times (R's default is Efron).
    strata : str or list of str, optional
        Column(s) defining strata with separate baseline hazards (R's ``strata()``).
    alpha : float
        1 - confidence level of the hazard-ratio intervals.
    timefix : bool
        Treat times equal up to rounding error as tied (R's ``coxph(timefix = TRUE)`` via
        ``coxph.control``, the default there too; ``_common.tied_times``), over all rows at once
        (not per stratum). The tied times are the ones ``ph_test`` and ``concordance`` use.
        False keeps every distinct float as its own time: events 3e-15 h apart are then not
        tied, and Efron's correction is not applied to them.

    Returns
    -------
    CoxResult

    References
    ----------
    Cox DR (1972). Regression models and life-tables. JRSS B 34, 187-220.
    Efron B (1977). The efficiency of Cox's likelihood function for censored data. JASA 72.
    Therneau TM, Grambsch PM (2000). Modeling Survival Data: Extending the Cox Model. Springer.
    """
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    if not covariates:
        raise ValueError("at least one covariate is needed")
    strata_columns: list[str] = (
        [] if strata is None else ([strata] if isinstance(strata, str) else list(strata))
    )
    used = [duration, event, *covariates, *strata_columns]
    missing_columns = [column for column in used if column not in frame.columns]
    if missing_columns:
        raise ValueError(f"columns not in frame: {missing_columns}")
    z = z_value(alpha)
    complete = frame[used].notna().all(axis=1)
    n_dropped = int((~complete).sum())
    data = frame.loc[complete, used]
    if len(data) == 0:
        raise ValueError("no complete rows: every row has a missing value in a used column")
    time, event_values = as_time_event(data[duration], data[event], what=duration)
    if timefix:
        time = tied_times(time)
    if not event_values.any():
        raise ValueError("no events: a Cox model needs at least one observed event")
    x, names, terms, references = _design(data, covariates)
    if strata_columns:
        stratum = data.groupby(strata_columns, sort=True, observed=True).ngroup().to_numpy()
    else:
        stratum = np.zeros(len(data), dtype=np.intp)

    x = x - x.mean(axis=0)
    rs = _risk_sets(x, time, event_values, stratum)
    efron = ties == "efron"
    p = x.shape[1]

    beta = np.zeros(p)
    null_loglik, score0, info0, _ = _derivatives(beta, rs, efron)
    score_statistic = float(score0 @ _solve(info0, score0))
    loglik, score, info = null_loglik, score0, info0
    converged = False
    iterations = 0
    # a diverging fit (monotone likelihood) overflows on the way; it is reported below instead
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while iterations < _MAX_ITERATIONS:
            iterations += 1
            try:
                step = np.linalg.solve(info, score)
            except np.linalg.LinAlgError:
                break  # information vanished: coefficients running off to infinity
            candidate = beta + step
            new_loglik, new_score, new_info, _ = _derivatives(candidate, rs, efron)
            halvings = 0
            while not (np.isfinite(new_loglik) and new_loglik >= loglik - 1e-12 * abs(loglik)):
                halvings += 1
                if halvings > _MAX_HALVINGS:
                    break
                candidate = (candidate + beta) / 2.0
                new_loglik, new_score, new_info, _ = _derivatives(candidate, rs, efron)
            change = abs(new_loglik - loglik)
            beta, loglik, score, info = candidate, new_loglik, new_score, new_info
            largest_step = float(np.max(np.abs(step)))
            if change <= 1e-10 * max(abs(loglik), 1.0) and largest_step <= 1e-6 * (1 + np.max(np.abs(beta))):
                converged = True
                break
            if halvings > _MAX_HALVINGS or (change <= 1e-13 * max(abs(loglik), 1.0) and largest_step > 1e-2):
                break  # no further gain in the likelihood although the steps do not shrink

    notes: list[str] = []
    if not converged:
        notes.append(
            f"Cox fit did not converge in {iterations} Newton-Raphson iterations; a coefficient may be "
            "infinite (monotone likelihood: a covariate separates who has the event first)"
        )
        warnings.warn(notes[-1], RuntimeWarning, stacklevel=2)
    try:
        covariance = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        covariance = np.linalg.pinv(info)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diag(covariance))
    z_statistic = beta / se
    with np.errstate(over="ignore"):
        table = pd.DataFrame(
            {
                "coef": beta,
                "se": se,
                "hr": np.exp(beta),
                "hr_lower": np.exp(beta - z * se),
                "hr_upper": np.exp(beta + z * se),
                "z": z_statistic,
                "p": 2.0 * stats.norm.sf(np.abs(z_statistic)),
            },
            index=pd.Index(names, name="term"),
        )
    wald_statistic = float(beta @ info @ beta)
    lr_statistic = 2.0 * (loglik - null_loglik)
    counts = []
    for covariate, reference in references.items():
        level = data[covariate].astype(object)
        per_level = pd.DataFrame({"level": level.to_numpy(), "event": event_values}).groupby(
            "level", sort=False)["event"].agg(n="size", events="sum")
        for value in [reference, *(name[len(covariate) + 1:-1] for name in terms[covariate])]:
            key = value if value in per_level.index else next(v for v in per_level.index if str(v) == str(value))
            counts.append({"covariate": covariate, "level": key,
                           "term": None if value is reference else f"{covariate}[{value}]",
                           "n": int(per_level.at[key, "n"]), "events": int(per_level.at[key, "events"])})
    level_counts = pd.DataFrame(counts, columns=["covariate", "level", "term", "n", "events"])
    return CoxResult(
        table=table,
        covariance=pd.DataFrame(covariance, index=names, columns=names),
        loglik=loglik,
        null_loglik=null_loglik,
        lr_statistic=lr_statistic,
        lr_dof=p,
        lr_p=chi2_sf(lr_statistic, p),
        wald_statistic=wald_statistic,
        wald_dof=p,
        wald_p=chi2_sf(wald_statistic, p),
        score_statistic=score_statistic,
        score_dof=p,
        score_p=chi2_sf(score_statistic, p),
        terms=terms,
        references=references,
        n=len(time),
        n_events=int(event_values.sum()),
        n_dropped=n_dropped,
        ties=ties,
        strata=tuple(strata_columns),
        alpha=float(alpha),
        n_iterations=iterations,
        converged=converged,
        _risk_sets=rs,
        _original_time=time,
        _original_event=event_values,
        notes=tuple(notes),
        level_counts=level_counts,
    )
