"""The instrument registry: values from DOMAIN.md's table, aliases, user registration."""

from __future__ import annotations

import pytest

from analysis import instruments
from analysis.instruments import Instrument, UnknownInstrumentError, get_instrument, register_instrument

# (name, range, remission_max, suicidality item), from ../shared/DOMAIN.md.
DOMAIN_TABLE = [
    ("MADRS", 0, 60, 10, 10),
    ("HAM-D17", 0, 52, 7, 3),
    ("QIDS-SR16", 0, 27, 5, 12),
    ("PHQ-9", 0, 27, 4, 9),  # "< 5"
    ("BDI-II", 0, 63, 13, 9),
    ("CADSS", 0, 92, None, None),
    ("GAD-7", 0, 21, 4, None),
    # Not in DOMAIN.md: PCL-5, 20 items 0-4 (Blevins et al. 2015), probable PTSD at 33 or more
    # (Bovin et al. 2016: cut-points 31-33).
    ("PCL-5", 0, 80, 32, None),
]


@pytest.mark.parametrize(("name", "low", "high", "remission_max", "suicidality_item"), DOMAIN_TABLE)
def test_registry_matches_domain_notes(name, low, high, remission_max, suicidality_item):
    instrument = get_instrument(name)
    assert (instrument.min_score, instrument.max_score) == (low, high)
    assert instrument.remission_max == remission_max
    assert instrument.suicidality_item == suicidality_item
    assert instrument.n_items * instrument.item_max >= instrument.max_score


@pytest.mark.parametrize(
    ("alias", "name"),
    [("madrs", "MADRS"), ("HAMD", "HAM-D17"), ("HDRS17", "HAM-D17"), ("hamd17", "HAM-D17"),
     ("QIDS_SR", "QIDS-SR16"), ("PHQ9", "PHQ-9"), ("bdi2", "BDI-II"), ("gad 7", "GAD-7"),
     ("pcl5", "PCL-5")],
)
def test_aliases_are_case_and_punctuation_insensitive(alias, name):
    assert get_instrument(alias).name == name


def test_unknown_instrument_suggests_closest():
    with pytest.raises(UnknownInstrumentError) as error:
        get_instrument("MADSR")
    assert error.value.suggestion == "MADRS"
    assert "Did you mean 'MADRS'" in str(error.value)


def test_user_can_register_an_instrument_and_clashes_are_refused(monkeypatch):
    # on copies of the registry, so the test instrument does not leak into other tests
    monkeypatch.setattr(instruments, "_REGISTRY", dict(instruments._REGISTRY))
    monkeypatch.setattr(instruments, "_ALIASES", dict(instruments._ALIASES))
    ymrs = Instrument("YMRS-TEST", "Young Mania Rating Scale", 0, 60, 11, 0, 8,
                      domain="mania", aliases=("YMRSTEST",))
    register_instrument(ymrs)
    assert get_instrument("ymrs_test") is ymrs
    with pytest.raises(ValueError, match="already registered"):
        register_instrument(Instrument("OTHER", "x", 0, 10, 1, 0, 10, aliases=("MADRS",)))
    assert "YMRS-TEST" in instruments.instrument_names()
