"""The global sidebar: every setting lives in the URL (widgets bound to query parameters).

The dataset is named in the URL as ``dataset=sample``, ``dataset=simulated-<n>-<seed>`` or, for
an uploaded file, ``dataset=upload-<fingerprint>`` (a hash of the content: no patient data ever
goes into a URL). Opening a link to an uploaded dataset asks for the file on the Data page and
checks that it matches.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

import streamlit as st

from analysis import errors as analysis_errors
from analysis.contract import DIAGNOSES, ROUTES, OutcomeData
from dashboard import compute, security
from dashboard.workspace import session as workspace
from dashboard.workspace.store import NotFoundOrNotShared, WorkspaceUnavailable

# Fixed slider domains keep links stable whatever the data: a link made on one dataset means
# the same on another.
DOSE_DOMAIN = (0.0, 2.0)  # mg/kg
AGE_DOMAIN = (0, 100)  # years
# Bound widgets write their option *labels* into the URL, so the options themselves are short,
# stable words (links keep working) and are mapped to the analysis arguments here.
GROUPS = {"none": "no grouping", "course": "course (single infusion or series)",
          "dose band": "dose band of the first infusion", "route": "route of the first infusion",
          "diagnosis": "diagnosis", "sex": "sex", "age band": "age band"}
# Option word -> the analysis' by= (the others are the column itself: route, sex, a user covariate).
GROUP_BY = {"none": None, "course": "course", "dose band": "dose_band", "age band": "age"}
# Age bands (years, both ends included, as analysis.group_patients cuts): fixed cut points rather
# than quartiles, so a link means the same bands on every dataset.
AGE_BANDS_YEARS = (0.0, 34.0, 49.0, 64.0, 120.0)
GROUP_BINS: dict[str, tuple[float, ...]] = {"age band": AGE_BANDS_YEARS}
RELAPSE_RULES = {
    "loss of response": "loss_of_response",
    "score threshold": "absolute",
    "fraction of baseline": "fraction_of_baseline",
}
# The smallest cell size the server allows; a link may raise it, never lower it.
MIN_CELL_FLOOR = max(1, int(os.environ.get("INFUSION_OUTCOMES_MIN_CELL_SIZE", "5") or 5))
# Sidebar widgets bound to the URL: query key -> what to call it in a note.
URL_KEYS = {"dataset": "Dataset", "instrument": "Instrument", "diagnosis": "Diagnosis", "route": "Route",
            "dose": "Dose", "sex": "Sex", "age": "Age", "group": "Compare groups by",
            "reference": "Reference group",
            "response": "Response", "remission": "Remission", "relapse": "Relapse rule",
            "relapse_score": "Relapse score", "relapse_fraction": "Relapse fraction",
            "confirm": "Confirmation visits", "min_cell": "Minimum cell size"}


@dataclass(frozen=True)
class Settings:
    """Everything the sidebar decides; hashable, so it keys the result caches."""

    dataset: str = "sample"
    instrument: str = "MADRS"
    diagnosis: tuple[str, ...] = ()
    route: tuple[str, ...] = ()
    dose_range: tuple[float, float] | None = None
    sex: tuple[str, ...] = ()
    age_range: tuple[float, float] | None = None
    group: str = "none"
    # the groups' cut points (numeric by=; None = the library's rule) and the comparison group
    # (None = the library's default reference)
    group_bins: tuple[float, ...] | None = None
    reference: str | None = None
    response: float = 0.5
    remission: float | None = None
    relapse_rule: str = "loss_of_response"
    relapse_score: float = 22.0
    relapse_fraction: float = 0.75
    confirm_visits: int = 1
    min_cell_size: int = MIN_CELL_FLOOR

    def filters(self) -> dict[str, Any]:
        """Keyword arguments of analysis.filter_cohort (only those in use)."""
        out: dict[str, Any] = {}
        if self.diagnosis:
            out["diagnosis"] = list(self.diagnosis)
        if self.route:
            out["route"] = list(self.route)
        if self.dose_range is not None:
            out["dose_range"] = self.dose_range
        if self.sex:
            out["sex"] = list(self.sex)
        if self.age_range is not None:
            out["age_range"] = self.age_range
        return out

    def relapse(self) -> str | float | tuple[str, float]:
        if self.relapse_rule == "absolute":
            return float(self.relapse_score)
        if self.relapse_rule == "fraction_of_baseline":
            return ("fraction_of_baseline", float(self.relapse_fraction))
        return "loss_of_response"

    def endpoint_options(self) -> dict[str, Any]:
        """Keyword arguments of the endpoint-based analysis functions."""
        out: dict[str, Any] = {"instrument": self.instrument, "response": self.response}
        if self.remission is not None:
            out["remission"] = self.remission
        out["relapse"] = self.relapse()
        out["confirm_visits"] = self.confirm_visits
        return out

    @property
    def by(self) -> str | None:
        """The analyses' ``by=`` for the sidebar's grouping (None: no grouping)."""
        return GROUP_BY.get(self.group, self.group)

    @property
    def group_label(self) -> str:
        """The grouping in words (for sentences such as "Log-rank test across ...")."""
        return GROUPS.get(self.group, self.group)

    def grouping(self) -> dict[str, Any]:
        """Keyword arguments of analysis.group_patients for the sidebar's grouping (bins= and
        reference= only when set)."""
        out: dict[str, Any] = {"by": self.by}
        if self.by is not None and self.group_bins is not None:
            out["bins"] = list(self.group_bins)
        if self.by is not None and self.reference is not None:
            out["reference"] = self.reference
        return out

    def call_arguments(self, accepted: Collection[str], arguments: dict[str, Any]) -> dict[str, Any]:
        """``arguments`` of an analysis call with the sidebar's group cut points and reference
        added, when the call groups by the sidebar's grouping (``by=settings.by``) and the function
        accepts them (``accepted``: its parameter names). What a page runs and the snippet it
        shows both go through here, so they cannot differ."""
        by = arguments.get("by")
        if by is None or by != self.by:
            return dict(arguments)
        out = dict(arguments)
        if self.group_bins is not None and "group_bins" in accepted and "group_bins" not in out \
                and "bins" not in out:
            out["group_bins"] = list(self.group_bins)
        if self.reference is not None and "reference" in accepted and "reference" not in out:
            out["reference"] = self.reference
        return out


@dataclass(frozen=True)
class Context:
    """What a page needs: the settings, the full and the filtered dataset (None while an
    uploaded dataset named in the link has not been provided again)."""

    settings: Settings
    full: OutcomeData | None
    data: OutcomeData | None
    problem: str | None = None
    # link values that were not valid here, in words (markdown-safe), shown above the page
    url_notes: tuple[str, ...] = ()
    # False for a workspace viewer: aggregates only (no individual lines, timelines, row-level CSV)
    row_level: bool = True
    # the sidebar grouping's groups in their one order (analysis.group_patients levels: figures
    # colour by it, so a group keeps its colour on every page) and its reference group
    group_levels: tuple[str, ...] = ()
    group_reference: str | None = None

    def detached(self) -> Context:
        """This context as kept in the session between runs: shared datasets referenced weakly, so
        that a session (even one whose tab closed) never keeps a dataset the byte-bounded caches
        have let go. Private data (uploads) is the session's own and stays as it is."""
        def weak(data: OutcomeData | None) -> Any:
            return None if data is None else weakref.proxy(data)

        if not self.settings.dataset.startswith(("sample", "simulated-", workspace.PREFIX)):
            return self  # private data: held by the session anyway
        return replace(self, full=weak(self.full), data=weak(self.data))


