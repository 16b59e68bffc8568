"""Write the README's data-dictionary tables from the declarative contract (analysis.contract).

Run: ``.venv/bin/python docs/make_data_dictionary.py`` (rewrites the block between the
``data-dictionary`` markers in README.md); ``--check`` exits 1 when README.md is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.contract import data_dictionary  # noqa: E402

START, END = "<!-- data-dictionary:start -->", "<!-- data-dictionary:end -->"
TITLES = {"assessments": "**assessments** (required): one row per rating.",
          "infusions": "**infusions** (optional): one row per infusion. Without it, one IV infusion at time 0 is "
                       "assumed for each patient, and `.warnings` says so.",
          "patients": "**patients** (optional): one row per patient. Any other column is kept as a user covariate.",
          "events": "**events** (optional, `events.csv` in a folder, `events=`, or an `event` column in the single "
                    "file): one row per clinical event.",
          "file": "**single file only**: the start of the infusion each rating follows."}


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def render() -> str:
    """The markdown tables, one per contract table."""
    dictionary = data_dictionary()
    parts = []
    for table, title in TITLES.items():
        rows = dictionary[dictionary["table"] == table]
        parts += [title, "", "| column | type | required | unit | also accepted as | checks and meaning |",
                  "|---|---|---|---|---|---|"]
        for r in rows.itertuples(index=False):
            meaning = "; ".join(x for x in (r.meaning, r.checks) if x)
            aliases = ", ".join(f"`{a}`" for a in r._5.split(", ")) if r._5 else ""
            parts.append(f"| `{r.column}` | {r.type} | {r.required} | {_cell(r.unit)} | {_cell(aliases)} | "
                         f"{_cell(meaning)} |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def updated(readme: str) -> str:
    before, rest = readme.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{render()}{END}{after}"


def main(argv: list[str]) -> int:
    path = ROOT / "README.md"
    text = path.read_text(encoding="utf-8")
    new = updated(text)
    if "--check" in argv:
        return 0 if new == text else 1
    path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
