"""The HTML report of a single page includes every result shown on it (issue 10): each figure,
table and stated result the page draws has its section in the page's report (the same objects the
"Download this view as an HTML report" button builds from), and the report's HTML carries each
section's title, figures and tables."""

from __future__ import annotations

import html

import pytest

from analysis.export import html_report
from dashboard import report
from tests.dashboard.apptest import charts, no_exception, open_page

PAGES = ["overview", "trajectories", "onset", "durability", "compare", "series", "symptoms", "timeline"]


@pytest.mark.parametrize("page", PAGES)
def test_the_page_report_holds_every_result_the_page_shows(page: str, page_reports: list[report.Report]) -> None:
    built = page_reports
    at = open_page(page, group="route")
    no_exception(at)
    assert built, f"the {page} page offers no HTML report"
    sections = built[-1].sections
    shown = [c for c in charts(at) if not c.key or not c.key.startswith("report_chart_")]
    assert len(shown) == sum(len(s.figures) for s in sections), \
        f"{page}: {len(shown)} figures shown, {sum(len(s.figures) for s in sections)} in its report"
    shown_tables = [d for d in at.dataframe if d.key is None or str(d.key).startswith("table_")]
    assert len(shown_tables) == sum(len(s.tables) for s in sections), \
        f"{page}: {len(shown_tables)} tables shown, {sum(len(s.tables) for s in sections)} in its report"
    print(f"{page}: {len(shown)} figures, {len(shown_tables)} tables, {len(sections)} results in its report")
    # every result with an "Add to report" button is a section, and no section lacks its button
    buttons = sorted(b.key for b in at.button if b.label == "Add to report")
    assert buttons == sorted(f"add_{'figure' if s.figures else 'table'}_{report.slug(built[-1].title)}_"
                             f"{report.slug(s.title)}" for s in sections)
    text = html_report(page, sections)
    for section in sections:
        assert f"<h2>{html.escape(section.title)}</h2>" in text
        for name, _ in section.tables:
            assert f"<h3>{html.escape(name)}</h3>" in text
    assert text.count("class='figure'") == len(shown)