def set_dataset(name: str) -> None:
    """Switch dataset (call before the sidebar renders, e.g. from a callback, then rerun)."""
    st.session_state["dataset"] = name


# session key: the page a link to an uploaded dataset named, opened once the file is supplied
LINK_PAGE = "_link_page"


def render_sidebar(page: Any = None) -> Context:
    """Draw the sidebar and return the page context. Called by app.py on every run with the page
    being shown (st.navigation's StreamlitPage): when a link names an uploaded dataset this session
    does not hold, the page it named is remembered, and the Data page opens it once the matching
    file is supplied (return_to_link_page)."""
    sb = st.sidebar
    # the link's values, checked on the session's first run only (later differences are the
    # user's own changes)
    first_run = not st.session_state.get("_link_checked")
    st.session_state["_link_checked"] = True
    link = {key: st.query_params.get_all(key) for key in URL_KEYS if first_run and key in st.query_params}
    sb.text_input(
        "Dataset", key="dataset", value="sample", bind="query-params", disabled=True,
        help="Which dataset this view uses: the bundled sample, a simulated dataset, or an "
             "uploaded file identified only by a fingerprint of its content. Change it on the "
             "Data page.",
    )
    dataset = str(st.session_state.get("dataset") or "sample")
    full: OutcomeData | None = None
    problem: str | None = None
    dataset_note = None
    try:
        compute.parse_dataset(dataset)
    except compute.InvalidDataset as error:
        dataset_note = f"The link names a dataset this server does not make: {error}"
        problem = "No dataset: choose one on the Data page."
    else:
        try:
            full = compute.base_data(dataset)
        except (NotFoundOrNotShared, WorkspaceUnavailable) as error:
            problem = str(error)
        except compute.ServerBusy as error:
            problem = str(error)
        except compute.UploadMissing:
            if first_run and page is not None and not getattr(page, "default", False):
                st.session_state[LINK_PAGE] = page
            problem = ("This link refers to an uploaded dataset (fingerprint "
                       f"{dataset.removeprefix('upload-')}). Upload the same file on the Data page "
                       "to see this view; it is checked against the fingerprint.")
        except Exception as error:  # a failing loader must not take the app down
            error_id = compute.log_exception(error)
            problem = (f"The dataset could not be loaded (error id {error_id}, in the server log). Choose "
                       "another dataset on the Data page.")
    if (label := workspace.dataset_label(dataset)) is not None:  # the stored dataset's name, not its id
        sb.caption(security.md(label, 200))

    choices = (compute.sidebar_options(dataset, full) if full is not None else
               {"instrument": ["MADRS"], "diagnosis": list(DIAGNOSES), "route": list(ROUTES), "sex": ["F", "M"]})
    instruments = choices["instrument"]
    sb.selectbox("Instrument", instruments, key="instrument", bind="query-params",
                 help="Rating scale used for response, remission and relapse.")

    with sb.expander("Filters", expanded=True):
        st.multiselect("Diagnosis", choices["diagnosis"], key="diagnosis", bind="query-params",
                       placeholder="All diagnoses")
        st.multiselect("Route (first infusion)", choices["route"], key="route", bind="query-params",
                       placeholder="All routes")
        st.slider("Dose of first infusion (mg/kg)", DOSE_DOMAIN[0], DOSE_DOMAIN[1],
                  value=DOSE_DOMAIN, step=0.05, key="dose", bind="query-params")
        st.multiselect("Sex", choices["sex"], key="sex", bind="query-params", placeholder="All")
        st.slider("Age (years)", AGE_DOMAIN[0], AGE_DOMAIN[1], value=AGE_DOMAIN, step=1,
                  key="age", bind="query-params")

    covariates = [c for c in choices.get("covariates", []) if c not in GROUPS]
    sb.selectbox("Compare groups by", list(GROUPS) + covariates, key="group", bind="query-params",
                 help="course: single infusion or induction series; dose band: first dose below, at or above "
                      "the standard 0.5 mg/kg; route of the first infusion; diagnosis; sex; age band "
                      f"({_bands(AGE_BANDS_YEARS)} years)"
                      + (f"; or a covariate of this dataset ({', '.join(covariates)})" if covariates else "")
                      + ". Numeric covariates are cut at their quartiles.")
    reference_slot = sb.container()  # filled once the filtered patients (and so the groups) are known

    with sb.expander("Definitions", expanded=False):
        st.slider("Response: reduction from baseline (%)", 25, 75, value=50, step=5,
                  key="response", bind="query-params",
                  help="A rating is a response when the score fell by at least this much "
                       "from baseline (50% is the universal convention).")
        default_remission = compute.remission_default(instruments[0] if full is None else
                                                      st.session_state.get("instrument"))
        st.number_input("Remission: score at most", min_value=0.0, max_value=100.0, value=None,
                        step=1.0, key="remission", bind="query-params",
                        placeholder=f"instrument default ({default_remission})")
        st.selectbox("Relapse rule", list(RELAPSE_RULES), key="relapse", bind="query-params",
                     help="loss of response: no longer meets the response criterion; score "
                          "threshold: score at or above a value (e.g. MADRS 22); fraction of "
                          "baseline: score back to a fraction of the baseline score.")
        rule = RELAPSE_RULES.get(st.session_state.get("relapse"), "loss_of_response")
        if rule == "absolute":
            st.number_input("Relapse: score at or above", min_value=0.0, max_value=100.0,
                            value=22.0, step=1.0, key="relapse_score", bind="query-params")
        elif rule == "fraction_of_baseline":
            st.number_input("Relapse: score back to this fraction of baseline", min_value=0.05,
                            max_value=1.5, value=0.75, step=0.05, key="relapse_fraction",
                            bind="query-params")
        st.segmented_control("Confirmation visits", [1, 2, 3], default=1, key="confirm",
                             bind="query-params", required=True,
                             help="Consecutive ratings needed to confirm a relapse.")
    sb.number_input("Minimum cell size (patients)", min_value=MIN_CELL_FLOOR, max_value=50,
                    value=MIN_CELL_FLOOR, step=1, key="min_cell", bind="query-params",
                    help="Groups with fewer patients are suppressed in tables, figures and "
                         f"exports, as shared summaries require. This server's minimum is {MIN_CELL_FLOOR}; "
                         "a link may only raise it.")

    settings = _settings_from_state(dataset)
    data = None
    if full is not None:
        try:
            data = compute.filtered_data(dataset, settings)
        except Exception as error:
            error_id = compute.log_exception(error)
            problem = (f"The filters could not be applied to this dataset (error id {error_id}, in the server "
                       "log). Widen or clear them in the sidebar.")
    levels, default_reference = _group_levels(settings, data)
    if len(levels) > 1:
        reference_slot.selectbox(
            "Reference group", levels, index=levels.index(default_reference), key="reference",
            bind="query-params",
            help="The group the others are compared with (hazard ratios, risk differences, odds ratios); "
                 "by default the standard (single infusion, 0.5 mg/kg, IV), the lowest band or the largest group.")
        chosen = st.session_state.get("reference")
        if chosen is not None and chosen != default_reference:
            settings = replace(settings, reference=str(chosen))
    sb.caption("Theme: light, dark or your system's, in the menu at the top right of the page (⋮).")
    url_notes = ((dataset_note,) if dataset_note else ()) + _url_notes(link)
    if data is not None:
        kept = compute.patient_count(settings, data)
        sb.markdown(f"**{kept:,} of {compute.patient_count(settings, full, filtered=False):,} patients kept** "
                    "by the filters.")
        if kept == 0:
            problem = "No patient matches the filters. Widen them in the sidebar."
    return Context(settings=settings, full=full, data=data, problem=problem, url_notes=url_notes,
                   row_level=workspace.row_level(dataset), group_levels=tuple(levels),
                   group_reference=settings.reference or default_reference)


