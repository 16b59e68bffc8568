r"""CDISC SDTM/ADaM reading (analysis.cdisc) on the CDISC Pilot 01 files and on synthetic SDTM.

Reference for the real files: R 4.2.2 (foreign 0.8, survival 3.5, nlme 3.1, emmeans 1.8) on
``../shared/realdata/cdisc-pilot01/*.xpt`` read with ``foreign::read.xport``; script ``R_SCRIPT``
run with ``Rscript ref.R``, its printed output pasted in ``R_OUTPUT`` and the numbers below.
The Python side goes through the whole reading: read -> to_long -> analysis.load (or
read_adtte) -> kaplan_meier / cox / mmrm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import analysis
from analysis import cdisc
from analysis import instruments as instrument_registry
from analysis.contract import DataError

PILOT = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "cdisc-pilot01"
needs_pilot = pytest.mark.skipif(not (PILOT / "adtte.xpt").exists(),
                                 reason=f"CDISC pilot files not found in {PILOT} (../shared/realdata)")

R_SCRIPT = r"""
library(foreign); library(survival); library(nlme); library(emmeans)
options(digits = 10)
d <- "/work/shared/realdata/cdisc-pilot01/"
tte <- read.xport(paste0(d, "adtte.xpt"))
tte$event <- 1 - tte$CNSR
tte$TRTP <- factor(tte$TRTP, levels = c("Placebo", "Xanomeline High Dose", "Xanomeline Low Dose"))
km <- survfit(Surv(AVAL, event) ~ TRTP, data = tte)
print(summary(km)$table[, c("records", "events", "median", "0.95LCL", "0.95UCL")])
km_ll <- survfit(Surv(AVAL, event) ~ TRTP, data = tte, conf.type = "log-log")
print(summary(km_ll)$table[, c("median", "0.95LCL", "0.95UCL")])
fit <- coxph(Surv(AVAL, event) ~ TRTP + AGE + SEX, data = tte, ties = "efron")
print(summary(fit)$coefficients)
print(summary(fit)$conf.int)
ci <- read.xport(paste0(d, "adcibc.xpt"))
ci <- ci[ci$DTYPE == "" & ci$ANL01FL == "Y", ]
cat("rows", nrow(ci), "subjects", length(unique(ci$USUBJID)), "\n")
ci$AVISIT <- factor(ci$AVISIT, levels = c("Week 8", "Week 16", "Week 24"))
ci$TRTP <- factor(ci$TRTP, levels = c("Placebo", "Xanomeline High Dose", "Xanomeline Low Dose"))
ci$idx <- as.integer(ci$AVISIT)
ctl <- glsControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 500, msMaxIter = 500)
m <- gls(AVAL ~ TRTP * AVISIT, data = ci, correlation = corSymm(form = ~ idx | USUBJID),
         weights = varIdent(form = ~ 1 | AVISIT), method = "REML", control = ctl)
cat("minus2:", -2 * as.numeric(logLik(m)), "\n")
em <- emmeans(m, ~ TRTP | AVISIT, mode = "satterthwaite")
print(as.data.frame(em), digits = 10)
print(as.data.frame(contrast(em, "trt.vs.ctrl")), digits = 10)
"""

R_OUTPUT = r"""
                          records events median 0.95LCL 0.95UCL
TRTP=Placebo                   86     29     NA      NA      NA
TRTP=Xanomeline High Dose      84     61     36      25      47
TRTP=Xanomeline Low Dose       84     62     33      28      51
                          median 0.95LCL 0.95UCL
TRTP=Placebo                  NA      NA      NA
TRTP=Xanomeline High Dose     36      23      46
TRTP=Xanomeline Low Dose      33      27      48
                                   coef   exp(coef)       se(coef)            z
TRTPXanomeline High Dose  1.63489893598 5.128939620 0.234822832937  6.962265618
TRTPXanomeline Low Dose   1.49828066096 4.473990148 0.232527643413  6.443451793
AGE                      -0.01481684023 0.985292389 0.009469696714 -1.564658371
SEXM                      0.38102602915 1.463785706 0.165127071684  2.307471605
                           exp(coef)   exp(-coef)   lower .95   upper .95
