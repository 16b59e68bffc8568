"""The Trajectories page's visit panels, left to right, and the note under them list the schedules
single infusion, series, boosters (``schedule_rank``), not alphabetically; read back from the
page's figure (AppTest) on the bundled sample."""

from __future__ import annotations

from tests.dashboard.apptest import clean, open_page, plotted

EXPECTED = ["single", "series", "series boosters"]


def test_trajectories_visit_panels_and_note_in_schedule_order():
    at = open_page("trajectories", group="diagnosis")
    clean(at)
    layout = plotted(at)[0]["layout"]
    titles = sorted((a for a in layout["annotations"] if a["text"].startswith("schedule: ")), key=lambda a: a["x"])
    assert [a["text"].removeprefix("schedule: ") for a in titles] == EXPECTED
    # each title sits over its own panel: the axes' domains in the same left-to-right order
    domains = sorted(v["domain"] for k, v in layout.items() if k.startswith("xaxis"))
    assert all(low <= a["x"] <= high for (low, high), a in zip(domains, titles, strict=True))
    note = next(c.value for c in at.caption if "has its own panel" in c.value)
    listed = note.rsplit("): ", 1)[1].split(". ")[0]  # "single 177 patients, series 123 patients, ..."
    assert [entry.rsplit(" ", 2)[0] for entry in listed.split(", ")] == EXPECTED, note
