"""Take the README's screenshots of each main dashboard page (Playwright + Debian's Chromium).

Start the app first, then run this script from the repository root::

    .venv/bin/streamlit run app.py --server.headless true --server.port 8599 &
    .venv/bin/python docs/make_screenshots.py --url http://localhost:8599

Each page is opened on the bundled sample with the default settings (the Compare page grouped by
diagnosis, see ``QUERIES``; ``--query`` sets another query string for every page), the script waits until Streamlit has finished running and every chart is
drawn, refuses pages showing an exception box, and saves ``docs/screenshots/<page>.png`` (first
screen, 1400 x 900), reduced to a 256-colour palette so each file stays small. Never runs
``playwright install``: the browser is /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.serve import (  # noqa: E402 - after the path is set
    APP_IDLE_JS,
    CHARTS_DRAWN_JS,
    CHROMIUM,
    CHROMIUM_ARGS,
    SKELETONS_GONE_JS,
)

OUT = ROOT / "docs" / "screenshots"
# URL path of each page (app.py: st.Page file names; the default page "Data" is the root).
PAGES = {"data": "", "overview": "overview", "trajectories": "trajectories", "onset": "onset",
         "durability": "durability", "compare": "compare", "series": "series",
         "symptoms": "symptoms", "timeline": "timeline"}
# Settings in the URL for pages that show more with a grouping (the Compare page's log-rank test).
QUERIES = {"compare": "group=diagnosis"}
MAX_BYTES = 300_000

BAD_TEXT = ("Traceback", "could not be computed")


def compress(png: bytes) -> bytes:
    """Quantise to a 256-colour palette (screenshots are flat UI colours: no visible loss)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://localhost:8599", help="running dashboard")
    parser.add_argument("--query", default=None,
                        help="query string for every page, e.g. group=route (default: QUERIES)")
    parser.add_argument("--pages", nargs="*", default=list(PAGES), help="pages to capture")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds to wait after idle")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    failed = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name in args.pages:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            query = QUERIES.get(name, "") if args.query is None else args.query
            url = f"{args.url.rstrip('/')}/{PAGES[name]}" + (f"?{query}" if query else "")
            try:
                page.goto(url)
                page.wait_for_selector('[data-testid="stApp"]', timeout=120_000)
                for predicate in (APP_IDLE_JS, CHARTS_DRAWN_JS, SKELETONS_GONE_JS, APP_IDLE_JS):
                    page.wait_for_function(predicate, timeout=180_000, polling=200)
                time.sleep(args.settle)
                body = page.locator('[data-testid="stMain"]').inner_text()
                problems = [text for text in BAD_TEXT if text in body]
                if page.locator('[data-testid="stException"]').count():
                    problems.append("exception box")
                png = compress(page.screenshot(full_page=False))
                (OUT / f"{name}.png").write_bytes(png)
                print(f"{name:13s} {len(png) / 1000:6.0f} KB  {url}"
                      + (f"  PROBLEMS: {problems}" if problems else ""))
                if problems or len(png) > MAX_BYTES:
                    failed.append(name)
            finally:
                context.close()
        browser.close()
    if failed:
        print(f"Check these pages: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