TRTPXanomeline High Dose 5.128939620 0.1949720750 3.237024814 8.126604871
TRTPXanomeline Low Dose  4.473990148 0.2235141265 2.836397765 7.057045415
AGE                      0.985292389 1.0149271538 0.967173765 1.003750440
SEXM                     1.463785706 0.6831601073 1.059061264 2.023177191
rows 537 subjects 236
minus2: 1186.944359
AVISIT = Week 8:
 TRTP                      emmean            SE     df    lower.CL    upper.CL
 Placebo              3.912103151 0.08240613242 230.57 3.749737863 4.074468440
 Xanomeline High Dose 4.094508048 0.08470794597 229.75 3.927604322 4.261411775
 Xanomeline Low Dose  3.950617284 0.08103978055 229.07 3.790938584 4.110295984
AVISIT = Week 16:
 Placebo              4.224102536 0.09115950167 157.85 4.044052775 4.404152297
 Xanomeline High Dose 4.017899228 0.11437954837 164.05 3.792053343 4.243745113
 Xanomeline Low Dose  4.039512731 0.11227825726 165.49 3.817830293 4.261195169
AVISIT = Week 24:
 Placebo              4.312978803 0.09833480743 156.83 4.118747305 4.507210302
 Xanomeline High Dose 4.597707265 0.12294322938 165.59 4.354968916 4.840445614
 Xanomeline Low Dose  4.275022513 0.11396085328 164.43 4.050007236 4.500037790
 contrast                             estimate           SE     df
 Week 8  Xanomeline High Dose - Placebo  0.18240489690 0.1181787069 230.15
 Week 8  Xanomeline Low Dose - Placebo   0.03851413246 0.1155777517 229.84
 Week 16 Xanomeline High Dose - Placebo -0.20620330768 0.1462625579 162.45
 Week 16 Xanomeline Low Dose - Placebo  -0.18458980440 0.1446252461 163.55
 Week 24 Xanomeline High Dose - Placebo  0.28472846141 0.1574318011 163.05
 Week 24 Xanomeline Low Dose - Placebo  -0.03795629041 0.1505217939 161.81
