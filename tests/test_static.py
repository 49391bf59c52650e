"""The console's own stylesheet parses cleanly: an unclosed block would swallow later rules."""

from __future__ import annotations

from pathlib import Path

import tinycss2
from django.conf import settings

STYLESHEET = Path(settings.BASE_DIR) / "static" / "jupiter" / "jupiter.css"


def test_stylesheet_has_no_parse_errors_and_every_block_is_closed():
    text = STYLESHEET.read_text(encoding="utf-8")
    rules = tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True)
    assert [r for r in rules if r.type == "error"] == []
    assert text.count("{") == text.count("}")
    for rule in rules:
        if rule.type == "at-rule" and rule.lower_at_keyword == "media":
            inner = tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True)
            assert all(r.type == "qualified-rule" for r in inner), rule.prelude