def _bands(edges: tuple[float, ...]) -> str:
    """Age bands in words: 'up to 34, 35-49, 50-64, 65 and over' for (0, 34, 49, 64, 120)."""
    inner = [f"{edges[i] + 1:g}-{edges[i + 1]:g}" for i in range(1, len(edges) - 2)]
    return ", ".join([f"up to {edges[1]:g}"] + inner + [f"{edges[-2] + 1:g} and over"])


def _group_levels(settings: Settings, data: OutcomeData | None) -> tuple[list[str], str | None]:
    """(groups in order, default reference) of the sidebar's grouping of the filtered patients, as
    every analysis forms them; nothing without a grouping or when it does not apply to the data
    (the pages then say why, in the library's words)."""
    if data is None or settings.by is None:
        return [], None
    try:
        return compute.group_levels(settings, data)
    except analysis_errors.AnalysisError:
        return [], None


def return_to_link_page() -> None:
    """Open the page the link to an uploaded dataset named (with the link's settings, which the
    sidebar's widgets hold), if there was one; otherwise rerun where we are."""
    page = st.session_state.pop(LINK_PAGE, None)
    if page is not None:
        # the settings live in the bound widgets (which write them back into the URL); {} rather
        # than the default None, which would try to clear the bound parameters and fail
        st.switch_page(page, query_params={})
    st.rerun()


