"""Data: choose the sample, a simulated dataset or an upload; validation report, warnings,
data dictionary, cohort summary and Table 1."""

import re

import streamlit as st

from analysis.contract import DataError
from dashboard import calls, compute
from dashboard.calls import Call
from dashboard.components import (
    Report,
    page_guard,
    report_download,
    show_table,
)
from dashboard.context import current
from dashboard.dictionary import show_data_dictionary
from dashboard.mapping_ui import collect_checked, reading_step, show_problems, show_warnings
from dashboard.state import return_to_link_page, set_dataset
from dashboard.templates import MIME as TEMPLATE_MIME
from dashboard.templates import template_bytes
from dashboard.workspace import session as workspace

ctx = current()
dataset = ctx.settings.dataset
report = Report("Data", ctx)
st.title("Data")
st.caption("De-identified data only: pseudonymous ids and times relative to the first infusion. "
           "Files with names, dates of birth, addresses, phone numbers or record numbers are refused.")

# Formats the loader reads (by content, not by extension), and zip archives of them.
FILE_TYPES = ["csv", "tsv", "txt", "xlsx", "xlsm", "parquet", "pq", "xpt", "sas7bdat", "sav", "dta", "rds", "rdata",
              "rda", "zip"]
TEMPLATES = (("long", "csv", "Long CSV"), ("long", "xlsx", "Long Excel"), ("wide", "csv", "Wide CSV"),
             ("wide", "xlsx", "Wide Excel"))


def _use(data: object, name: str = "upload") -> None:
    """The Load button: store the dataset in the workspace (or, when it cannot be, keep it in this
    session) and switch the view to it."""
    set_dataset(workspace.store_upload(data, name) or compute.register_upload(data))


def _templates() -> None:
    st.markdown("**Templates**")
    st.caption("Simulated example files in the two layouts the loader reads without a mapping: long (one "
               "row per rating) and wide (one row per patient, one column per time point).")
    for layout, file_format, label in TEMPLATES:
        st.download_button(label, data=lambda layout=layout, file_format=file_format:
                           template_bytes(layout, file_format),
                           file_name=f"infusion_outcomes_{layout}_template.{file_format}",
                           mime=TEMPLATE_MIME[file_format], on_click="ignore", icon=":material/download:",
                           key=f"template_{layout}_{file_format}", width="stretch")


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
            n = st.selectbox("Patients", compute.SIMULATED_SIZES, index=compute.SIMULATED_SIZES.index(1000),
                             key="sim_n", help="The sizes this server simulates (a bound on what links can cost).")
            seed = st.number_input("Seed", min_value=0, max_value=compute.MAX_SEED, value=0, step=1, key="sim_seed")
            target = f"simulated-{int(n)}-{int(seed)}"
            st.button("Simulate", on_click=set_dataset, args=(target,), icon=":material/casino:",
                      disabled=target == dataset)
        st.caption("Simulated with analysis.simulate (known true parameters); useful to see how the "
                   "methods behave.")
    else:
        expected = dataset.removeprefix("upload-") if dataset.startswith("upload-") else None
        if expected is not None and not re.fullmatch(r"[0-9a-f]{16}", expected):
            expected = None  # not a fingerprint (the sidebar says so): never echoed into markdown
        if expected and ctx.full is None:
            st.warning(f"This link refers to an uploaded dataset with fingerprint {expected}. "
                       "Upload the same file(s) to open the shared view.", icon=":material/link:")
        upload_column, template_column = st.columns([2, 1])
        with upload_column:
            uploaded = st.file_uploader(
                "Your data: one file, several files or a zipped folder", type=FILE_TYPES,
                accept_multiple_files=True, key="upload_files",
                help="CSV, TSV, Excel, Parquet, SAS (.xpt, .sas7bdat), SPSS (.sav), Stata (.dta) or a zip "
                     "of them: a long or wide export, the three tables (assessments, infusions, patients), "
                     "CDISC datasets or a REDCap export with its data dictionary.")
            saved_mapping = st.file_uploader(
                "A saved mapping (optional)", type=["json"], key="upload_mapping",
                help="The mapping.json downloaded from this page with an earlier export: the same reading "
                     "is applied to this one.")
        with template_column:
            _templates()
        upload = None
        if uploaded:
            try:
                upload = collect_checked(uploaded)
            except DataError as error:
                show_problems(error, "upload_problems")
        if upload is not None:
            result = reading_step(upload, saved_mapping.getvalue() if saved_mapping is not None else None)
            if result is not None:
                fingerprint = result.fingerprint
                if expected and ctx.full is None and fingerprint != expected:
                    st.error(f"This file does not match the link: its fingerprint is {fingerprint}, "
                             f"the link expects {expected}.", icon=":material/error:")
                    st.button("Use this file instead", on_click=_use, args=(result,))
                elif expected == fingerprint:
                    if ctx.full is None:
                        compute.register_upload(result)
                        return_to_link_page()  # the page the link named, with its settings
                    st.success(f"Using your file (fingerprint {fingerprint}).", icon=":material/check_circle:")
                else:
                    st.success(f"The file is valid: {result.n_patients} patients.",
                               icon=":material/check_circle:")
                    st.button("Load", on_click=_use, args=(result, ", ".join(upload.names)[:200]), type="primary",
                              icon=":material/upload:",
                              key="load_upload", help="Use this dataset on every page.")

