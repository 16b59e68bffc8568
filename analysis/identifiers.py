"""De-identification checks: find columns that look like HIPAA Safe Harbor identifiers.

A column is suspect by its *name* (``email``, ``phone``, ``dob``, ``last_name``, ``zip``, ``mrn``,
``address``, any calendar-date column, ...) or by its *content* (e-mail addresses, phone numbers,
SSN-like ``123-45-6789``, MRN-like long numbers, street addresses, person names, calendar dates,
ZIP codes, ages above 89). Content is checked on at most ``SAMPLE_SIZE`` distinct values per column,
so the check costs the same for a thousand rows or millions.

Values are never shown: :func:`mask_value` keeps only a value's shape (``jane@x.org`` becomes
``xxxx@x.xxx``, ``555-12-3456`` becomes ``999-99-9999``).

Reference: U.S. HHS, Guidance Regarding Methods for De-identification of Protected Health
Information (Safe Harbor, 45 CFR 164.514(b)(2)), 2012.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["IdentifierFinding", "find_identifier_columns", "free_text_columns", "looks_identifying", "mask_value",
           "reason_for_name"]

SAMPLE_SIZE = 500

_NAME_KEYS: dict[str, str] = {}
for _reason, _keys in {
    "names": ("name", "fullname", "firstname", "lastname", "surname", "givenname", "familyname",
              "patientname", "middlename", "maidenname", "forename", "initials", "nickname",
              "subjectname", "participantname", "mothersname", "fathersname", "nextofkin",
              "emergencycontact", "contactname", "guardianname", "spousename"),
    "e-mail addresses": ("email", "emailaddress", "mail", "mailaddress"),
    "phone or fax numbers": ("phone", "phonenumber", "telephone", "tel", "mobile", "mobilephone", "cell",
                             "cellphone", "fax", "faxnumber", "homephone", "workphone"),
    "social security numbers": ("ssn", "socialsecurity", "socialsecuritynumber", "sin", "nationalid",
                                "nhsnumber", "nationalinsurancenumber"),
    "medical record numbers": ("mrn", "medicalrecordnumber", "medicalrecord", "medicalrecordno",
                               "chartnumber", "hospitalnumber", "healthplannumber", "healthplanid",
                               "memberid", "insuranceid", "insurancenumber", "accountnumber"),
    "street addresses or places smaller than a state": (
        "address", "streetaddress", "street", "homeaddress", "city", "town", "county", "address1",
        "address2", "addressline1", "addressline2", "residence"),
    "ZIP codes": ("zip", "zipcode", "postcode", "postalcode", "zip5", "plz"),
    "dates of birth": ("dob", "dateofbirth", "birthdate", "birthday", "birthdatetime"),
    "IP addresses or web addresses": ("ip", "ipaddress", "url", "website", "webpage"),
    "licence, vehicle or device numbers": ("licensenumber", "licencenumber", "driverslicense",
                                            "licenseplate", "vehicleid", "serialnumber", "deviceserial"),
}.items():
    _NAME_KEYS.update(dict.fromkeys(_keys, _reason))

_TOKEN_REASONS = {
    "email": "e-mail addresses", "phone": "phone or fax numbers", "telephone": "phone or fax numbers",
    "fax": "phone or fax numbers", "ssn": "social security numbers", "mrn": "medical record numbers",
    "zip": "ZIP codes", "zipcode": "ZIP codes", "postcode": "ZIP codes", "address": "street addresses "
    "or places smaller than a state", "street": "street addresses or places smaller than a state",
    "dob": "dates of birth", "surname": "names", "firstname": "names", "lastname": "names",
}
_NAME_QUALIFIERS = {"first", "last", "given", "family", "full", "patient", "middle", "maiden", "sur",
                    "preferred", "nick", "subject", "participant", "mother", "father", "guardian",
                    "contact", "kin", "spouse", "person", "client"}
_DATE_TOKENS = {"date", "datetime", "timestamp", "dt", "dttm"}

_STRONG_PATTERNS = (
    ("e-mail addresses", re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")),
    ("social security numbers", re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")),
    ("phone or fax numbers",
     re.compile(r"(?<![\d.])(?:\+\d{1,3}[\s.-]?)?\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?![\d.])")),
)
_WEAK_PATTERNS = (
    ("street addresses or places smaller than a state",
     re.compile(r"\d{1,5}\s+(?:[A-Za-z'.]+\s+){1,4}(?:street|st|avenue|ave|road|rd|lane|ln|drive|dr|"
                r"boulevard|blvd|court|ct|place|pl|way|terrace|parkway|pkwy|strasse|straße)\b\.?",
                re.IGNORECASE)),
    ("calendar dates (every date element except the year is an identifier)",
     re.compile(r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})(?:[ T]\d{1,2}:\d{2}.*)?")),
)
_PERSON_NAME = re.compile(r"(?:Dr\.?\s+)?[A-Z][a-z'’\-]+,?(?:\s+[A-Z]\.?)?\s+[A-Z][a-z'’\-]+")
_ZIP = re.compile(r"\d{5}(?:-\d{4})?")
_MRN = re.compile(r"\d{7,12}")


@dataclass(frozen=True)
class IdentifierFinding:
    """A column that looks identifying: why (``reason``), how it was found (``by`` = "name" or
    "content") and a masked example value (never the value itself)."""

    column: str
    reason: str
    by: str
    example: str = ""

    def describe(self) -> str:
        how = "its name" if self.by == "name" else "its content"
        example = f" (for example {self.example!r}, masked)" if self.example else ""
        return f"looks like {self.reason} by {how}{example}"


_VALUE_PATTERNS = tuple(p for _, p in _STRONG_PATTERNS) + (_WEAK_PATTERNS[1][1],)


def looks_identifying(value: object) -> bool:
    """Whether one value holds an e-mail address, an SSN, a phone number or a calendar date:
    a message that quotes a cell (a date typed in the score column) masks such a value."""
    text = str(value)
    return any(p.search(text) for p in _VALUE_PATTERNS)


def mask_value(value: object, limit: int = 24) -> str:
    """The shape of a value without the value: letters -> x, digits -> 9, punctuation kept."""
    text = str(value)
    masked = re.sub(r"\d", "9", re.sub(r"[^\W\d_]", "x", text))
    return masked if len(masked) <= limit else masked[:limit] + "..."


def _tokens(column: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(column))
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def reason_for_name(column: str) -> str | None:
    """Why a column name suggests an identifier, or None."""
    tokens = _tokens(column)
    key = "".join(tokens)
    if key in _NAME_KEYS:
        return _NAME_KEYS[key]
    for token in tokens:
        if token in _TOKEN_REASONS:
            return _TOKEN_REASONS[token]
    if "name" in tokens and _NAME_QUALIFIERS.intersection(tokens):
        return "names"
    if "birth" in tokens and ({"date", "day"} & set(tokens) or len(tokens) == 1):
        return "dates of birth"
    if _DATE_TOKENS.intersection(tokens):
        return "calendar dates (every date element except the year is an identifier)"
    return None


def _sample_distinct(series: pd.Series) -> pd.Series:
    """At most SAMPLE_SIZE distinct non-missing values, spread over the column."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        values = pd.Series(series.cat.categories)
    else:
        values = pd.Series(series.dropna().unique())
    if len(values) > SAMPLE_SIZE:
        values = values.iloc[np.linspace(0, len(values) - 1, SAMPLE_SIZE).astype(int)]
    return values.astype(str).str.strip().loc[lambda s: s != ""]


