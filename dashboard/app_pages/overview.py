"""Overview: headline figures with confidence intervals and the definitions used."""

import math

import pandas as pd
import streamlit as st

from analysis import figures
from analysis.response_state import N_BOOTSTRAP, ResponseStateResult
from dashboard import background, calls, compute
from dashboard.calls import Call
from dashboard.components import (
    Report,
    page_guard,
    report_download,
    require_data,
    settings_definitions,
    show_figure,
    show_table,
)
from dashboard.context import current
from dashboard.security import md

# fit_durability's `estimator` column -> words; the clock is origin="auto" (the library default)
_ESTIMATORS = {"weibull": "interval-censored Weibull model", "loglogistic": "interval-censored log-logistic model",
               "lognormal": "interval-censored log-normal model", "turnbull": "Turnbull estimate (interval-censored)",
               "aalen_johansen": "cumulative incidence (competing risks)",
               "none": "no estimate"}
_CLOCK = "from response after one infusion, from the last induction infusion after a series"

ctx = current()
st.title("Overview")
st.caption("Headline figures for the patients kept by the filters, each with its 95% confidence "
           "interval. The definitions used are listed below.")
require_data(ctx)
report = Report("Overview", ctx)
settings = ctx.settings
options = settings.endpoint_options()


def _pct(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.0f}%"


def _card(label: str, value: str, detail: str) -> None:
    with st.container(border=True):
        st.markdown(f"**{label}**")  # a metric's own label is cut at the card's width (800 px); this wraps
        st.metric(label, value, label_visibility="collapsed")
        st.caption(detail)


def _num(value: float, unit: str) -> str:
    return "not reached" if value is None or math.isnan(float(value)) else f"{float(value):.1f} {unit}"


def _limit(value: float, unit: str) -> str:
    """A confidence limit: NaN means the data do not bound it (the reason is in the note)."""
    return "not estimated" if _missing(value) else f"{float(value):.1f} {unit}"


def _missing(value: float) -> bool:
    return value is None or math.isnan(float(value))


def _why(note: str, *words: str) -> str:
    """The parts of a summary row's ``note`` (the library's reasons, "; "-joined) that concern an
    estimate left out (NaN): those naming one of ``words``, else the whole note."""
    parts = [p for p in str(note or "").split("; ") if p]
    chosen = [p for p in parts if any(w in p for w in words)]
    return md("; ".join(chosen or parts) or "the data do not support this estimate", 600)


def _value(value: float, text: str, note: str, *words: str) -> tuple[str, str]:
    """(card value, reason): the number, or "not reached" / "not estimated" with the library's reason."""
    if not _missing(value):
        return text, ""
    reason = _why(note, *words)
    return ("not reached" if "not reached" in reason else "not estimated"), reason