if ctx.data is not None and ctx.full is not None:
    with page_guard("the cohort summary"):
        data = ctx.data
        st.subheader("Cohort")
        with st.container(horizontal=True):
            st.metric("Patients kept", f"{compute.patient_count(ctx.settings, data):,}", border=True,
                      help=f"of {compute.patient_count(ctx.settings, ctx.full, filtered=False):,} in the dataset")
            st.metric("Ratings", f"{len(data.assessments):,}", border=True)
            st.metric("Infusions", f"{len(data.infusions):,}", border=True)
            # a scan of every rating (a tenth of a second at 20,000 patients): once per dataset and filters
            instruments = compute.call(ctx, "instruments", "Listing the instruments...", lambda: data.instruments,
                                       key="instruments")
            st.metric("Instruments", ", ".join(map(str, instruments)) or "none", border=True)
        st.caption(f"Dataset fingerprint {ctx.full.fingerprint} (SHA-256 of the content: identifies "
                   "the data without revealing it).")
        show_warnings(ctx.full, "**Warnings from validation** (nothing was dropped silently)")
        by_instrument = compute.call(ctx, "summary", "Counting ratings...", lambda: data.summary().reset_index(),
                                     key="ratings_by_instrument")  # a pass over every rating: once
        show_table(report, by_instrument, "Ratings by instrument",
                   note="First and last rating: hours since the first infusion (negative: before it).")

    # computed only when opened (and remembered in the link): keeps the first page quick
    table1 = st.expander("Table 1: baseline characteristics", key="table1", on_change="rerun",
                         bind="query-params", icon=":material/table_view:")
    with table1, page_guard("Table 1"):
        if not table1.open:
            st.caption("Open to compute Table 1 for the patients kept, by the sidebar's grouping.")
        else:
            by = ctx.settings.by
            instrument = ctx.settings.instrument
            table_one = Call("table_one", {"by": by, "instrument": instrument})
            table = calls.run(ctx, table_one, "Building Table 1...", report)
            display = table.summary()
            sizes = table.group_sizes
            small = [str(g) for g, n in sizes.items() if 0 < n < ctx.settings.min_cell_size]
            keep = [c for c in display.columns if not any(str(c).startswith(f"{g} (") for g in small)]
            show_table(report, display[keep], "Table 1",
                       note=" ".join(table.describe()[:3])
                       + (f" Columns of groups with fewer than {ctx.settings.min_cell_size} patients are "
                          f"suppressed: {', '.join(small)}." if small else ""))
            calls.code_expander(ctx, table_one)

with st.expander("Data dictionary", icon=":material/menu_book:"):
    show_data_dictionary()
    st.caption("Generated from the loader's contract (analysis.contract.CONTRACT). Times are relative to the "
               "start of the first infusion. The single-file form holds the assessment columns with patient "
               "and infusion columns repeated on every row; a wide file has one row per patient.")

if ctx.data is not None:
    report_download(report)
