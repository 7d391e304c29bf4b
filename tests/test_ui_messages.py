"""The web UI's message catalogs (gettext domain `ui`) against the strings in its ES modules.

No browser: the msgids are extracted from the JavaScript with Babel, as `make messages` does,
and every language must translate each one, keeping its {placeholders}.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from llmatlas import i18n

JS = Path(i18n.__file__).parent / "server" / "static" / "js"
KEYWORDS = {"t": None, "N_": None, "tn": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _msgids() -> set[str]:
    found = extract_from_dir(
        str(JS), method_map=[("**.js", "javascript")], keywords=KEYWORDS, comment_tags=()
    )
    return {m[2] if isinstance(m[2], str) else m[2][0] for m in found}


MSGIDS = _msgids()


def test_extraction_finds_the_ui_strings() -> None:
    assert len(MSGIDS) > 250
    assert {"Catalog", "What can I run?", "Skip to content"} <= MSGIDS


@pytest.mark.parametrize("lang", ["zh_TW", "zh_CN"])
def test_every_ui_string_is_translated(lang: str) -> None:
    msgs = i18n.messages(lang, "ui")
    missing = sorted(MSGIDS - set(msgs))
    assert not missing, f"{lang}: untranslated UI strings (run `make messages`): {missing[:10]}"
    for msgid in MSGIDS:
        forms = msgs[msgid]
        for text in [forms] if isinstance(forms, str) else forms:
            want = set(PLACEHOLDER.findall(msgid))
            assert set(PLACEHOLDER.findall(text)) == want, f"{lang}: {msgid!r} -> {text!r}"


def test_traditional_and_simplified_differ() -> None:
    tw, cn = i18n.messages("zh_TW", "ui"), i18n.messages("zh_CN", "ui")
    assert tw["Memory and speed"] == "記憶體與速度"
    assert cn["Memory and speed"] == "内存与速度"
    assert tw["Catalog"] != cn["Catalog"]
