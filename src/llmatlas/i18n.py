"""Message catalogs and locale formatting for the CLI (domain ``cli``) and the web UI (``ui``).

Catalogs are gettext ``.po`` files under ``llmatlas/locale/<lang>/LC_MESSAGES/<domain>.po``,
compiled in memory with Babel the first time a language is used (no build step), so an
English run never imports Babel's message code at all: English is the msgids themselves.

The language of the current run (CLI) or request (server) lives in a context variable:
``set_language`` for a whole CLI run, ``using`` for a block, and the server negotiates
each request's language from ``Accept-Language`` with :func:`negotiate`.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import gettext as _gettext

# cli: the command line's messages; ui: the web UI's; catalog: summaries of facts whose
# original is English (licence conditions), keyed by the English text, so a summary is
# flagged as stale by `make messages` when the original changes.
DOMAINS = ("cli", "ui", "catalog")
DEFAULT = "en"
# Languages with catalogs, in gettext form (underscore): Traditional Chinese as used in
# Taiwan, Simplified Chinese as used in mainland China, and English (the msgids).
LANGUAGES = ("en", "zh_TW", "zh_CN")
# Their BCP 47 spellings, for HTML lang= and Content-Language.
BCP47 = {"en": "en", "zh_TW": "zh-Hant-TW", "zh_CN": "zh-Hans-CN"}
# What each language is called in itself (for a language switcher).
NATIVE_NAMES = {"en": "English", "zh_TW": "繁體中文", "zh_CN": "简体中文"}

_HANT_REGIONS = {"TW", "HK", "MO"}
_HANS_REGIONS = {"CN", "SG", "MY"}
_TAG = re.compile(r"^[A-Za-z]{1,8}([-_][A-Za-z0-9]{1,8})*$")

_current: contextvars.ContextVar[str] = contextvars.ContextVar("llmatlas_lang", default=DEFAULT)


def normalize(tag: str | None) -> str | None:
    """A language tag in any common spelling -> one of :data:`LANGUAGES`, or None.

    Accepts BCP 47 (``zh-Hant``, ``zh-TW``, ``zh-Hant-HK``), POSIX locales
    (``zh_TW.UTF-8``, ``en_US.utf8@euro``) and bare languages (``zh`` is Simplified, as
    CLDR's likely subtags say; ``en``). ``C``/``POSIX`` mean English.
    """
    if not tag:
        return None
    t = tag.strip().split(".")[0].split("@")[0]
    if t.upper() in ("C", "POSIX"):
        return DEFAULT
    if not _TAG.match(t):
        return None
    parts = re.split(r"[-_]", t)
    lang = parts[0].lower()
    if lang == "en":
        return "en"
    if lang != "zh":
        return None
    script = next((p.title() for p in parts[1:] if len(p) == 4 and p.isalpha()), None)
    region = next((p.upper() for p in parts[1:] if len(p) == 2 and p.isalpha()), None)
    if script is None and region in _HANT_REGIONS:
        script = "Hant"
    elif script is None and region in _HANS_REGIONS:
        script = "Hans"
    if script is None and region is None:
        script = "Hans"  # CLDR likely subtags: zh -> zh_Hans_CN
    if script == "Hant":
        return "zh_TW"
    if script == "Hans":
        return "zh_CN"
    return None


def require(tag: str) -> str:
    """Like :func:`normalize`, but an unsupported tag is a user error (for ``--lang``)."""
    from llmatlas.errors import BadInputError

    lang = normalize(tag)
    if lang is None:
        raise BadInputError.translatable(
            "unsupported language {tag!r}; use one of en, zh-TW (繁體中文), zh-CN (简体中文)",
            tag=tag,
        )
    return lang


def from_environ(environ: Mapping[str, str]) -> str:
    """The language gettext would pick from a process environment, limited to ours.

    ``LLMATLAS_LANG`` first; then POSIX rules: the first set of ``LC_ALL``, ``LC_MESSAGES``,
    ``LANG`` is the locale, and ``LANGUAGE`` (a colon-separated preference list) applies
    unless that locale is C/POSIX. Anything we have no catalog for falls back to English.
    """
    own = normalize(environ.get("LLMATLAS_LANG"))
    if own:
        return own
    posix = next((environ[k] for k in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(k)), None)
    if posix is None or posix.split(".")[0].upper() in ("C", "POSIX"):
        return DEFAULT
    return choose([*environ.get("LANGUAGE", "").split(":"), posix])


def parse_accept_language(header: str | None) -> list[tuple[str, float]]:
    """``Accept-Language`` (RFC 9110 §12.5.4) -> [(tag, q)], best first, q=0 dropped.

    Malformed items are skipped, never an error: a header must not break a page.
    """
    out: list[tuple[int, str, float]] = []
    for i, item in enumerate((header or "").split(",")):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip()
        if not tag or not (tag == "*" or _TAG.match(tag)):
            continue
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip().lower() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = -1.0
        if 0 < q <= 1:
            out.append((i, tag, q))
    out.sort(key=lambda x: (-x[2], x[0]))
    return [(tag, q) for _, tag, q in out]


def negotiate(accept_language: str | None, default: str = DEFAULT) -> str:
    """The best of :data:`LANGUAGES` for an ``Accept-Language`` header."""
    return choose((tag for tag, _ in parse_accept_language(accept_language)), default)


# -- catalogs ------------------------------------------------------------------------
def _po_bytes(lang: str, domain: str) -> bytes | None:
    from importlib import resources  # English never reads a catalog

    path = resources.files("llmatlas") / "locale" / lang / "LC_MESSAGES" / f"{domain}.po"
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _cache_dir() -> Path:
    from llmatlas.settings import Settings

    return Settings.from_env().home / "cache" / "locale"


@functools.cache
def translations(lang: str, domain: str = "cli") -> _gettext.NullTranslations:
    """The compiled catalog of one language and domain (English: the msgids themselves).

    The .po is compiled with Babel once and the .mo kept under LLMATLAS_HOME/cache/locale,
    keyed by the .po's hash, so later runs load it with the standard library alone.
    """
    import gettext as _gettext

    if domain not in DOMAINS:
        raise ValueError(f"unknown message domain {domain!r}")
    if lang == DEFAULT or lang not in LANGUAGES:
        return _gettext.NullTranslations()
    po = _po_bytes(lang, domain)
    if po is None:
        return _gettext.NullTranslations()
    import hashlib  # only where a language is loaded (English never is)

    cached = _cache_dir() / lang / f"{domain}-{hashlib.sha256(po).hexdigest()[:16]}.mo"
    try:
        return _gettext.GNUTranslations(BytesIO(cached.read_bytes()))
    except (OSError, ValueError):
        pass
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalog = read_po(BytesIO(po), locale=lang, domain=domain)
    buf = BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    try:  # best effort: a read-only home only costs the compile next time
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, cached)
    except OSError:
        pass
    return _gettext.GNUTranslations(BytesIO(buf.getvalue()))


@functools.cache
def messages(lang: str, domain: str = "ui") -> Mapping[str, str | list[str]]:
    """msgid -> translation for a whole domain (the web UI receives this as JSON); a plural
    message is keyed by its singular msgid and holds its forms in the catalog's order.

    Untranslated and fuzzy entries are left out, so the caller falls back to the msgid.
    """
    if lang == DEFAULT or lang not in LANGUAGES:
        return {}
    po = _po_bytes(lang, domain)
    if po is None:
        return {}
    from babel.messages.pofile import read_po

    out: dict[str, str | list[str]] = {}
    for m in read_po(BytesIO(po), locale=lang, domain=domain):
        if not m.id or not m.string or m.fuzzy:
            continue
        if isinstance(m.id, str):
            out[m.id] = str(m.string)
        elif isinstance(m.string, tuple | list) and all(m.string):
            out[str(m.id[0])] = [str(s) for s in m.string]
    return out


# -- the current language --------------------------------------------------------------
def get_language() -> str:
    return _current.get()


def set_language(lang: str) -> None:
    """Set the language for the rest of this context (a CLI run)."""
    _current.set(lang if lang in LANGUAGES else DEFAULT)


@contextlib.contextmanager
def using(lang: str) -> Iterator[str]:
    """Run a block in one language (a server request, a test)."""
    token = _current.set(lang if lang in LANGUAGES else DEFAULT)
    try:
        yield lang
    finally:
        _current.reset(token)


def gettext(message: str, domain: str = "cli") -> str:
    lang = _current.get()
    if lang == DEFAULT:
        return message
    return translations(lang, domain).gettext(message)


def ngettext(singular: str, plural: str, n: int, domain: str = "cli") -> str:
    lang = _current.get()
    if lang == DEFAULT:
        return singular if n == 1 else plural
    return translations(lang, domain).ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:
    """Mark a msgid for extraction where it is defined; it is translated where shown."""
    return message


def catalog_summary(text: str, lang: str | None = None) -> str | None:
    """A summary of the catalog's English text (licence conditions, family descriptions) in
    the current language, or None (English, or no summary written yet). Shown beside the
    original, never instead of it."""
    lang = lang or _current.get()
    if lang == DEFAULT:
        return None
    summary = translations(lang, "catalog").gettext(text)
    return summary if summary != text else None


# -- locale formatting -----------------------------------------------------------------
def format_number(value: float | int, decimals: int | None = None, lang: str | None = None) -> str:
    """Grouped per locale (1,234,567 in en and zh-TW alike; other digits where a locale
    uses them). ``decimals`` fixes the fraction digits; None keeps what the value has."""
    lang = lang or _current.get()
    if lang == "en" and decimals in (None, 0) and _whole(value):
        return f"{int(value):,}"  # what CLDR's English pattern gives, without loading it
    from babel.numbers import format_decimal

    fmt = None if decimals is None else "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=fmt, locale=lang)


def _whole(value: float | int) -> bool:
    if isinstance(value, int):
        return True
    # -0.0 is "-0" in CLDR's pattern
    return isinstance(value, float) and value.is_integer() and abs(value) < 2**53 and value != 0


# CLDR's English date patterns (short M/d/yy, medium MMM d, y, long MMMM d, y): loading
# Babel's locale data for them costs 30-60 ms, more than the rest of `show`.
_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def format_date(value: Any, length: str = "medium", lang: str | None = None) -> str:
    """A date per locale: 'Jan 12, 2024' / '2024年1月12日' (length: short|medium|long)."""
    lang = lang or _current.get()
    if lang == "en" and type(value) is dt.date and length in ("short", "medium", "long"):
        if length == "short":
            return f"{value.month}/{value.day}/{value.year % 100:02d}"
        month = _EN_MONTHS[value.month - 1]
        return f"{month if length == 'long' else month[:3]} {value.day}, {value.year}"
    from babel.dates import format_date as _fmt

    return _fmt(value, format=length, locale=lang)


def choose(candidates: Iterable[str], default: str = DEFAULT) -> str:
    """The first supported language among tags in preference order."""
    for tag in candidates:
        lang = normalize(tag)
        if lang:
            return lang
    return default
