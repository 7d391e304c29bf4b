"""Language negotiation, the message catalogs, locale formatting and the CLI's --lang/LANG."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from typer.testing import CliRunner

from llmatlas import i18n
from llmatlas.cli import app

SRC = Path(str(resources.files("llmatlas")))
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2), "translatable": None}
runner = CliRunner()


@pytest.mark.parametrize(
    ("tag", "lang"),
    [
        ("zh-TW", "zh_TW"),
        ("zh_TW.UTF-8", "zh_TW"),
        ("zh-Hant", "zh_TW"),
        ("zh-Hant-HK", "zh_TW"),
        ("zh-HK", "zh_TW"),
        ("zh-MO", "zh_TW"),
        ("zh-CN", "zh_CN"),
        ("zh-Hans", "zh_CN"),
        ("zh_SG", "zh_CN"),
        ("zh", "zh_CN"),  # CLDR likely subtags: zh -> zh_Hans_CN
        ("en_US.utf8@euro", "en"),
        ("EN-gb", "en"),
        ("C.UTF-8", "en"),
        ("POSIX", "en"),
        ("fr_FR", None),
        ("", None),
        ("zh-Latn", None),
        ("../../etc", None),
    ],
)
def test_normalize(tag: str, lang: str | None) -> None:
    assert i18n.normalize(tag) == lang


def test_environment_precedence() -> None:
    f = i18n.from_environ
    assert f({}) == "en"
    assert f({"LANG": "zh_TW.UTF-8"}) == "zh_TW"
    assert f({"LANG": "zh_TW.UTF-8", "LC_ALL": "C.UTF-8"}) == "en"  # LC_ALL wins
    assert f({"LANG": "zh_TW.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}) == "zh_CN"
    assert f({"LANG": "en_US.UTF-8", "LANGUAGE": "fr:zh_TW:en"}) == "zh_TW"
    assert f({"LANG": "C", "LANGUAGE": "zh_TW"}) == "en"  # gettext ignores LANGUAGE under C
    assert f({"LANG": "de_DE.UTF-8"}) == "en"  # no catalog: English
    assert f({"LANG": "en_US.UTF-8", "LLMATLAS_LANG": "zh-Hant"}) == "zh_TW"


def test_accept_language() -> None:
    header = "fr-CH, fr;q=0.9, zh-TW;q=0.8, en;q=0.7, *;q=0.5"
    assert i18n.parse_accept_language(header)[:3] == [
        ("fr-CH", 1.0),
        ("fr", 0.9),
        ("zh-TW", 0.8),
    ]
    assert i18n.negotiate(header) == "zh_TW"
    assert i18n.negotiate("en;q=0.2, zh-Hans;q=0.9") == "zh_CN"
    assert i18n.negotiate("zh-TW;q=0, en") == "en"  # q=0 means "not this one"
    assert i18n.negotiate("zh-HK,zh;q=0.9") == "zh_TW"
    assert i18n.negotiate(None) == "en"
    assert i18n.negotiate(";;;q=x, ,zh-TW;q=abc, ja") == "en"  # junk never raises


def test_gettext_follows_the_current_language() -> None:
    msg = "unknown model {name}"
    assert i18n._(msg) == msg
    with i18n.using("zh_TW"):
        assert i18n._(msg) == "找不到模型 {name}"
        with i18n.using("zh_CN"):
            assert i18n._(msg) == "找不到模型 {name}"
            assert i18n._("error:") == "错误："
        assert i18n._("error:") == "錯誤："
    assert i18n._("error:") == "error:"
    with i18n.using("zh_TW"):
        assert i18n._("a string no catalog has") == "a string no catalog has"


def test_modelfile_errors_keep_english_text_and_translate() -> None:
    from llmatlas.errors import BadInputError
    from llmatlas.runtime.modelfile import check_name, parse_modelfile

    with pytest.raises(BadInputError) as bad:
        parse_modelfile("FROM tiny\nFOO bar")
    assert str(bad.value) == "Modelfile line 2: unknown instruction 'FOO'"
    with pytest.raises(BadInputError) as name:
        check_name("a b")
    with i18n.using("zh_TW"):
        assert bad.value.localized() == "Modelfile 第 2 行：不明的指令 'FOO'"
        assert name.value.localized().startswith("模型名稱 'a b'：")
    with i18n.using("zh_CN"):
        assert bad.value.localized() == "Modelfile 第 2 行：未知的指令 'FOO'"
    assert str(name.value) == "model name 'a b': use letters, digits and - _ . : /"


def test_formatting_per_locale() -> None:
    d = dt.date(2024, 1, 12)
    assert i18n.format_date(d, lang="en") == "Jan 12, 2024"
    assert i18n.format_date(d, lang="zh_TW") == "2024年1月12日"
    assert i18n.format_number(32768, lang="zh_TW") == "32,768"
    assert i18n.format_number(1234.5, decimals=2, lang="en") == "1,234.50"
    with i18n.using("zh_TW"):
        assert i18n.format_date(d) == "2024年1月12日"


def _msgids() -> dict[str, str]:
    out = {}
    for filename, _lineno, message, _comments, _ctx in extract_from_dir(
        str(SRC), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        msgid = message if isinstance(message, str) else message[0]
        out[msgid] = filename
    return out


@pytest.mark.parametrize("lang", ["zh_TW", "zh_CN"])
def test_every_cli_message_is_translated(lang: str) -> None:
    """Each msgid the code marks has a translation that keeps its {placeholders}."""
    po = SRC / "locale" / lang / "LC_MESSAGES" / "cli.po"
    with po.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    have = {
        (m.id if isinstance(m.id, str) else m.id[0]): m
        for m in cat
        if m.id and m.string and not m.fuzzy
    }
    wanted = _msgids()
    missing = sorted(f"{f}: {k!r}" for k, f in wanted.items() if k not in have)
    assert not missing, "untranslated (run `make messages`, then translate):\n" + "\n".join(missing)
    field = re.compile(r"\{[^{}]*\}")
    for k in wanted:
        s = have[k].string
        s = s if isinstance(s, str) else s[0]
        assert sorted(field.findall(k)) == sorted(field.findall(s)), (k, s)


def test_cli_lang_flag_and_errors() -> None:
    r = runner.invoke(app, ["--lang", "zh-TW", "show", "no-such-model-xyz"])
    assert r.exit_code == 1
    assert "錯誤：" in r.stderr and "找不到模型 'no-such-model-xyz'" in r.stderr
    i18n.set_language("en")
    r = runner.invoke(app, ["--lang", "klingon", "models"])
    assert r.exit_code == 1 and "unsupported language 'klingon'" in r.stderr
    assert "Traceback" not in r.stderr


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG"))}
    environ.pop("LLMATLAS_LANG", None)
    environ.update(env)
    code = "from llmatlas.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=environ
    )


def test_cli_language_from_lang_env_and_flag_anywhere() -> None:
    r = _cli("--help", LANG="zh_TW.UTF-8")
    assert r.returncode == 0 and "尋找、估算並自行架設" in r.stdout
    r = _cli("show", "no-such-model-xyz", "--lang", "zh-CN", LANG="en_US.UTF-8")
    assert r.returncode == 1 and "错误：" in r.stderr and "找不到模型" in r.stderr
    r = _cli("show", "no-such-model-xyz", "--lang=xx")
    assert r.returncode == 1 and "unsupported language 'xx'" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("lang", ["zh_TW", "zh_CN"])
def test_every_license_condition_has_a_summary(lang: str) -> None:
    """English licence conditions get a summary in each Chinese catalog (`make messages`
    turns a summary fuzzy, and so missing here, when the English line changes)."""
    from llmatlas.catalog import load

    missing = [
        lic.id
        for lic in load().licenses.values()
        if i18n.catalog_summary(lic.conditions, lang=lang) is None
    ]
    assert not missing
    assert (
        i18n.catalog_summary(
            "Keep the license and NOTICE; state changes. No use restrictions.", lang="en"
        )
        is None
    )


@pytest.mark.parametrize("lang", ["zh_TW", "zh_CN"])
def test_every_family_description_has_a_summary(lang: str) -> None:
    """`show FAMILY` in Chinese puts a marked summary beside the English "about" line."""
    from llmatlas.catalog import load

    missing = [
        f.family
        for f in load().families.values()
        if i18n.catalog_summary(f.description, lang=lang) is None
    ]
    assert not missing


def test_compiled_catalog_is_cached_and_loads_without_babel(isolated_home: Path) -> None:
    """The first zh run compiles the .po with Babel; later runs read the cached .mo."""
    code = (
        "import sys; from llmatlas import i18n; t = i18n.translations('zh_TW', 'cli'); "
        "print(t.gettext('error:'), 'babel.messages' in sys.modules)"
    )
    env = {**os.environ, "LLMATLAS_HOME": str(isolated_home)}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert first.stdout.split() == ["錯誤：", "True"]
    assert list((isolated_home / "cache" / "locale" / "zh_TW").glob("cli-*.mo"))
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert again.stdout.split() == ["錯誤：", "False"]


def _cells(text: str) -> list[str]:
    """Lines and table cells of a terminal answer (borders dropped)."""
    out = []
    for line in text.splitlines():
        out.append(line.strip())
        out += [c.strip() for c in re.split(r"[│┃]", line) if c.strip()]
    return [c for c in out if c]


@pytest.mark.parametrize(
    ("args", "code", "expect"),
    [
        (
            ("estimate", "llama-3.1-8b-instruct", "--device", "rtx-4090", "--gpus", "2"),
            0,
            ("放得下", "可用", "llama.cpp 把各層分到 2 張 GPU", "（良好）"),
        ),
        (
            ("fit", "--device", "rtx-4090", "--limit", "3", "--language", "繁體中文"),
            0,
            ("目標：", "每張 GPU 保留 1 GiB 餘裕", "語言 繁體中文：模型卡列出", "品質代價"),
        ),
        (
            ("recommend", "--tier", "8 GB GPU"),
            0,
            ("硬體", "一般對話", "繁體中文", "邊緣／行動裝置"),
        ),
        (
            ("deploy", "llama-3.1-70b-instruct", "-t", "vllm", "--device", "h100-sxm"),
            0,
            ("張量平行 2 × 管線平行 1", "每張 GPU：權重", "KV 池：", "# 提供服務"),
        ),
        (("estimate", "--help"), 0, ("用法：", "[選項]", "選項", "引數", "顯示這則說明後結束。")),
        (("deploy", "llama-3.1-8b-instruct"), 2, ("用法：", "錯誤", "缺少選項 '--target'")),
        (("fit", "--limit", "x"), 2, ("'--limit' 的值無效：", "整數")),
        (
            ("estimate", "llama-3.1-8b-instruct", "--device", "rtx-9999"),
            1,
            ("錯誤：", "找不到裝置"),
        ),
    ],
    ids=["estimate", "fit", "recommend", "deploy", "help", "missing-option", "bad-value", "error"],
)
def test_cli_answers_in_traditional_chinese_with_lang(
    args: tuple[str, ...], code: int, expect: tuple[str, ...]
) -> None:
    """LANG=zh_TW.UTF-8: the advisor's reasons, estimate notes, deploy plans, typer's own
    words and errors are Traditional Chinese, with no English sentence of the catalog left
    (model ids, commands and facts quoted from English sources stay as they are)."""
    from tests.english_text import untranslated

    r = _cli(*args, LANG="zh_TW.UTF-8", COLUMNS="300")
    out = r.stdout + r.stderr
    assert r.returncode == code, out
    for text in expect:
        assert text in out, (text, out)
    assert "Traceback" not in out
    left = untranslated(_cells(out), "cli")
    assert not left, f"English left in zh-TW: {left}"