def _url_notes(link: dict[str, list[str]]) -> tuple[str, ...]:
    """One sentence per link value a sidebar widget refused (Streamlit drops an invalid value
    from the URL and uses the default; the user must see that, with the value named)."""
    notes = []
    for key, values in link.items():
        if key == "dataset":
            continue  # an unknown dataset is the page's problem, already named
        kept = st.query_params.get_all(key)
        if kept == values or _same(values, st.session_state.get(key)):
            continue  # kept, or dropped from the URL because it equals the default
        refused = [v for v in values if v not in kept] or values
        shown = ", ".join(security.md(v, 40) for v in refused[:3])
        if key == "min_cell":
            notes.append(f"The link asks for a minimum cell size of {shown}; this server's minimum is "
                         f"{MIN_CELL_FLOOR} (links may only raise it), so {MIN_CELL_FLOOR} is used.")
        else:
            notes.append(f"The link's value {shown} for {URL_KEYS[key]} is not valid here and was "
                         "replaced by the default.")
    return tuple(notes)


def _same(link_values: list[str], state_value: Any) -> bool:
    """Whether the widget holds what the link asked for (numbers compared as numbers)."""
    held = list(state_value) if isinstance(state_value, (list, tuple)) else [state_value]
    if len(held) != len(link_values):
        return False
    for asked, value in zip(link_values, held, strict=True):
        if str(value) == asked:
            continue
        try:
            if float(asked) != float(value):
                return False
        except (TypeError, ValueError):
            return False
    return True


