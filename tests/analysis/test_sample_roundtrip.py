"""The bundled sample (data/sample) is exactly what the simulator writes, and loads back to the
simulated dataset. Reference: ``analysis.simulate(**SAMPLE_ARGUMENTS)`` itself (regenerate the
files with ``python -m analysis.simulation --sample data/sample`` after a model change)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pandas.testing import assert_frame_equal

from analysis.contract import empty_events
from analysis.loading import load_sample
from analysis.simulation import SAMPLE_ARGUMENTS, SAMPLE_COMMAND, sample_files, simulate

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
FILES = ("assessments.csv", "infusions.csv", "patients.csv", "events.csv", "single_file.csv", "README.md")
TABLES = ("assessments", "infusions", "patients", "events")


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
    for name in FILES[:5]:
        header = (SAMPLE_DIR / name).read_text(encoding="utf-8").splitlines()[0].split(",")
        for column in header:
            assert f"| {column} |" in readme or f"`{column}`" in readme, (name, column)
    for parameter, row in simulated.truth.summary().iterrows():
        assert f"| {parameter} | {row['value']} |" in readme
    # the truth table is in the README, one line per true value
    table = simulated.truth.table()
    assert readme.count("| single |") == (table["course"] == "single").sum()
    assert readme.count("| series |") == (table["course"] == "series").sum()
    median = table[(table["estimand"] == "durability_median_days") & (table["course"] == "series")].iloc[0]
    assert f"| {median['booster_strategy']} | {median['rescue_strategy']} | {median['value']:.2f} |" in readme


def test_sample_shows_the_intercurrent_events_and_dropout(simulated):
    """The sample is realistic where it used to mislead: remission well below response, dropout
    after the first infusion, about half of series patients stopping before the sixth, boosters
    and rescue in the events table (tolerances: 4 binomial SE at the sample's size)."""
    latent, events = simulated.truth.latent, simulated.events
    n = len(latent)
    assert latent["remitter"].mean() < 0.7 * latent["responder"].mean()
    assert {"booster", "rescue", "discontinued"} == set(events["event"])
    series = latent[latent["course"] == "series"]
    stopped = (series["n_infusions_given"] < 6).mean()
    assert abs(stopped - 0.526) < 4 * (0.25 / len(series)) ** 0.5
    first_only = (latent["n_infusions_given"] == 1)[latent["course"] == "series"].mean()
    assert abs(first_only - 0.208) < 4 * (0.208 * 0.792 / len(series)) ** 0.5
    assert events.loc[events["event"] == "rescue", "patient_id"].nunique() / n > 0.1


@pytest.mark.parametrize("form", ["tables", "single"])
def test_load_sample_returns_the_simulated_tables(form, simulated):
    """The tables form has all four tables; the single-file form has no place for events."""
    loaded = load_sample(form)
    expected = simulated if form == "tables" else dataclasses.replace(simulated, events=empty_events(),
                                                                      _fingerprint=[])
    for name in TABLES:
        assert_frame_equal(getattr(loaded, name).reset_index(drop=True),
                           getattr(expected, name).reset_index(drop=True), check_exact=True, obj=name)
    assert loaded.fingerprint == expected.fingerprint
