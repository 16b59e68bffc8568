"""Value vocabularies as people write them: routes, diagnoses, sex codes and doses as text.

Every function works on one distinct label (the loader calls it once per distinct value, never
per row) and returns the contract's value, or None when the label is not understood (the loader
then reports it, suggesting ``value_maps``).
"""

from __future__ import annotations

import re

from analysis.contract import DIAGNOSES, ROUTES

__all__ = ["closest_word", "diagnosis_of", "dose_of", "key", "route_of", "sex_of", "split_remark"]


def key(name: object) -> str:
    """Comparison form of a name or label: lower case; spaces, dots, hyphens and brackets -> "_"
    ("Weight (kg)" -> "weight_kg", "Dose [mg/kg]" -> "dose_mg/kg")."""
    return re.sub(r"[\s.\-()\[\]]+", "_", str(name).strip().lower()).strip("_")


_ROUTE_WORDS = {key(k): v for k, v in ({r.lower(): r for r in ROUTES} | {
    "intra_nasal": "intranasal", "nasal_spray": "intranasal", "sub_lingual": "sublingual",
    "intravenous": "IV", "i.v.": "IV", "intramuscular": "IM", "i.m.": "IM", "in": "intranasal",
    "nasal": "intranasal", "esketamine": "intranasal", "sl": "sublingual", "po": "oral",
    "by_mouth": "oral", "pr": "rectal", "per_rectum": "rectal", "buccal": "sublingual",
    "oromucosal": "sublingual", "troche": "sublingual", "spravato": "intranasal"}).items()}
# Words that may stand around a route in a phrase ("iv drip", "INTRAVENOUS INFUSION", "nasal spray").
_ROUTE_FILLER = {"drip", "infusion", "infusions", "push", "bolus", "spray", "injection", "inj", "administration",
                 "route", "tablet", "tablets", "lozenge", "troche", "solution", "use", "given", "ketamine", "ketalar"}


def route_of(label: str) -> str | None:
    """'INTRAVENOUS', 'iv drip', 'i.v.' -> 'IV'; 'nasal spray' -> 'intranasal'; None if unknown
    (a misspelling is not guessed: the loader suggests the closest accepted word)."""
    k = key(label)
    if k in _ROUTE_WORDS:
        return _ROUTE_WORDS[k]
    tokens = [t for t in re.split(r"[_/,;()]+", k.replace(".", "")) if t]
    found = {_ROUTE_WORDS[t] for t in tokens if t in _ROUTE_WORDS}
    if len(found) == 1 and all(t in _ROUTE_WORDS or t in _ROUTE_FILLER for t in tokens):
        return found.pop()
    return None


def closest_word(kind: str, label: str) -> str | None:
    """The accepted value whose spelling is closest to ``label`` ("intravenus" -> "IV"), or None."""
    import difflib

    words = {"route": _ROUTE_WORDS, "diagnosis": _DIAGNOSIS_WORDS}[kind]
    near = difflib.get_close_matches(key(label), [w for w in words if len(w) > 2], n=1, cutoff=0.75)
    return words[near[0]] if near else None


_DIAGNOSIS_WORDS = {key(k): v for k, v in ({d.lower(): d for d in DIAGNOSES} | {
    "major_depressive_disorder": "MDD", "major_depression": "MDD", "depression": "MDD", "unipolar": "MDD",
    "unipolar_depression": "MDD", "treatment_resistant_depression": "TRD", "bd": "bipolar",
    "post-traumatic stress disorder": "PTSD", "posttraumatic_stress_disorder": "PTSD"}).items()}
# Patterns tried in order on the comparison form (treatment-resistant before plain depression).
_DIAGNOSIS_PATTERNS = (
    (re.compile(r"bipolar|manic|\bbd_?(i{1,2}|[12])\b|\bbp_?(i{1,2}|[12])\b"), "bipolar"),
    (re.compile(r"treatment_?resistant|\btrd\b|refractory"), "TRD"),
    (re.compile(r"ptsd|post_?traumatic"), "PTSD"),
    (re.compile(r"major_depress|\bmdd\b|depressive_disorder|depressive_episode|unipolar|^depression"), "MDD"),
)


def diagnosis_of(label: str) -> str | None:
    """'Major depressive disorder' -> 'MDD'; 'Bipolar II', 'bipolar I disorder' -> 'bipolar';
    None if unknown (the original label is kept by the loader as ``diagnosis_label``)."""
    k = key(label)
    if k in _DIAGNOSIS_WORDS:
        return _DIAGNOSIS_WORDS[k]
    spaced = k.replace("_", " ")
    for pattern, diagnosis in _DIAGNOSIS_PATTERNS:
        if pattern.search(k) or pattern.search(spaced):
            return diagnosis
    return None


_SEX_WORDS = {"f": "F", "female": "F", "woman": "F", "w": "F", "women": "F", "girl": "F", "femme": "F",
              "weiblich": "F", "m": "M", "male": "M", "man": "M", "men": "M", "boy": "M", "homme": "M",
              "mannlich": "M", "männlich": "M"}
# ISO 5218 and CDISC numeric order: 1 = male, 2 = female (said in a warning; value_maps overrides).
SEX_CODES = {"1": "M", "2": "F"}


def sex_of(label: str) -> str | None:
    """'female', 'Woman', 'f' -> 'F'; 'male', 'M' -> 'M'; '1'/'2' -> 'M'/'F' (ISO 5218);
    None for any other label (kept as written)."""
    k = key(label)
    return _SEX_WORDS.get(k) or SEX_CODES.get(k.removesuffix("_0").replace(".0", ""))


_DOSE = re.compile(r"(?P<number>\d+(?:[.,]\d+)?|[.,]\d+)\s*(?P<unit>mg\s*/\s*kg|mg\s*per\s*kg|mg\s*kg(?:-1|⁻¹)|"
                   r"mg/kg/(?:dose|infusion)|mg)?", re.I)
_REMARK = re.compile(r"(?P<value>.*?)\s*[(\[](?P<remark>[^()\[\]]*)[)\]]\s*", re.S)


def split_remark(text: str) -> tuple[str, str | None]:
    """(the value, its remark) of a label with a remark in brackets at its end: '56 mg (Spravato)'
    -> ('56 mg', 'Spravato'), 'Day 7 (3/11)' -> ('Day 7', '3/11'); (text, None) without one, or
    when the brackets are all there is."""
    match = _REMARK.fullmatch(str(text))
    if match is None or not match.group("value").strip():
        return str(text), None
    return match.group("value").strip(), match.group("remark")
_PLACEBO = re.compile(r"placebo|saline|sham|vehicle|^0\s*mg", re.I)


def dose_of(label: str) -> tuple[float, str] | None:
    """A dose written as text -> (value, unit), unit "mg/kg", "mg", "" (bare number) or "placebo"
    (value 0). '0.5 mg/kg' -> (0.5, 'mg/kg'); '35 mg' -> (35.0, 'mg'); None if unreadable."""
    text = str(label).strip()
    if _PLACEBO.search(text):
        return 0.0, "placebo"
    match = _DOSE.fullmatch(text.replace("\u00a0", " "))
    value, remark = split_remark(text)
    if match is None and remark is not None:  # "56 mg (Spravato)", "40 mg (0.5 mg/kg)": mg/kg first
        inner, outer = dose_of(remark), dose_of(value)
        return inner if inner is not None and inner[1] == "mg/kg" else outer
    if match is None:
        return None
    value = float(match.group("number").replace(",", "."))
    unit = match.group("unit") or ""
    return value, ("mg" if unit.lower() == "mg" else "mg/kg" if unit else "")
