"""Data: choose the sample, a simulated dataset or an upload; validation report, warnings,
data dictionary, cohort summary and Table 1."""

import hashlib

import pandas as pd
import streamlit as st

import analysis
from analysis.contract import DataError
from dashboard import compute
from dashboard.components import (
    Report,
    code_expander,
    page_guard,
    python_snippet,
    report_download,
    show_table,
)
from dashboard.context import current
from dashboard.dictionary import data_dictionary
from dashboard.state import set_dataset

ctx = current()
dataset = ctx.settings.dataset
report = Report("Data", ctx)
st.title("Data")
st.caption("De-identified data only: pseudonymous ids and times relative to the first infusion. "
           "Files with names, dates of birth, addresses, phone numbers or record numbers are refused.")

FILE_TYPES = ["csv", "tsv", "txt", "xlsx", "parquet"]


def _validated(files: dict[str, object]) -> object:
    """Load uploaded files once per content (per session); returns OutcomeData or DataError."""
    digest = hashlib.sha256()
    for role, file in files.items():
        digest.update(role.encode())
        digest.update(file.getvalue())
    key = digest.hexdigest()
    cache = st.session_state.setdefault("_validated_uploads", {})
    if key not in cache:
        try:
            with st.spinner("Checking the file(s)...", show_time=True):
                if "single" in files:
                    cache[key] = analysis.load(files["single"])
                else:
                    cache[key] = analysis.load(**files)
        except DataError as error:
            cache[key] = error
        while len(cache) > 4:
            cache.pop(next(iter(cache)))
    return cache[key]


with page_guard("the dataset choice"):
    default_source = ("Upload" if dataset.startswith("upload-") else
                      "Simulated" if dataset.startswith("simulated-") else "Sample")
    source = st.segmented_control("Dataset", ["Sample", "Simulated", "Upload"], default=default_source,
                                  key="data_source", required=True)
    if source == "Sample":
        if dataset != "sample":
            st.button("Use the bundled sample", on_click=set_dataset, args=("sample",),
                      icon=":material/dataset:")
        else:
            st.success("Showing the bundled sample: a few hundred simulated patients "
                       "(see data/sample/README.md).", icon=":material/check_circle:")
    elif source == "Simulated":
        with st.container(horizontal=True, vertical_alignment="bottom"):
            n = st.number_input("Patients", min_value=20, max_value=compute.MAX_SIMULATED, value=1000,
                                step=100, key="sim_n")
            seed = st.number_input("Seed", min_value=0, max_value=10**9, value=0, step=1, key="sim_seed")
            target = f"simulated-{int(n)}-{int(seed)}"
            st.button("Simulate", on_click=set_dataset, args=(target,), icon=":material/casino:",
                      disabled=target == dataset)
        st.caption("Simulated with analysis.simulate (known true parameters); useful to see how the "
                   "methods behave.")
    else:
        expected = dataset.removeprefix("upload-") if dataset.startswith("upload-") else None
        if expected and ctx.full is None:
            st.warning(f"This link refers to an uploaded dataset with fingerprint {expected}. "
                       "Upload the same file(s) to open the shared view.", icon=":material/link:")
        form = st.radio("Form", ["One file", "Three tables"], horizontal=True, key="upload_form",
                        help="One file: assessment rows with patient and infusion columns repeated. "
                             "Three tables: assessments (required), infusions and patients.")
        files: dict[str, object] = {}
        if form == "One file":
            single = st.file_uploader("Data file (CSV, TSV, Excel, Parquet)", type=FILE_TYPES,
                                      key="upload_single")
            if single is not None:
                files["single"] = single
        else:
            for role in ("assessments", "infusions", "patients"):
                upload = st.file_uploader(f"{role.capitalize()} table", type=FILE_TYPES, key=f"upload_{role}")
                if upload is not None:
                    files[role] = upload
            if files and "assessments" not in files:
                st.info("The assessments table is required.", icon=":material/info:")
                files = {}
        if files:
            result = _validated(files)
            if isinstance(result, DataError):
                st.error(result.headline, icon=":material/error:", title="The file was not loaded")
                st.dataframe(result.problems, hide_index=True, alt="Problems found in the file",
                             key="upload_problems")
                st.caption("Each row is one problem: the table, the row as numbered in your file "
                           "(1 = first data row), the column, the value and what is wrong. Fix them "
                           "and upload again; the app keeps working with the current dataset.")
            else:
                fingerprint = result.fingerprint
                if expected and ctx.full is None and fingerprint != expected:
                    st.error(f"This file does not match the link: its fingerprint is {fingerprint}, "
                             f"the link expects {expected}.", icon=":material/error:")
                    compute.register_upload(result)
                    st.button("Use this file instead", on_click=set_dataset,
                              args=(f"upload-{fingerprint}",))
                elif expected == fingerprint:
                    if ctx.full is None:
                        compute.register_upload(result)
                        st.rerun()
                    st.success(f"Using your file (fingerprint {fingerprint}).", icon=":material/check_circle:")
                else:
                    compute.register_upload(result)
                    st.success(f"The file is valid: {result.n_patients} patients.",
                               icon=":material/check_circle:")
                    st.button("Use this dataset", on_click=set_dataset, args=(f"upload-{fingerprint}",),
                              type="primary")