def _content_reason(series: pd.Series, *, names_possible: bool, zip_possible: bool,
                    dates_possible: bool) -> tuple[str, str] | None:
    """(reason, masked example) when the values of a column look identifying."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        if dates_possible and series.notna().any():
            return ("calendar dates (every date element except the year is an identifier)",
                    mask_value(series.dropna().iloc[0]))
        return None
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        values = pd.Series(pd.unique(series.dropna()))
        if len(values) > SAMPLE_SIZE:
            values = values.iloc[:SAMPLE_SIZE]
        if len(values) >= 3:
            numbers = values.to_numpy(dtype="float64")
            whole = np.isfinite(numbers) & (numbers == np.round(numbers))
            long_numbers = whole & (np.abs(numbers) >= 1e6) & (np.abs(numbers) < 1e13)
            if long_numbers.mean() >= 0.8:
                return "medical record numbers (numbers of 7 or more digits)", mask_value(int(numbers[0]))
        return None
    values = _sample_distinct(series)
    if values.empty:
        return None
    for reason, pattern in _STRONG_PATTERNS:
        hits = values[values.str.contains(pattern, na=False)]
        if len(hits):
            return reason, mask_value(hits.iloc[0])
    checks = list(_WEAK_PATTERNS if dates_possible else _WEAK_PATTERNS[:1])
    checks.append(("medical record numbers (numbers of 7 or more digits)", _MRN))
    if zip_possible:
        checks.append(("ZIP codes", _ZIP))
    if names_possible and len(values) >= 3:
        checks.append(("names", _PERSON_NAME))
    for reason, pattern in checks:
        matches = values.str.fullmatch(pattern, na=False)
        # Five-digit codes are common; call them ZIP codes only when (nearly) all values are.
        if matches.mean() >= (0.8 if pattern is _ZIP else 0.5):
            return reason, mask_value(values[matches].iloc[0])
    return None


def _is_text(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(series.dtype) \
        or pd.api.types.is_string_dtype(series.dtype)


def find_identifier_columns(frame: pd.DataFrame, *, known_columns: frozenset[str] = frozenset(),
                            date_columns: frozenset[str] = frozenset(),
                            label_columns: frozenset[str] = frozenset()) -> list[IdentifierFinding]:
    """Columns of ``frame`` that look like Safe Harbor identifiers.

    known_columns : columns of the data contract (not judged by name; their content is still
        checked for e-mails, phone numbers, SSNs and MRN-like numbers).
    date_columns : calendar-date columns the loader converts to relative times (skipped).
    label_columns : contract columns holding fixed labels (instrument, route, ...; content
        checked only for the strong patterns).
    """
    findings = []
    for column in frame.columns:
        if column == "source_row" or column in date_columns:
            continue
        if column not in known_columns:
            reason = reason_for_name(column)
            if reason is not None:
                example = frame[column].dropna()
                findings.append(IdentifierFinding(column, reason, "name",
                                                  mask_value(example.iloc[0]) if len(example) else ""))
                continue
        extra = column not in known_columns
        if not extra and column != "patient_id" and not _is_text(frame[column]):
            continue
        found = _content_reason(frame[column], names_possible=extra, zip_possible=extra,
                                dates_possible=column not in label_columns)
        if found is not None:
            findings.append(IdentifierFinding(column, found[0], "content", found[1]))
    return findings


# Names of columns of notes ("Notes", "Clinician comments", "Remarks").
_FREE_TEXT_TOKENS = frozenset({"note", "notes", "comment", "comments", "remark", "remarks", "narrative", "memo",
                               "freetext", "observation", "observations"})


def free_text_columns(frame: pd.DataFrame, known_columns: frozenset[str] = frozenset()) -> list[str]:
    """Columns of free text, outside ``known_columns``: named as notes ('Notes', 'Clinician
    comments', 'Remarks'), or mostly sentences: at least three distinct values, half of them of
    four words or more and not in capitals, nearly one per row (at least half as many as the
    values). A coded label of many words repeated over rows ('BLACK OR AFRICAN AMERICAN', CDISC
    RACE) is not free text. Notes name people ("spoke with her husband John"), in ways no pattern
    catches, and are not analysed: the loader does not read them."""
    found = []
    for column in frame.columns:
        if column == "source_row" or column in known_columns or not _is_text(frame[column]):
            continue
        if _FREE_TEXT_TOKENS.intersection(_tokens(column)):
            found.append(column)
            continue
        values = _sample_distinct(frame[column])
        if len(values) < 3 or frame[column].nunique() < 0.5 * frame[column].notna().sum():
            continue
        if ((values.str.split().str.len() >= 4) & (values != values.str.upper())).mean() >= 0.5:
            found.append(column)
    return found