def _tuple(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(str(v) for v in value)


def _range(value: Any, domain: tuple[float, float]) -> tuple[float, float] | None:
    if value is None:
        return None
    low, high = (float(v) for v in value)
    if low <= domain[0] and high >= domain[1]:
        return None
    return (low, high)


def _settings_from_state(dataset: str) -> Settings:
    """The settings of the sidebar's widgets (the reference group is added once the groups are known)."""
    state = st.session_state
    group = str(state.get("group") or "none")
    remission = state.get("remission")
    confirm = state.get("confirm") or 1
    return Settings(
        dataset=dataset,
        instrument=str(state.get("instrument") or "MADRS"),
        diagnosis=_tuple(state.get("diagnosis")),
        route=_tuple(state.get("route")),
        dose_range=_range(state.get("dose"), DOSE_DOMAIN),
        sex=_tuple(state.get("sex")),
        age_range=_range(state.get("age"), AGE_DOMAIN),
        group=group,
        group_bins=GROUP_BINS.get(group),
        response=float(state.get("response") or 50) / 100.0,
        remission=None if remission is None else float(remission),
        relapse_rule=RELAPSE_RULES.get(state.get("relapse"), "loss_of_response"),
        relapse_score=float(state.get("relapse_score") or 22.0),
        relapse_fraction=float(state.get("relapse_fraction") or 0.75),
        confirm_visits=int(confirm),
        min_cell_size=max(MIN_CELL_FLOOR, int(state.get("min_cell") or MIN_CELL_FLOOR)),
    )
