"""User-controlled text shown through markdown renders as that text and nothing else.

Reference: markdown-it-py with the GFM-like preset, HTML and linkify on (a second, independent
markdown implementation; Streamlit's frontend uses remark with GFM, which follows the same
CommonMark escaping rules)."""

from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt

from dashboard.security import md

RENDER = MarkdownIt("gfm-like", {"linkify": True, "html": True}).enable("linkify")
HOSTILE_TEXT = [
    "[click](https://evil.example/steal)",
    "![pixel](https://evil.example/p.png)",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "see www.evil.example now",
    "https://evil.example/x",
    "mail me@evil.example",
    "**bold** _em_ ~~gone~~ `code`",
    "# Heading",
    "- list item",
    "1. numbered",
    "> quote",
    "=HYPERLINK(\"http://evil.example\",\"x\")",
    "a | b | c",
    "&lt;b&gt;entity&lt;/b&gt;",
    "line one\nline two\n\n# not a heading",
    ":red[coloured] :material/warning: $x^2$",
    "\\[escaped\\](http://evil.example)",
    "[a]: http://evil.example\n[a]",
]
TAGS = re.compile(r"<(?!/?p>)[a-z/][^>]*>")


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_escaped_text_renders_as_itself(text):
    rendered = RENDER.render(md(text, 1000)).strip()
    assert not TAGS.search(rendered), rendered  # only the paragraph itself
    shown = html.unescape(re.sub(r"</?p>", "", rendered)).strip()
    assert shown == " ".join(text.split()).strip() or shown == re.sub(r"[\r\n\t]+", " ", text).strip()


def test_ordinary_sentences_keep_their_text():
    for sentence in ("95% CI 12% to 30% (Wilson).", "compound symmetry within-patient covariance",
                     "Definitions: response is a 50% reduction; relapse after 2 visits."):
        assert md(sentence, 1000) == sentence


def test_long_text_is_cut():
    assert md("x" * 500, 40) == "x" * 40 + "..."
