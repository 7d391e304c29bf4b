"""Finding English left in a translated page or terminal: the English msgids of a message
catalog as patterns (a test helper shared by the browser and CLI language tests)."""

from __future__ import annotations

import re

from llmatlas import i18n

# What a {placeholder} of an English message stands for: values (numbers, ids, names), never
# Chinese text ("{tps} tok/s" must not match a translated sentence that ends in "tok/s").
PLACEHOLDER = "[^\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+?"


def pattern(msgid: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^{}]*\}", msgid)
    return re.compile(PLACEHOLDER.join(re.escape(p) for p in parts), re.DOTALL)


def english_messages(domain: str, lang: str = "zh_TW") -> list[re.Pattern[str]]:
    """Patterns of the msgids whose translation differs; a whole text that matches one was
    left in English."""
    return [
        pattern(msgid)
        for msgid, tr in i18n.messages(lang, domain).items()
        if isinstance(tr, str) and tr != msgid and len(msgid) > 1
    ]


def english_sentences(
    domain: str = "cli", lang: str = "zh_TW"
) -> tuple[list[re.Pattern[str]], ...]:
    """The English sentences the server, the advisor and the CLI write, as (patterns searched
    inside a text, patterns matching a whole text): a template with placeholders and at least
    three English words is searched for (it may sit inside other words); a shorter or fixed
    one must be a whole text, so catalog facts quoted in English cannot trip it."""
    inside, whole = [], []
    for msgid, tr in i18n.messages(lang, domain).items():
        if not isinstance(tr, str) or tr == msgid or len(msgid) < 3:
            continue
        parts = re.split(r"\{[^{}]*\}", msgid)
        words = re.findall(r"[A-Za-z]{3,}", " ".join(parts))
        (inside if len(parts) > 1 and len(words) >= 3 else whole).append(pattern(msgid))
    return inside, whole


def untranslated(texts: list[str], domain: str = "cli", lang: str = "zh_TW") -> list[str]:
    """The texts that hold one of ``domain``'s English sentences (those ``lang`` translates)."""
    inside, whole = english_sentences(domain, lang)
    return sorted(
        {s for s in texts if any(p.search(s) for p in inside) or any(p.fullmatch(s) for p in whole)}
    )
