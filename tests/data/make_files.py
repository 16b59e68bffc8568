"""Write the good and bad test files under tests/data/ (run once; the files are committed).

``.venv/bin/python tests/data/make_files.py``. The good files all hold the same small dataset
(3 patients, MADRS totals and items, CADSS, a 2-infusion series) in every supported format; the
bad files each carry one kind of problem, listed with the message it must give in
tests/analysis/test_loading.py.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
GOOD, BAD = HERE / "good", HERE / "bad"

SINGLE = """patient_id,instrument,item,score,time_hours,visit,infusion_number,infusion_time_hours,dose_mg_per_kg,route,duration_min,age,sex,diagnosis,site
K01,MADRS,,32,-0.5,baseline,,,0.5,IV,40,41,F,TRD,north
K01,CADSS,,18,0.67,40 min,1,0,0.5,IV,40,41,F,TRD,north
K01,MADRS,,14,4,4 h,1,0,0.5,IV,40,41,F,TRD,north
K01,MADRS,10,2,4,4 h,1,0,0.5,IV,40,41,F,TRD,north
K01,MADRS,,9,72,jour 3 (réévaluation),2,48,0.75,IV,40,41,F,TRD,north
K02,MADRS,,28,-1,baseline,,,0.5,IM,,35,M,MDD,south
K02,MADRS,,27,24,day 1,1,0,0.5,IM,,35,M,MDD,south
K03,MADRS,,30,-2,baseline,,,0.5,intranasal,,63,F,bipolar,north
K03,MADRS,,12,168,day 7,1,0,0.5,intranasal,,63,F,bipolar,north
"""


def single_frame() -> pd.DataFrame:
    return pd.read_csv(io.StringIO(SINGLE), dtype={"patient_id": str})


def write_good() -> None:
    text = SINGLE
    (GOOD / "single_utf8.csv").write_text(text, encoding="utf-8")
    (GOOD / "single_utf8_bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (GOOD / "single_latin1.csv").write_bytes(text.encode("latin-1"))
    european = "\n".join(";".join(line.split(",")) for line in text.strip().split("\n")) + "\n"
    european = european.replace("-0.5", "-0,5").replace("0.67", "0,67").replace(";0.5;", ";0,5;") \
        .replace(";0.75;", ";0,75;")
    (GOOD / "single_excel_semicolon.csv").write_bytes(european.replace("\n", "\r\n").encode("cp1252"))
    (GOOD / "single.tsv").write_text(text.replace(",", "\t"), encoding="utf-8")
    frame = single_frame()
    frame.to_excel(GOOD / "single.xlsx", index=False)
    frame.to_parquet(GOOD / "single.parquet", index=False)
    tables = GOOD / "tables"
    tables.mkdir(exist_ok=True)
    frame[["patient_id", "instrument", "item", "score", "time_hours", "visit", "infusion_number"]].to_csv(
        tables / "assessments.csv", index=False)
    infusions = frame.dropna(subset=["infusion_number"]).drop_duplicates(["patient_id", "infusion_number"])
    infusions = infusions[["patient_id", "infusion_number", "infusion_time_hours", "dose_mg_per_kg", "route",
                           "duration_min"]].rename(columns={"infusion_time_hours": "time_hours"})
    infusions["infusion_number"] = infusions["infusion_number"].astype(int)
    infusions.to_csv(tables / "infusions.csv", index=False)
    frame.drop_duplicates("patient_id")[["patient_id", "age", "sex", "diagnosis", "site"]].to_csv(
        tables / "patients.csv", index=False)
    # Calendar dates instead of relative times (converted, then removed).
    (GOOD / "dates").mkdir(exist_ok=True)
    (GOOD / "dates" / "assessments.csv").write_text(
        "patient_id,instrument,score,assessment_date\n"
        "K01,MADRS,32,2024-03-04 08:30\nK01,MADRS,14,2024-03-04 13:00\nK01,MADRS,9,2024-03-07 09:00\n"
        "K02,MADRS,28,2024-05-01 08:00\nK02,MADRS,27,2024-05-02 10:00\n")
    (GOOD / "dates" / "infusions.csv").write_text(
        "patient_id,infusion_number,infusion_date,dose_mg_per_kg,route\n"
        "K01,1,2024-03-04 09:00,0.5,IV\nK01,2,2024-03-06 09:00,0.75,IV\nK02,1,2024-05-01 10:00,0.5,IM\n")


BAD_TEXT = {
    "header_only.csv": "patient_id,instrument,score,time_hours\n",
    "missing_columns.csv": "patient,instrument,scor,time_hours\nK01,MADRS,30,-1\n",
    "unknown_instrument.csv": "patient_id,instrument,score,time_hours\nK01,MADSR,30,-1\nK01,MADRS,20,24\n",
    "score_out_of_range.csv": "patient_id,instrument,item,score,time_hours\nK01,MADRS,,75,-1\nK01,MADRS,3,7,-1\n"
                              "K01,PHQ-9,,-2,-1\n",
    "wrong_types.csv": "patient_id,instrument,score,time_hours\nK01,MADRS,abc,-1\nK01,MADRS,20,tomorrow\n",
    "conflicting_duplicates.csv": "patient_id,instrument,score,time_hours\nK01,MADRS,30,-1\nK01,MADRS,20,24\n"
                                  "K01,MADRS,22,24\n",
    "varying_patient_column.csv": "patient_id,instrument,score,time_hours,age\nK01,MADRS,30,-1,41\n"
                                  "K01,MADRS,20,24,42\nK02,MADRS,25,-1,50\n",
    "infusion_numbering.csv": "patient_id,instrument,score,time_hours,infusion_number,infusion_time_hours\n"
                              "K01,MADRS,30,-1,,\nK01,MADRS,20,4,1,0\nK01,MADRS,18,100,3,96\n",
    "first_infusion_not_zero.csv": "patient_id,instrument,score,time_hours,infusion_number,infusion_time_hours\n"
                                   "K01,MADRS,30,-1,,\nK01,MADRS,20,4,1,2\n",
    "unknown_route.csv": "patient_id,instrument,score,time_hours,route\nK01,MADRS,30,-1,intravenus\n",
    "unknown_diagnosis.csv": "patient_id,instrument,score,time_hours,diagnosis\nK01,MADRS,30,-1,depresion\n",
    "negative_dose.csv": "patient_id,instrument,score,time_hours,dose_mg_per_kg\nK01,MADRS,30,-1,-0.5\n",
    "item_too_high.csv": "patient_id,instrument,item,score,time_hours\nK01,MADRS,11,2,-1\n",
    "ragged.csv": "patient_id,instrument,score,time_hours\nK01,MADRS,30,-1\nK01,MADRS,20,24,extra\n",
    "email_column.csv": "patient_id,instrument,score,time_hours,email\nK01,MADRS,30,-1,jane.roe@example.org\n",
    "phone_in_notes.csv": "patient_id,instrument,score,time_hours,notes\nK01,MADRS,30,-1,call 555-867-5309\n"
                          "K02,MADRS,20,-1,ok\n",
    "ssn_in_column.csv": "patient_id,instrument,score,time_hours,ref\nK01,MADRS,30,-1,078-05-1120\n",
    "person_names.csv": "patient_id,instrument,score,time_hours,clinician\nK01,MADRS,30,-1,Jane Roe\n"
                        "K02,MADRS,20,-1,John Smith\nK03,MADRS,20,-1,Maria Garcia\n",
    "date_of_birth.csv": "patient_id,instrument,score,time_hours,dob\nK01,MADRS,30,-1,1971-02-03\n",
    "zip_codes.csv": "patient_id,instrument,score,time_hours,residence_code\nK01,MADRS,30,-1,02139\n"
                     "K02,MADRS,20,-1,10025\n",
    "street_address.csv": "patient_id,instrument,score,time_hours,home\nK01,MADRS,30,-1,12 Elm Street\n"
                          "K02,MADRS,20,-1,4 Oak Avenue\n",
    "mrn_patient_ids.csv": "patient_id,instrument,score,time_hours\n40012345,MADRS,30,-1\n40098765,MADRS,20,-1\n"
                           "40055555,MADRS,25,-1\n40012345,MADRS,31,-1\n",
    "ssn_as_score.csv": "patient_id,instrument,score,time_hours\nK01,MADRS,078-05-1120,-1\n",
    "old_age.csv": "patient_id,instrument,score,time_hours,age\nK01,MADRS,30,-1,93\n",
    "dates_without_infusions.csv": "patient_id,instrument,score,assessment_date\nK01,MADRS,30,2024-01-02\n",
    "unreadable_dates.csv": "patient_id,instrument,score,assessment_date,infusion_number,infusion_date\n"
                            "K01,MADRS,30,2024-01-02,,\nK01,MADRS,20,someday,1,2024-01-02\n",
    "web_page.csv": "<!DOCTYPE html>\n<html><body><table><tr><td>K01</td></tr></table></body></html>\n",
    "no_infusion_times.csv": "patient_id,instrument,score,time_hours,infusion_number,dose_mg_per_kg\n"
                             "K01,MADRS,30,-1,,\nK01,MADRS,20,4,1,0.5\nK01,MADRS,10,50,2,0.5\n",
    "no_time.csv": "patient_id,instrument,score,time_hour\nK01,MADRS,30,-1\n",
    "many_problems.csv": "patient_id,instrument,score,time_hours\nK01,MADRS,75,-1\nK01,MADSR,20,2\n,MADRS,20,3\n"
                         "K02,MADRS,x,4\n",
}


def write_bad() -> None:
    (BAD / "empty.csv").write_bytes(b"")
    (BAD / "blank.csv").write_bytes(b"\n \n\n")
    (BAD / "image.csv").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (BAD / "document.csv").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    (BAD / "compressed.csv").write_bytes(b"\x1f\x8b\x08\x00" + bytes(64))
    (BAD / "binary.csv").write_bytes(bytes(range(256)) * 4)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data.csv", "patient_id,instrument,score,time_hours\nK01,MADRS,30,-1\n")
    (BAD / "archive.xlsx").write_bytes(archive.getvalue())
    (BAD / "text.xlsx").write_text("patient_id,instrument,score,time_hours\nK01,MADRS,30,-1\n")
    (BAD / "text.parquet").write_text("patient_id,instrument,score,time_hours\nK01,MADRS,30,-1\n")
    for name, text in BAD_TEXT.items():
        (BAD / name).write_text(text, encoding="utf-8")
    missing = BAD / "missing_patient"
    missing.mkdir(exist_ok=True)
    (missing / "assessments.csv").write_text("patient_id,instrument,score,time_hours\nK01,MADRS,30,-1\n"
                                             "K09,MADRS,20,-1\n")
    (missing / "patients.csv").write_text("patient_id,age,sex,diagnosis\nK01,40,F,TRD\n")


if __name__ == "__main__":
    GOOD.mkdir(exist_ok=True)
    BAD.mkdir(exist_ok=True)
    write_good()
    write_bad()
