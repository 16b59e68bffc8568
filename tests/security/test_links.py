"""Crafted links through the whole app (AppTest): every refused value is named in a visible note,
nothing from a link renders as markup, and the URL cannot lower the small-cell floor."""

from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from dashboard.state import MIN_CELL_FLOOR
from tests.dashboard.apptest import no_exception, start

RENDER = MarkdownIt("gfm-like", {"linkify": True, "html": True}).enable("linkify")
MARKUP = re.compile(r"<(a|img|script|em|strong|code|h\d|li|blockquote|table)\b")  # in a note
ACTIVE = re.compile(r"<(a|img|script|iframe)\b")  # anywhere on the page (the app's own bold is fine)


def _notes(at: AppTest) -> list[str]:
    return [e.value for kind in ("warning", "info", "error") for e in getattr(at, kind)]


def _rendered(at: AppTest, kinds: tuple[str, ...] = ("warning", "info", "error")) -> str:
    return "\n".join(RENDER.render(e.value) for kind in kinds for e in getattr(at, kind))


def _inert(at: AppTest) -> bool:
    page = _rendered(at, ("warning", "info", "error", "markdown", "caption", "success"))
    return not MARKUP.search(_rendered(at)) and not ACTIVE.search(page)


@pytest.mark.parametrize("dataset", [
    "[click here](https://evil.example/phish)",
    "![x](https://evil.example/pixel.png)",
    "<img src=x onerror=alert(1)>",
    "simulated-20001-0",
    "simulated-12345-7",
    "simulated-1000-99999999999",
    "upload-../../etc/passwd",
    "sample%00",
])
def test_crafted_dataset_names_are_named_and_inert(dataset):
    at = start(dataset=dataset)
    no_exception(at)
    notes = " ".join(html.unescape(re.sub(r"<[^>]+>", "", RENDER.render(n))) for n in _notes(at))
    assert "dataset=" in notes, notes  # the note names the refused value
    assert dataset[:20] in notes or dataset[:20].replace("%00", "") in notes
    assert _inert(at), _rendered(at)
    assert "patients kept" not in " ".join(m.value for m in at.sidebar.markdown)


def test_out_of_range_values_are_named():
    at = start(response="99", instrument="![i](https://evil.example/i.png)", confirm="7", group="<b>x</b>")
    notes = " ".join(_notes(at))
    assert "99" in notes and "Response" in notes
    assert "Confirmation visits" in notes and "Compare groups by" in notes and "Instrument" in notes
    assert _inert(at), _rendered(at)


def test_a_link_cannot_lower_the_small_cell_floor_but_may_raise_it():
    low = start(min_cell="1")
    assert low.sidebar.number_input(key="min_cell").value == MIN_CELL_FLOOR
    assert any(f"server's minimum is {MIN_CELL_FLOOR}" in n for n in _notes(low))
    assert low.session_state["context"].settings.min_cell_size == MIN_CELL_FLOOR
    high = start(min_cell=str(MIN_CELL_FLOOR + 5))
    assert high.session_state["context"].settings.min_cell_size == MIN_CELL_FLOOR + 5
    assert not any("minimum cell size" in n for n in _notes(high))


def test_valid_links_give_no_note():
    at = start(dataset="sample", response="30", instrument="MADRS")
    assert not any("not valid here" in n for n in _notes(at))
