"""Property tests: whatever bytes or CSV text a user uploads, load() either returns OutcomeData
or raises DataError (a readable list of problems), never any other exception."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import analysis
from analysis.contract import DataError, OutcomeData

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HEADER = "patient_id,instrument,item,score,time_hours,route,age,diagnosis\n"
cell = st.one_of(
    st.sampled_from(["", "K01", "K02", "MADRS", "madrs", "CADSS", "PHQ-9", "XYZ", "IV", "im", "TRD", "bipolar",
                     "-1", "0", "4", "24", "30", "61", "1e9", "nan", "NA", "2024-01-02", "a@b.org", '"', ";"]),
    st.integers(-100, 200).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=8),
)
row = st.lists(cell, min_size=0, max_size=10).map(lambda cells: ",".join(c.replace("\n", " ") for c in cells))


def _load_either(content) -> None:
    try:
        result = analysis.load(content)
    except DataError as error:
        assert len(error.problems) >= 1
        assert str(error)
        return
    assert isinstance(result, OutcomeData)
    assert result.assessments["score"].notna().all()


@SETTINGS
@given(st.binary(max_size=2000))
@example(b"")
@example(b"\x89PNG\r\n\x1a\n")
@example(b"PK\x03\x04garbage")
@example(b"PAR1garbage")
@example(b"\xef\xbb\xbf")
def test_arbitrary_bytes_load_or_raise_data_error(content):
    _load_either(content)


@SETTINGS
@given(st.lists(row, min_size=0, max_size=12), st.booleans())
def test_arbitrary_csv_text_loads_or_raises_data_error(rows, with_header):
    text = (HEADER if with_header else "") + "\n".join(rows)
    _load_either(io.BytesIO(text.encode("utf-8")))


@SETTINGS
@given(st.text(max_size=400))
def test_arbitrary_text_loads_or_raises_data_error(text):
    _load_either(text.encode("utf-8", errors="surrogatepass"))