if ctx.data is not None and ctx.full is not None:
    with page_guard("the cohort summary"):
        data = ctx.data
        st.subheader("Cohort")
        with st.container(horizontal=True):
            st.metric("Patients kept", f"{data.n_patients:,}", border=True,
                      help=f"of {ctx.full.n_patients:,} in the dataset")
            st.metric("Ratings", f"{len(data.assessments):,}", border=True)
            st.metric("Infusions", f"{len(data.infusions):,}", border=True)
            st.metric("Instruments", ", ".join(map(str, data.instruments)) or "none", border=True)
        st.caption(f"Dataset fingerprint {ctx.full.fingerprint} (SHA-256 of the content: identifies "
                   "the data without revealing it).")
        if ctx.full.warnings:
            st.markdown("**Warnings from validation** (nothing was dropped silently)")
            warnings = pd.DataFrame([{"finding": w.message, "count": w.count, "table": w.table}
                                     for w in ctx.full.warnings])
            st.dataframe(warnings, hide_index=True, alt="Validation warnings", key="warnings_table")
        show_table(report, data.summary().reset_index(), "Ratings by instrument",
                   note="first_time_hours/last_time_hours: hours since the first infusion.")

    # computed only when opened (and remembered in the link): keeps the first page quick
    table1 = st.expander("Table 1: baseline characteristics", key="table1", on_change="rerun",
                         bind="query-params", icon=":material/table_view:")
    with table1, page_guard("Table 1"):
        if not table1.open:
            st.caption("Open to compute Table 1 for the patients kept, by the sidebar's grouping.")
        else:
            by = ctx.settings.by
            instrument = ctx.settings.instrument
            table = compute.run(ctx, "table_one", "Building Table 1...", by=by, instrument=instrument)
            display = table.summary()
            sizes = table.group_sizes
            small = [str(g) for g, n in sizes.items() if 0 < n < ctx.settings.min_cell_size]
            keep = [c for c in display.columns if not any(str(c).startswith(f"{g} (") for g in small)]
            show_table(report, display[keep], "Table 1",
                       note=" ".join(table.describe()[:3])
                       + (f" Columns of groups with fewer than {ctx.settings.min_cell_size} patients are "
                          f"suppressed: {', '.join(small)}." if small else ""))
            code_expander(python_snippet(ctx, "table_one", {"by": by, "instrument": instrument},
                                         ("print(result.summary())",)), "table_one")

with st.expander("Data dictionary", icon=":material/menu_book:"):
    st.dataframe(data_dictionary(), hide_index=True, alt="Data dictionary", key="dictionary")
    st.caption("Times are relative to the start of the first infusion. The single-file form holds "
               "the assessment columns with patient and infusion columns repeated on every row.")

if ctx.data is not None:
    report_download(report)
