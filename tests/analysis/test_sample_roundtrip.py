"""The bundled sample (data/sample) is exactly what the simulator writes, and loads back to the
simulated dataset. Reference: ``analysis.simulate(**SAMPLE_ARGUMENTS)`` itself (regenerate the
files with ``python -m analysis.simulation --sample data/sample`` after a model change)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pandas.testing import assert_frame_equal

from analysis.loading import load_sample
from analysis.simulation import SAMPLE_ARGUMENTS, SAMPLE_COMMAND, sample_files, simulate

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
FILES = ("assessments.csv", "infusions.csv", "patients.csv", "single_file.csv", "README.md")


@pytest.fixture(scope="module")
def simulated():
    return simulate(**SAMPLE_ARGUMENTS)


@pytest.fixture(scope="module")
def expected_files(simulated):
    return sample_files(simulated, SAMPLE_ARGUMENTS)


@pytest.mark.parametrize("name", FILES)
def test_sample_file_equals_the_simulator_output(name, expected_files):
    path = SAMPLE_DIR / name
    assert path.exists(), f"{path} is missing: run `{SAMPLE_COMMAND}`"
    on_disk = path.read_text(encoding="utf-8")
    assert on_disk == expected_files[name], f"{path} is stale: run `{SAMPLE_COMMAND}`"
    assert path.stat().st_size < 2_000_000


def test_sample_is_mixed_and_documented(simulated):
    patients, infusions = simulated.patients, simulated.infusions
    assert 200 <= len(patients) <= 500
    assert set(patients["diagnosis"]) == {"TRD", "MDD", "bipolar", "PTSD", "other"}
    assert set(patients["course"]) == {"single", "series"}
    assert set(infusions["route"]) >= {"IV", "IM", "intranasal", "sublingual", "oral"}
    readme = (SAMPLE_DIR / "README.md").read_text(encoding="utf-8")
    assert SAMPLE_COMMAND in readme
    # every column of every file is in the data dictionary, and every true parameter is listed
    for name in FILES[:4]:
        header = (SAMPLE_DIR / name).read_text(encoding="utf-8").splitlines()[0].split(",")
        for column in header:
            assert f"| {column} |" in readme or f"`{column}`" in readme, (name, column)
    for parameter, row in simulated.truth.summary().iterrows():
        assert f"| {parameter} | {row['value']} |" in readme


@pytest.mark.parametrize("form", ["tables", "single"])
def test_load_sample_returns_the_simulated_tables(form, simulated):
    loaded = load_sample(form)
    for name in ("assessments", "infusions", "patients"):
        assert_frame_equal(getattr(loaded, name).reset_index(drop=True),
                           getattr(simulated, name).reset_index(drop=True), check_exact=True, obj=name)
    assert loaded.fingerprint == simulated.fingerprint