"""

ARMS = ["Placebo", "Xanomeline High Dose", "Xanomeline Low Dose"]
R_KM_LOG = {"Xanomeline High Dose": (36, 25, 47), "Xanomeline Low Dose": (33, 28, 51)}
R_KM_LOGLOG = {"Xanomeline High Dose": (36, 23, 46), "Xanomeline Low Dose": (33, 27, 48)}
R_COX = {  # term: (coef, se, hr_lower, hr_upper)
    "treatment[Xanomeline High Dose]": (1.63489893598, 0.234822832937, 3.237024814, 8.126604871),
    "treatment[Xanomeline Low Dose]": (1.49828066096, 0.232527643413, 2.836397765, 7.057045415),
    "age": (-0.01481684023, 0.009469696714, 0.967173765, 1.003750440),
    "sex[M]": (0.38102602915, 0.165127071684, 1.059061264, 2.023177191),
}
R_LSMEANS = {  # (visit, arm): (emmean, SE, df)
    ("Week 8", ARMS[0]): (3.912103151, 0.08240613242, 230.57),
    ("Week 8", ARMS[1]): (4.094508048, 0.08470794597, 229.75),
    ("Week 8", ARMS[2]): (3.950617284, 0.08103978055, 229.07),
    ("Week 16", ARMS[0]): (4.224102536, 0.09115950167, 157.85),
    ("Week 16", ARMS[1]): (4.017899228, 0.11437954837, 164.05),
    ("Week 16", ARMS[2]): (4.039512731, 0.11227825726, 165.49),
    ("Week 24", ARMS[0]): (4.312978803, 0.09833480743, 156.83),
    ("Week 24", ARMS[1]): (4.597707265, 0.12294322938, 165.59),
    ("Week 24", ARMS[2]): (4.275022513, 0.11396085328, 164.43),
}
R_DIFFERENCES = {
    ("Week 8", ARMS[1]): (0.18240489690, 0.1181787069), ("Week 8", ARMS[2]): (0.03851413246, 0.1155777517),
    ("Week 16", ARMS[1]): (-0.20620330768, 0.1462625579), ("Week 16", ARMS[2]): (-0.18458980440, 0.1446252461),
    ("Week 24", ARMS[1]): (0.28472846141, 0.1574318011), ("Week 24", ARMS[2]): (-0.03795629041, 0.1505217939),
}


# --------------------------------------------------------------------------------------------
# The real CDISC pilot files


@needs_pilot
def test_adtte_kaplan_meier_medians_and_cox_match_r():
    tte = analysis.read_adtte(PILOT / "adtte.xpt")
    assert tte.attrs["time_column"] == "time_days"
    assert len(tte) == 254 and tte["patient_id"].nunique() == 254
    assert int(tte["event"].sum()) == 152  # 1 - CNSR; R: 29 + 61 + 62 events
    for arm, (median, lower, upper) in R_KM_LOG.items():
        sub = tte[tte["treatment"] == arm]
        km = analysis.kaplan_meier(sub["time_days"], sub["event"], ci="log")
        assert (km.median, *km.median_ci) == (median, lower, upper)
        km = analysis.kaplan_meier(sub["time_days"], sub["event"], ci="log-log")
        assert (km.median, *km.median_ci) == R_KM_LOGLOG[arm]
    placebo = tte[tte["treatment"] == "Placebo"]
    assert np.isnan(analysis.kaplan_meier(placebo["time_days"], placebo["event"]).median)  # R: NA
    fit = analysis.cox(tte, "time_days", "event", ["treatment", "age", "sex"])
    for term, (coef, se, lower, upper) in R_COX.items():
        row = fit.table.loc[term]
        assert_allclose([row["coef"], row["se"], row["hr_lower"], row["hr_upper"]], [coef, se, lower, upper],
                        rtol=1e-6)


@needs_pilot
def test_adtte_reads_the_unit_and_refuses_bad_censoring():
    tte = analysis.read_adtte(PILOT / "adtte.xpt", time_unit="weeks")
    assert "time_weeks" in tte.columns and any("time_unit='weeks'" in n for n in tte.attrs["notes"])
    frame = cdisc.read_dataset(PILOT / "adtte.xpt")
    frame.loc[3, "CNSR"] = 2
    with pytest.raises(DataError, match="CNSR must be 0"):
        analysis.read_adtte(frame)
    assert not any(str(c).endswith("DT") for c in tte.columns)  # dates are not passed on


@needs_pilot
def test_adcibc_reads_usubjid_avisit_and_leaves_out_locf():
    frames = cdisc.read(PILOT)
    assert set(frames) == {"ADSL", "ADTTE", "ADCIBC"}
    assert frames["ADCIBC"].attrs["labels"]["AVISIT"] == "Analysis Visit"
    long_frame, notes = cdisc.to_long(frames)
    raw = frames["ADCIBC"]
    observed = raw[(raw["DTYPE"].str.strip() == "") & (raw["ANL01FL"] == "Y")]
    assert len(long_frame) == len(observed) == 537
    assert long_frame["patient_id"].nunique() == observed["USUBJID"].nunique() == 236  # never STUDYID (1 value)
    assert set(long_frame["visit"]) == {"Week 8", "Week 16", "Week 24"}  # AVISIT, not VISIT ("WEEK 12", ...)
    assert set(long_frame["instrument"]) == {"CIBIC+"}
    expected_hours = np.sort(np.where(observed["ADY"] >= 1, (observed["ADY"] - 1) * 24, observed["ADY"] * 24))
    assert_allclose(np.sort(long_frame["time_hours"]), expected_hours)
    assert any("168 derived record(s) (DTYPE LOCF) left out" in n for n in notes)
    assert any("AVISIT (preferred over VISIT)" in n for n in notes)
    assert not [c for c in long_frame.columns if c.endswith(("DT", "DTC"))]
    kept, _ = cdisc.to_long(frames, {"record_filters": ()})
    assert len(kept) == len(raw) == 730


@needs_pilot
def test_adcibc_mmrm_ls_means_match_r_emmeans():
    frames = cdisc.read(PILOT)
    mapping = cdisc.suggest(frames)
    assert mapping.layout == "cdisc" and mapping.columns["patient_id"] == "USUBJID"
    assert mapping.columns["visit"] == "AVISIT"
    assert analysis.Mapping.from_json(mapping.to_json()) == mapping
    long_frame, _ = cdisc.to_long(frames, mapping)
    data = analysis.load(long_frame)
    assert data.n_patients == 236
    ratings = data.assessments.merge(data.patients[["patient_id", "treatment"]], on="patient_id")
    ratings["visit"] = pd.Categorical(ratings["visit"], categories=["Week 8", "Week 16", "Week 24"])
    ratings["treatment"] = ratings["treatment"].astype(str)
    fit = analysis.mmrm(ratings, "score ~ C(treatment) * C(visit)", subject="patient_id", visit="visit")
    assert_allclose(fit.minus2_loglik, 1186.944359, rtol=1e-8)
    means = fit.lsmeans(group="treatment").set_index(["visit", "treatment"])
    for key, (estimate, se, df) in R_LSMEANS.items():
        # estimates to 2e-6 points; standard errors to 1e-4 (both optimisers stop near 1e-6 in the covariance)
        assert_allclose(means.loc[key, "estimate"], estimate, rtol=1e-6)
        assert_allclose(means.loc[key, "se"], se, rtol=1e-4)
        assert_allclose(means.loc[key, "df"], df, rtol=0.02)  # emmeans: approximate Satterthwaite
    differences = fit.lsmean_differences("treatment").set_index(["visit", "treatment"])
    for key, (estimate, se) in R_DIFFERENCES.items():
        assert_allclose(differences.loc[key, "estimate"], estimate, atol=2e-6)
        assert_allclose(differences.loc[key, "se"], se, rtol=1e-4)


# --------------------------------------------------------------------------------------------
# Synthetic SDTM: QS (MADRS), RS (HAM-D17), DM, EX written as XPT


MADRS_ITEMS = [f"MADRS1{i:02d}" for i in range(1, 11)]
HAMD_ITEMS = [f"HAMD1{i:02d}" for i in range(1, 16)] + ["HAMD116A", "HAMD116B", "HAMD117"]


def make_sdtm() -> dict[str, pd.DataFrame]:
    """Three patients: MADRS items + total in QS on days -1 (baseline), 1 at PT4H, 8; HAM-D17 in RS
    on days -1 and 8; two ketamine doses (days 1 and 3, 0.5 mg/kg IV); item scores include 0."""
    rng = np.random.default_rng(3)
    qs, rs = [], []
    for p in range(3):
        subject = f"KET-01-{p + 1:03d}"
        for day, eltm, blfl, visit in ((-1, "", "Y", "SCREENING"), (1, "PT4H", "", "DAY 1"), (8, "", "", "DAY 8")):
            items = rng.integers(0, 7, size=10)
            items[0] = 0
            for code, value in zip(MADRS_ITEMS, items, strict=True):
                qs.append((subject, "QS", "MADRS", code, f"MADRS1-Item {code[-2:]}", float(value), day, eltm,
                           "KETAMINE DOSE" if eltm else "", blfl, visit))
            qs.append((subject, "QS", "MADRS", "MADRS111", "MADRS1-Total Score", float(items.sum()), day, eltm,
                       "KETAMINE DOSE" if eltm else "", blfl, visit))
        for day, blfl, visit in ((-1, "Y", "SCREENING"), (8, "", "DAY 8")):
            items = rng.integers(0, 3, size=len(HAMD_ITEMS))
            items[15] = 0  # part A of item 16 answered; part B logically skipped (no result)
            for code, value in zip(HAMD_ITEMS, items, strict=True):
                result = np.nan if code == "HAMD116B" else float(value)
                rs.append((subject, "RS", "HAMD 17", code, f"HAMD1-Item {code[4:]}", result, day, blfl, visit))
            rs.append((subject, "RS", "HAMD 17", "HAMD118", "HAMD1-Total Score",
                       float(np.nansum(items) - items[16]), day, blfl, visit))
    qs_frame = pd.DataFrame(qs, columns=["USUBJID", "DOMAIN", "QSCAT", "QSTESTCD", "QSTEST", "QSSTRESN", "QSDY",
                                         "QSELTM", "QSTPTREF", "QSBLFL", "VISIT"])
    rs_frame = pd.DataFrame(rs, columns=["USUBJID", "DOMAIN", "RSCAT", "RSTESTCD", "RSTEST", "RSSTRESN", "RSDY",
                                         "RSBLFL", "VISIT"])
    subjects = [f"KET-01-{p + 1:03d}" for p in range(3)]
    dm = pd.DataFrame({"STUDYID": "KET01", "USUBJID": subjects, "AGE": [34.0, 51.0, 29.0], "AGEU": "YEARS",
                       "SEX": ["F", "M", "F"], "ARM": "Ketamine 0.5 mg/kg", "RFSTDTC": "2024-03-01"})
    ex = pd.DataFrame({"USUBJID": np.repeat(subjects, 2), "EXTRT": "KETAMINE", "EXDOSE": 0.5, "EXDOSU": "mg/kg",
                       "EXROUTE": "INTRAVENOUS", "EXSTDY": [1.0, 3.0] * 3})
    for frame in (qs_frame, rs_frame):
        frame.insert(0, "STUDYID", "KET01")
    return {"QS": qs_frame, "RS": rs_frame, "DM": dm, "EX": ex}


@pytest.fixture
def sdtm_folder(tmp_path: Path) -> Path:
    import pyreadstat

    for name, frame in make_sdtm().items():
        labels = {"QS": "Questionnaires", "RS": "Disease Response and Clin Classification"}
        pyreadstat.write_xport(frame, str(tmp_path / f"{name.lower()}.xpt"), table_name=name,
                               file_label=labels.get(name, name),
                               column_labels={c: f"label of {c}" for c in frame.columns})
    return tmp_path


def test_xpt_zeros_and_labels_survive_pyreadstat(sdtm_folder: Path):
    frames = cdisc.read(sdtm_folder)
    original = make_sdtm()["QS"]
    assert (frames["QS"]["QSSTRESN"] == 0).sum() == (original["QSSTRESN"] == 0).sum() > 0
    assert frames["QS"].attrs["labels"]["QSDY"] == "label of QSDY"
    assert cdisc.classify(frames) == {"DM": "DM", "EX": "EX", "QS": "findings", "RS": "findings"}


def test_sdtm_round_trip_items_totals_times_baseline_and_doses(sdtm_folder: Path):
    frames = cdisc.read(sdtm_folder)
    long_frame, notes = cdisc.to_long(frames)
    original = make_sdtm()
    madrs = long_frame[long_frame["instrument"] == "MADRS"]
    hamd = long_frame[long_frame["instrument"] == "HAM-D17"]
    assert len(madrs) == len(original["QS"]) == 3 * 3 * 11
    assert len(hamd) == original["RS"]["RSSTRESN"].notna().sum() == 3 * 2 * 18
    assert sorted(madrs["item"].dropna().unique()) == list(range(1, 11))
    assert sorted(hamd["item"].dropna().unique()) == list(range(1, 18))  # 16A/16B -> item 16
    totals = madrs[madrs["item"].isna()].sort_values(["patient_id", "time_hours"])
    expected = original["QS"][original["QS"]["QSTESTCD"] == "MADRS111"].sort_values(["USUBJID", "QSDY"])
    assert_allclose(totals["score"], expected["QSSTRESN"])
    # study-day rule: day -1 -> -24 h, day 1 + PT4H -> 4 h, day 8 -> 168 h
    assert sorted(totals["time_hours"].unique()) == [-24.0, 4.0, 168.0]
    assert (madrs.loc[madrs["time_hours"] == 168, "infusion_number"] == 2).all()  # after the day-3 dose
    assert (madrs.loc[madrs["time_hours"] == 4, "infusion_number"] == 1).all()
    doses = long_frame.attrs["infusions"].frame  # each EX dose, whether or not a rating follows it
    assert set(doses["route"]) == {"INTRAVENOUS"} and set(doses["dose_mg_per_kg"]) == {0.5}
    assert doses.groupby("patient_id")["time_hours"].agg(list).tolist() == [[0.0, 48.0]] * 3
    assert "RFSTDTC" not in long_frame.columns and "STUDYID" not in long_frame.columns
    assert any("'HAMD 17' read as instrument HAM-D17" in n for n in notes)
    assert any("baseline from QSBLFL" in n for n in notes)
    data = analysis.load(long_frame)
    assert data.n_patients == 3
    assert len(data.infusions) == 6 and set(data.infusions["route"]) == {"IV"}
    assert_allclose(sorted(data.infusions["time_hours"].unique()), [0.0, 48.0])
    assert set(data.patients["sex"]) == {"F", "M"}
    assert_allclose(data.patients.set_index("patient_id").loc["KET-01-002", "age"], 51.0)


def test_study_day_zero_is_refused(sdtm_folder: Path):
    frames = cdisc.read(sdtm_folder)
    frames["QS"].loc[5, "QSDY"] = 0
    with pytest.raises(DataError, match="no day 0"):
        cdisc.to_long(frames)


def test_unknown_instrument_says_the_fix_and_the_hint_reads_it(sdtm_folder: Path, monkeypatch):
    frames = cdisc.read(sdtm_folder)
    frames = {"QS": frames["QS"].assign(QSCAT="MONTGOMERY SCALE"), "DM": frames["DM"]}
    with pytest.raises(DataError) as error:
        cdisc.to_long(frames)
    text = str(error.value)
    assert "'MONTGOMERY SCALE' is not a registered instrument" in text
    assert 'instrument="MADRS"' in text and "register_instrument" in text
    long_frame, notes = cdisc.to_long(frames, {"instrument": "MADRS"})
    assert set(long_frame["instrument"]) == {"MADRS"}
    assert any("instrument='MADRS'" in n for n in notes)
    # a scale registered by the user is then read by its category
    monkeypatch.setattr(instrument_registry, "_REGISTRY", dict(instrument_registry._REGISTRY))
    monkeypatch.setattr(instrument_registry, "_ALIASES", dict(instrument_registry._ALIASES))
    analysis.register_instrument(analysis.Instrument("MONT-TEST", "test scale", 0, 60, 10, 0, 6,
                                                     aliases=("MONTGOMERY SCALE",)))
    long_frame, _ = cdisc.to_long(frames)
    assert set(long_frame["instrument"]) == {"MONT-TEST"}


def test_bds_baseline_from_base_when_nothing_is_flagged():
    rows = pd.DataFrame({"STUDYID": "S", "USUBJID": ["A", "A", "B", "B"], "PARAMCD": "MADRSTOT",
                         "PARAM": "MADRS Total Score", "AVAL": [20.0, 12.0, 18.0, 0.0], "BASE": [30.0, 30.0, 0.0, 0.0],
                         "CHG": [-10.0, -18.0, 18.0, 0.0], "AVISIT": ["Week 1", "Week 2"] * 2, "ADY": [8.0, 15.0] * 2})
    long_frame, notes = cdisc.to_long({"ADQSMADR": rows})
    base = long_frame[long_frame["visit"] == "Baseline"].set_index("patient_id")
    assert base["score"].to_dict() == {"A": 30.0, "B": 0.0} and (base["time_hours"] == 0).all()
    assert any("made from BASE" in n for n in notes) and any("CHG" in n for n in notes)
    data = analysis.load(long_frame)
    assert data.n_patients == 2  # a baseline of 0 keeps the patient


def test_problems_name_the_observation_of_the_xpt_file_read(tmp_path: Path):
    import pyreadstat

    frames = make_sdtm()
    qs = frames["QS"]
    qs.loc[21, "QSSTRESN"] = 99.0  # a MADRS total, beyond 60
    assert qs.loc[21, "QSTESTCD"] == "MADRS111"
    for name in ("QS", "DM", "EX"):
        pyreadstat.write_xport(frames[name], str(tmp_path / f"{name.lower()}.xpt"), table_name=name)
    written, _ = pyreadstat.read_xport(str(tmp_path / "qs.xpt"))  # the observation, read independently
    observation = int(np.flatnonzero(written["QSSTRESN"].to_numpy() == 99.0)[0]) + 1
    with pytest.raises(DataError) as raised:
        analysis.load(tmp_path)
    problem = raised.value.problems.iloc[0]
    assert "99" in problem["message"] and "MADRS" in problem["message"]
    assert problem["row"] == observation == 22
    subject = written["USUBJID"].iloc[observation - 1]
    assert problem["location"] == f"qs.xpt row 22 (USUBJID {subject}, QSTESTCD MADRS111)"
    assert "file it was read from" in str(raised.value)


def test_a_dose_problem_names_the_ex_observation_not_a_rating(tmp_path: Path):
    """A dose was read from one EX observation: the problem names that one (an older reader named
    "qs.xpt row 56", the first rating after the dose)."""
    import pyreadstat

    frames = make_sdtm()
    frames["EX"].loc[3, "EXDOSE"] = -0.5  # the second patient's second dose
    for name in ("QS", "DM", "EX"):
        pyreadstat.write_xport(frames[name], str(tmp_path / f"{name.lower()}.xpt"), table_name=name)
    written, _ = pyreadstat.read_xport(str(tmp_path / "ex.xpt"))  # the observation, read independently
    observation = int(np.flatnonzero(written["EXDOSE"].to_numpy() == -0.5)[0]) + 1
    with pytest.raises(DataError) as raised:
        analysis.load(tmp_path)
    problem = raised.value.problems.iloc[0]
    assert problem["table"] == "infusions" and "negative" in problem["message"]
    assert problem["row"] == observation == 4
    assert problem["location"] == f"ex.xpt row 4 (USUBJID {written['USUBJID'].iloc[3]})"
    long_frame, _ = cdisc.to_long(cdisc.read(tmp_path))  # without origins: no trace of them
    doses = long_frame.attrs["infusions"].frame
    assert not [c for c in [*long_frame.columns, *doses.columns] if "row" in c or c.startswith("source")]


def test_problems_in_adam_name_the_file_row_after_left_out_records(tmp_path: Path):
    import pyreadstat

    # Rows 1-2 are LOCF records (left out before reading); row 5 holds an impossible MADRS total.
    bds = pd.DataFrame({"STUDYID": "S", "USUBJID": ["S-1", "S-1", "S-1", "S-1", "S-1", "S-2", "S-2"],
                        "PARAMCD": "MADRS", "PARAM": "MADRS Total Score",
                        "AVAL": [20.0, 20.0, 25.0, 18.0, 70.0, 30.0, 22.0],
                        "ABLFL": ["", "", "Y", "", "", "Y", ""], "AVISIT": ["Week 2", "Week 4", "Baseline",
                                                                            "Week 1", "Week 2", "Baseline", "Week 1"],
                        "ADY": [15.0, 29.0, -1.0, 8.0, 15.0, -1.0, 8.0],
                        "DTYPE": ["LOCF", "LOCF", "", "", "", "", ""]})
    pyreadstat.write_xport(bds, str(tmp_path / "admadrs.xpt"), table_name="ADMADRS")
    with pytest.raises(DataError) as raised:
        analysis.load(tmp_path)
    problems = raised.value.problems
    assert list(problems["row"]) == [5]
    assert problems["location"].iloc[0] == "admadrs.xpt row 5 (USUBJID S-1, PARAMCD MADRS)"
    assert "70" in problems["message"].iloc[0]


def test_suggest_names_every_role_with_its_reason(sdtm_folder: Path):
    mapping = cdisc.suggest(cdisc.read(sdtm_folder), instrument="MADRS")
    assert mapping.layout == "cdisc" and mapping.instrument == "MADRS"
    assert mapping.columns["patient_id"] == "USUBJID" and mapping.columns["study_day"] == "QSDY"
    sentences = mapping.describe()
    assert any("never STUDYID" in s for s in sentences)
    assert analysis.Mapping.from_json(mapping.to_json()) == mapping


# --------------------------------------------------------------------------------------------
# The vectorised XPORT v5 reader against pyreadstat (a second implementation)


def assert_same_as_pyreadstat(path: Path) -> None:
    import pyreadstat

    from analysis.xport import read_xport_v5

    reference, meta = pyreadstat.read_xport(str(path))
    ours = read_xport_v5(path.read_bytes())
    assert list(ours.columns) == list(reference.columns) and len(ours) == len(reference)
    assert ours.attrs["labels"] == dict(zip(meta.column_names, meta.column_labels, strict=True))
    for column in reference.columns:
        expected, got = reference[column], ours[column]
        if meta.readstat_variable_types[column] == "string":
            assert list(got.astype(object)) == list(expected), column
        elif expected.dtype == object or pd.api.types.is_datetime64_any_dtype(expected):
            # pyreadstat gives DATE values as datetime.date objects, DATETIME ones as datetime64
            assert list(pd.to_datetime(expected)) == list(pd.to_datetime(got)), column
        else:
            np.testing.assert_array_equal(got.to_numpy(dtype=float), expected.to_numpy(dtype=float), err_msg=column)


@needs_pilot
@pytest.mark.parametrize("dataset", ["adsl", "adtte", "adcibc"])
def test_xport_reader_equals_pyreadstat_on_the_pilot_files(dataset):
    assert_same_as_pyreadstat(PILOT / f"{dataset}.xpt")


def test_xport_reader_equals_pyreadstat_on_awkward_values(tmp_path: Path):
    import pyreadstat

    rng = np.random.default_rng(11)
    n = 5_001
    numbers = rng.choice([0.0, -0.0, 0.5, -2.25, 1e-70, 7.2e70, np.nan, 3.0, 1 / 3, -1e-5], size=n)
    frame = pd.DataFrame({"USUBJID": rng.choice(["S-1", "S-22", "S-333 X", ""], size=n),
                          "LONGTEXT": rng.choice(["a" * 40, "MADRS1-Total Score", " lead", ""], size=n),
                          "AVAL": numbers, "ADY": rng.integers(-5, 300, size=n).astype(float),
                          "ADT": pd.Timestamp("2020-02-29") + pd.to_timedelta(rng.integers(0, 900, size=n), "D")})
    path = tmp_path / "awkward.xpt"
    pyreadstat.write_xport(frame, str(path), table_name="AWK", file_format_version=5,
                           column_labels=["Subject", "Text", "Value", "Day", "Date"])
    assert_same_as_pyreadstat(path)
    ours = cdisc.read_dataset(path)
    assert (ours["AVAL"] == 0).sum() == (numbers == 0).sum() > 0  # zeros exact (pandas issue 50670)
    assert ours.attrs["table_name"] == "AWK" and cdisc.classify({"AWK": ours}) == {"AWK": "other"}


def test_xport_text_codes_survive_a_hash_collision():
    from analysis.xport import _factorize_bytes

    mix = 0x9E3779B97F4A7C15
    rows = np.array([[0, mix ^ 5], [1, 5], [0, mix ^ 5]], dtype=np.uint64)  # rows 0 and 1 hash alike
    codes, first = _factorize_bytes(rows.view(np.uint8).reshape(3, 16))
    assert list(codes) == [0, 1, 0] and list(first) == [0, 1]


@needs_pilot
def test_analysis_load_reads_the_pilot_folder_through_the_cdisc_layout():
    data = analysis.load(PILOT)
    assert data.n_patients == 236 and len(data.assessments) == 537
    assert data.mapping.layout == "cdisc" and ("DTYPE", "empty", "") in data.mapping.record_filters
    assert any("derived record(s) (DTYPE LOCF) left out" in str(w) for w in data.warnings)
    # ADSL's coded labels stay covariates (RACE 'BLACK OR AFRICAN AMERICAN' is not free text)
    assert data.patients["RACE"].notna().all() and not any(w.code == "free_text_dropped" for w in data.warnings)


@needs_pilot
def test_a_lone_adsl_file_is_read_as_cdisc_and_says_it_holds_no_ratings():
    # Before: read as a plain long file, refused for its date columns, then asked for instrument="MADRS".
    with pytest.raises(DataError) as raised:
        analysis.load(PILOT / "adsl.xpt")
    assert "No rating-scale data found" in str(raised.value) and "Datasets given: ADSL" in str(raised.value)
    assert "instrument=" not in str(raised.value)
    assert analysis.suggest_mapping(PILOT / "adsl.xpt").layout == "cdisc"


def test_every_ex_dose_is_an_infusion_even_when_no_rating_follows_it(tmp_path: Path):
    """Doses on days 1, 3, 5 and ratings on days -1, 1 and 8: no rating falls between the doses of
    days 3 and 5. On the old code, each rating carried the dose it followed, so the day-3 dose was
    carried by none: infusions 1 and 3 only, refused as numbered with a gap."""
    frames = make_sdtm()
    subjects = frames["DM"]["USUBJID"]
    frames["EX"] = pd.DataFrame({"USUBJID": np.repeat(subjects, 3), "EXTRT": "KETAMINE", "EXDOSE": 0.5,
                                 "EXDOSU": "mg/kg", "EXROUTE": "INTRAVENOUS", "EXSTDY": [1.0, 3.0, 5.0] * 3})
    import pyreadstat

    for name, frame in frames.items():
        pyreadstat.write_xport(frame, str(tmp_path / f"{name.lower()}.xpt"), table_name=name)
    data = analysis.load(tmp_path)
    assert data.infusions.groupby("patient_id")["time_hours"].agg(list).to_dict() == \
        {s: [0.0, 48.0, 96.0] for s in subjects}  # study days 1, 3, 5: (d - 1) * 24 h
    day_8 = data.assessments["time_hours"] == 168.0
    assert (data.assessments.loc[day_8, "infusion_number"] == 3).all()


def test_ex_dates_and_doses_in_mg_with_the_adsl_weight():
    ratings = pd.DataFrame({"USUBJID": ["P1"] * 3, "PARAMCD": "MADRSTOT", "PARAM": "MADRS Total Score",
                            "AVAL": [30.0, 14.0, 9.0], "ABLFL": ["Y", "", ""], "AVISIT": ["Baseline", "Day 2", "Day 8"],
                            "ADY": [1.0, 2.0, 8.0]})
    adsl = pd.DataFrame({"STUDYID": "S", "USUBJID": ["P1"], "TRT01P": ["Ketamine"], "AGE": [40.0], "SEX": ["M"],
                         "WEIGHTBL": [80.0], "DCSREAS": ["Adverse Event"]})
    ex = pd.DataFrame({"USUBJID": ["P1", "P1"], "EXTRT": "KETAMINE", "EXDOSE": [40.0, 40.0], "EXDOSU": "mg",
                       "EXROUTE": "INTRAVENOUS", "EXSTDTC": ["2024-05-02T09:00", "2024-05-05T09:00"]})
    long_frame, notes = cdisc.to_long({"ADMADRS": ratings, "ADSL": adsl, "EX": ex})
    doses = long_frame.attrs["infusions"].frame
    assert_allclose(doses["dose_mg_per_kg"], 0.5)  # 40 mg / 80 kg
    assert list(doses["time_hours"]) == [0.0, 72.0]  # 2024-05-02T09:00 -> 05-05T09:00
    assert list(long_frame["infusion_number"]) == [1, 1, 2]
    assert "DCSREAS" not in long_frame.columns and "EXSTDTC" not in long_frame.columns
    assert any("divided by the baseline weight" in n for n in notes)
    assert any("text variables not read" in n and "DCSREAS" in n for n in notes)
    data = analysis.load(long_frame)
    assert_allclose(data.infusions["time_hours"], [0.0, 72.0])