rows = []
# the library default origin="auto" for durability (see _CLOCK)
endpoints_call = Call("derive_endpoints", options, prints=("summary()",), name="endpoints")
rates_call = Call("responder_rates", {"time": "any", **options}, name="rates")
onset_call = Call("fit_onset", options, name="onset")
durability_call = Call("fit_durability", options, name="durability")
state_call = Call("fit_response_state", options, name="state", prints=("summary()",))
estimate_call = Call("fit_response_state", {**options, "n_bootstrap": 0}, name="state")
with page_guard("the headline figures"):
    endpoints = calls.run(ctx, endpoints_call, "Deriving endpoints...", report)
    n = len(endpoints.patients)
    small = n < settings.min_cell_size
    with st.container(horizontal=True):
        _card("Patients with a baseline", f"{n:,}",
              f"{len(endpoints.excluded)} without a baseline rating excluded")
        if small:
            st.warning(f"Fewer than {settings.min_cell_size} patients: figures are suppressed.")
        else:
            rates = calls.run(ctx, rates_call, "Counting responders...", report).table.set_index("outcome")
            for label, outcome in (("Responded", "response"), ("Remitted", "remission")):
                if outcome not in rates.index:
                    continue
                rate = rates.loc[outcome]
                k, n_rated = int(rate["count"]), int(rate["n"])
                _card(label, _pct(rate["proportion"]),
                      f"{k} of {n_rated}; 95% CI {_pct(rate['lower'])} to {_pct(rate['upper'])} (Wilson)")
                rows.append({"measure": f"{label} (any time)", "estimate": rate["proportion"],
                             "lower": rate["lower"], "upper": rate["upper"], "n": n_rated,
                             "unit": "proportion"})

    if not small:
        onset = calls.run(ctx, onset_call, "Fitting onset...", report).summary().iloc[0]
        with st.container(horizontal=True):
            shown, why = _value(onset["response_probability"], _pct(onset["response_probability"]),
                                onset["note"], "cure model", "response probability", "cure fraction")
            _card("Ever respond (mixture-cure model)", shown, why or
                  f"95% CI {_pct(onset['response_probability_lower'])} to "
                  f"{_pct(onset['response_probability_upper'])}")
            shown, why = _value(onset["median_onset_hours"], _num(onset["median_onset_hours"], "h"),
                                onset["note"], "median", "cure model")
            _card("Median onset among responders", shown, why or
                  f"95% CI {_num(onset['median_onset_hours_lower'], 'h')} to "
                  f"{_num(onset['median_onset_hours_upper'], 'h')}; hours since the infusion")
        rows.append({"measure": "Response probability (mixture-cure model)",
                     "estimate": onset["response_probability"],
                     "lower": onset["response_probability_lower"],
                     "upper": onset["response_probability_upper"], "n": onset["n"], "unit": "proportion"})
        rows.append({"measure": "Median onset among responders", "estimate": onset["median_onset_hours"],
                     "lower": onset["median_onset_hours_lower"], "upper": onset["median_onset_hours_upper"],
                     "n": onset["responders"], "unit": "hours since the infusion"})

        # on a large dataset the interval-censored durability fit (a second at 20,000 patients) is computed
        # in the background: the cards say so until it is ready and the page is drawn again
        durability = background.fetch(ctx, durability_call, "Fitting durability...", report)
        if isinstance(durability, background.Progress):
            with st.container(horizontal=True):
                for label in ("Median durability", "Still responding at 28 days"):
                    _card(label, "computing...", "the interval-censored durability fit is running")
            background.progress_note(durability.key, "Durability fit")
        else:
            durability = durability.summary().iloc[0]
            estimator = _ESTIMATORS.get(str(durability["estimator"]), str(durability["estimator"]))
            with st.container(horizontal=True):
                shown, why = _value(durability["median_days"], _num(durability["median_days"], "days"),
                                    durability["note"], "median")
                limits = "; ".join(dict.fromkeys(_why(durability["note"], "confidence limit")
                                                 for limit in ("median_days_lower", "median_days_upper")
                                                 if not why and _missing(durability[limit])))
                _card("Median durability", shown, why or
                      f"95% CI {_limit(durability['median_days_lower'], 'days')} to "
                      f"{_limit(durability['median_days_upper'], 'days')}; {_CLOCK}; {estimator}"
                      + (f" ({limits})" if limits else ""))
                shown, why = _value(durability["sustained_28d"], _pct(durability["sustained_28d"]),
                                    durability["note"], "sustained", "follow-up")
                _card("Still responding at 28 days", shown, why or
                      f"95% CI {_pct(durability['sustained_28d_lower'])} to "
                      f"{_pct(durability['sustained_28d_upper'])}; {estimator}, among responders")
            rows.append({"measure": "Median time to relapse", "estimate": durability["median_days"],
                         "lower": durability["median_days_lower"], "upper": durability["median_days_upper"],
                         "n": durability["n_responders"], "unit": f"days, {_CLOCK}"})
            rows.append({"measure": "Median time to relapse, Kaplan-Meier at the detection visit (papers' convention)",
                         "estimate": durability["km_median_days"], "lower": durability["km_median_days_lower"],
                         "upper": durability["km_median_days_upper"], "n": durability["n_responders"],
                         "unit": f"days, {_CLOCK}"})

        # the bootstrap band (200 refits of two NPMLEs: half a minute at 20,000 patients) is computed in
        # the background; until then the curve and its points are drawn from the same estimates alone
        state = background.result_or_progress(ctx, state_call, report, start=False)
        state_notes = ["Among all treated patients (responders or not): the share who have responded and not yet "
                       "relapsed, by day since the first infusion (Turnbull estimates of onset and relapse, 95% "
                       "bootstrap band); points: days 1, 7, 14 and 28. The curve ends where fewer than 10% are "
                       "still followed."]
        if isinstance(state, ResponseStateResult):
            figure = compute.cached_figure(ctx, "response_state", figures.response_state_figure, state, key=(),
                                           definitions=list(state.notes))
            show_figure(report, figure, "Patients in response day by day", notes=state_notes)
        else:
            # the estimate alone (no band) first: on a large dataset in the background too
            estimate = background.fetch(ctx, estimate_call, "Estimating who is in response day by day...")
            if isinstance(estimate, background.Progress):
                st.markdown("**Patients in response day by day**")
                background.progress_note(estimate.key, "Probability in response")
            else:
                total = int(state_call.arguments.get("n_bootstrap", N_BOOTSTRAP)) * len(estimate.levels)
                waiting = (f"95% bootstrap band: still being computed ({total} replicates) when this figure "
                           "was drawn, so it is not shown; the curve and the points are the final estimates.")
                figure = compute.cached_figure(ctx, "response_state", figures.response_state_figure, estimate,
                                               key=("band pending",), definitions=[*estimate.notes, waiting])
                show_figure(report, figure, "Patients in response day by day", notes=[*state_notes, waiting])
                # started once the figure is drawn: the job's first steps hold the compute slot
                band = background.result_or_progress(ctx, state_call)
                if isinstance(band, background.Progress):
                    background.progress_note(band.key, "95% band", "bootstrap replicates", total)
                else:
                    st.rerun()  # it was finished in the meantime: draw it

    if rows:
        table = pd.DataFrame(rows)
        show_table(report, table, "Headline figures", count_column="n", keep_columns=["measure", "unit"])
    definitions = settings_definitions(ctx, endpoints)
    report.definitions = definitions
    st.subheader("Definitions used")
    for line in definitions:
        st.markdown(f"- {md(line, 1000)}")
    calls.code_expander(ctx, *(c for c in (endpoints_call, rates_call, onset_call, durability_call, state_call)
                               if c is endpoints_call or not small))
report_download(report)
