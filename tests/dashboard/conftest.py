"""Fixtures shared by the dashboard's AppTests."""

from __future__ import annotations

import pytest

from dashboard import components, report


@pytest.fixture
def page_reports(monkeypatch: pytest.MonkeyPatch) -> list[report.Report]:
    """Every page report the runs built (the objects the HTML report button builds from)."""
    built: list[report.Report] = []
    original = report.report_download

    def keep(page_report: report.Report) -> None:
        built.append(page_report)
        original(page_report)

    for module in (report, components):  # the pages import it from dashboard.components
        monkeypatch.setattr(module, "report_download", keep)
    return built
