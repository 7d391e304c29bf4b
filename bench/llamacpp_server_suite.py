"""llama.cpp's own server tests (``tools/server/tests/unit``) against ``llmatlas serve``.

The suite comes from the llama-cpp-python source distribution of the installed version
(``pip download --no-binary :all: --no-deps llama-cpp-python==VERSION``) into a temporary
directory; nothing of it is kept.  Only the harness is adapted, as llama.cpp's CI adapts it to
start ``llama-server``:

- ``ServerProcess.start`` starts ``llmatlas serve`` on the embedded model (slots, per-slot
  context and API key from the test's settings; the model names the tests send are served
  through ``--alias``), one server per distinct setting, reused across tests;
- requests without a ``model`` get the served one (llama-server ignores the field; llmatlas,
  like OpenAI, requires it), and the OpenAI paths the tests call without ``/v1`` get it;
- requests without a token limit get the test's ``n_predict``, which llama-server applies as
  its default (llmatlas's default is the rest of the context);
- no model downloads (``wget`` is stubbed) and no preset loading.

A test applies when it calls an OpenAI-compatible endpoint (``/v1/chat/completions``,
``/v1/completions``, ``/v1/embeddings``, ``/v1/models``, ``/v1/responses``, or the ``openai``
client) and none of llama-server's own (``/completion``, ``/tokenize``, ``/slots``, ``/props``,
``/infill``, ...).  The script prints every applicable test's result with the reason of each
failure and of each test that does not apply, the count, and a table of outcomes by reason.

    python bench/llamacpp_server_suite.py            # download the sdist, run, report
    python bench/llamacpp_server_suite.py --sdist llama_cpp_python-0.3.36.tar.gz -k embedding
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

FILES = [
    "test_chat_completion.py",
    "test_completion.py",
    "test_embedding.py",
    "test_compat_oai_responses.py",
    "test_tool_call.py",
]

HARNESS = r'''
"""Harness for llmatlas (written by bench/llamacpp_server_suite.py; see its docstring)."""
import atexit, inspect, json, os, re, socket, subprocess, sys, time

import pytest
import requests

import utils

MODEL = "gemma-3-270m"
ALIASES = json.loads(os.environ["LLMATLAS_SUITE_ALIASES"])
REPORT = os.environ["LLMATLAS_SUITE_REPORT"]
OAI = re.compile(r"""["'](/v1)?/(chat/completions|completions|embeddings|models|responses)["'/?]""")
NATIVE = re.compile(
    r"""["'](/completion|/tokenize|/detokenize|/slots|/props|/apply-template|/infill|/embedding|"""
    r"""/rerank|/reranking|/metrics|/lora-adapters|/health|/v1/messages|/v1/rerank|"""
    r"""/chat/completions/input_tokens)["'?]"""
)
OAI_PATHS = ("/chat/completions", "/completions", "/embeddings", "/models", "/responses")
_servers = {}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(self, timeout_seconds=utils.DEFAULT_HTTP_TIMEOUT):
    slots = int(self.n_slots or 1)
    ctx = max(64, int(self.n_ctx or 4096) // slots)
    key = (slots, ctx, self.api_key)
    if key not in _servers:
        port = _free_port()
        args = [sys.executable, "-m", "llmatlas", "serve", "--port", str(port), "--slots",
                str(slots), "--ctx", str(ctx)]
        for name in ALIASES:
            args += ["--alias", f"{name}={MODEL}"]
        if self.api_key:
            args += ["--api-key", self.api_key]
        log = open(os.path.join(os.environ["LLMATLAS_HOME"], f"serve-{port}.log"), "w")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llmatlas serve exited; see {log.name}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.time() > deadline:
                raise TimeoutError("llmatlas serve did not become healthy")
            time.sleep(0.3)
        _servers[key] = (proc, port)
    self.server_host = "127.0.0.1"
    self.server_port = _servers[key][1]
    self.process = None
    utils.server_instances.add(self)


def stop(self):
    utils.server_instances.discard(self)


def _stop_all():
    for proc, _ in _servers.values():
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


atexit.register(_stop_all)
_url = utils.ServerProcess.make_url


def make_url(self, path, host=None):
    if path.split("?")[0] in OAI_PATHS:
        path = "/v1" + path
    return _url(self, path, host)


def _with_model(fn):
    def wrapped(self, method, path, data=None, *args, **kwargs):
        if isinstance(data, dict) and not data.get("model"):
            data = {**data, "model": self.model_alias or MODEL}
        # llama-server's --n-predict (the test's server.n_predict) is its default max_tokens
        limits = ("max_tokens", "max_completion_tokens", "max_output_tokens", "n_predict")
        if isinstance(data, dict) and self.n_predict and not any(k in data for k in limits):
            key = "max_output_tokens" if path.endswith("/responses") else "max_tokens"
            data = {**data, key: self.n_predict}
        return fn(self, method, path, data, *args, **kwargs)
    return wrapped


utils.ServerProcess.start = start
utils.ServerProcess.stop = stop
utils.ServerProcess.make_url = make_url
utils.ServerProcess.make_request = _with_model(utils.ServerProcess.make_request)
utils.ServerProcess.make_stream_request = _with_model(utils.ServerProcess.make_stream_request)


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        src = inspect.getsource(item.function)
        native = NATIVE.search(src)
        if item.get_closest_marker("slow"):
            drop.append((item, "marked slow: loads a real model from the Hub; llama.cpp's CI "
                               "runs it only with SLOW_TESTS=1"))
        elif native:
            drop.append((item, f"calls llama-server's own {native.group(1)}"))
        elif OAI.search(src) or "OpenAI(" in src:
            keep.append(item)
        else:
            drop.append((item, "calls no OpenAI-compatible endpoint"))
    items[:] = keep
    config.hook.pytest_deselected(items=[i for i, _ in drop])
    with open(REPORT, "a") as f:
        for item, why in drop:
            f.write(json.dumps({"id": item.nodeid, "outcome": "not applicable", "why": why}) + "\n")


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        why = ""
        if report.outcome != "passed":
            text = str(report.longrepr)
            lines = [l for l in text.splitlines() if l.startswith("E ")] or text.splitlines()[-1:]
            why = " ".join(l[1:].strip() for l in lines[:2])[:300]
        with open(REPORT, "a") as f:
            f.write(json.dumps({"id": report.nodeid, "outcome": report.outcome, "why": why}) + "\n")
'''

CONFTEST = """
import pytest
import utils


@pytest.fixture(autouse=True)
def stop_server_after_each_test():
    yield
    for server in set(utils.server_instances):
        server.stop()
"""


def fetch_sdist(dest: Path) -> Path:
    version = importlib.metadata.version("llama_cpp_python")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-binary",
            ":all:",
            "--no-deps",
            f"llama-cpp-python=={version}",
            "-d",
            str(dest),
        ],
        check=True,
    )
    return next(dest.glob("llama_cpp_python-*.tar.gz"))


def extract_suite(sdist: Path, dest: Path) -> Path:
    """The server tests, and the chat templates some of them name by path."""
    with tarfile.open(sdist) as tar:
        members = [
            m
            for m in tar.getmembers()
            if "/tools/server/tests/" in m.name or "/llama.cpp/models/templates/" in m.name
        ]
        tar.extractall(dest, members=members, filter="data")
    return next(dest.glob("*/vendor/llama.cpp/tools/server/tests"))


def model_names(src: str) -> set[str]:
    """Every model name a test file sends or serves under: ``"model": "x"`` in a request,
    ``model="x"`` to the openai client, ``server.model_alias = "x"``, and the ``model``
    column of a ``pytest.mark.parametrize`` table."""
    out: set[str] = set()

    def text(node: ast.AST | None) -> str | None:
        return (
            node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
        )

    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                if text(k) == "model" and text(v):
                    out.add(str(text(v)))
        elif isinstance(node, ast.keyword) and node.arg == "model" and text(node.value):
            out.add(str(text(node.value)))
        elif isinstance(node, ast.Assign) and text(node.value):
            if any(isinstance(t, ast.Attribute) and t.attr == "model_alias" for t in node.targets):
                out.add(str(text(node.value)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "parametrize"
            and len(node.args) >= 2
            and text(node.args[0])
            and isinstance(node.args[1], ast.List | ast.Tuple)
        ):
            columns = [c.strip() for c in str(text(node.args[0])).split(",")]
            if "model" in columns:
                i = columns.index("model")
                for row in node.args[1].elts:
                    if isinstance(row, ast.Tuple) and len(row.elts) > i and text(row.elts[i]):
                        out.add(str(text(row.elts[i])))
    return out - {"gemma-3-270m"}


# Why an applicable test cannot pass against llmatlas on the embedded model: by the test's
# name where the cause is a llama-server extension or a difference of behaviour, else by the
# failure text.  A failure that matches nothing prints as "unexplained", with its assertion.
TEST_REASONS = {
    "test_chat_template_continue_final_message_mutual_exclusion": (
        "sends the add_generation_prompt/continue_final_message extension fields (not OpenAI's)"
    ),
    "test_invalid_chat_completion_req": (
        "expects two assistant turns in a row to be refused; OpenAI's API accepts them"
    ),
    "test_return_progress": "reads llama-server's prompt-progress stream extension",
    "test_embedding_mixed_input": "sends mixed string/token-id items in one input (llama-server)",
    "test_embedding_content_text_same_as_string": "sends llama-server's {content: ...} input",
    "test_embedding_pooling_none": "asks for llama-server's per-token embeddings (pooling none)",
    "test_embedding_pooling_none_oai": "expects a 400 for a model loaded with pooling none",
    "test_embedding_usage_single": "expects the BERT tokenizer's token counts (bert-bge-small)",
    "test_embedding_usage_multiple": "expects the BERT tokenizer's token counts (bert-bge-small)",
    "test_context_size_exceeded": "expects llama-server's error type exceed_context_size_error",
    "test_context_size_exceeded_stream": "expects llama-server's error type in the stream",
    "test_chat_completion_cached_tokens": "expects llama.cpp's prompt-cache reuse counts",
    "test_responses_stream_with_llama_telemetry": "reads llama-server's telemetry extension",
}
TEXT_REASONS = [
    (
        r"startswith.*\('b'\)|fp_\w+' is not None and False",
        "checks llama-server's build tag in system_fingerprint ('b' + build number); llmatlas "
        "names the weights that answered (fp_ + sha256)",
    ),
    (r"'__verbose' in", "reads llama-server's __verbose debug echo"),
    (r"timings", "reads llama-server's timings extension"),
    (r"'too large' in", "expects llama-server's error wording"),
    (
        r"match_regex|Expected .* got|Unexpected output",
        "expects the text of llama.cpp's 260K-parameter test model (stories260K)",
    ),
    (
        r"prompt_tokens|completion_tokens|n_prompt|tokens_evaluated|assert \d+ == \d+$",
        "expects token counts of llama.cpp's test model",
    ),
]


def reason(test_id: str, why: str) -> str:
    """Why a failing applicable test cannot pass (see TEST_REASONS, TEXT_REASONS)."""
    name = test_id.split("::")[-1].split("[")[0]
    if name in TEST_REASONS:
        return TEST_REASONS[name]
    for pattern, text in TEXT_REASONS:
        if re.search(pattern, why):
            return text
    return f"unexplained: {why}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sdist", type=Path, help="llama-cpp-python sdist (default: pip download)")
    ap.add_argument("-k", default=None, help="pytest -k expression")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--all", action="store_true", help="list not-applicable tests too")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="llamacpp-suite-") as tmp:
        work = Path(tmp)
        sdist = args.sdist or fetch_sdist(work)
        suite = extract_suite(sdist, work)
        (suite / "conftest.py").write_text(CONFTEST)
        (suite / "llmatlas_harness.py").write_text(HARNESS)
        (suite / "wget.py").write_text(
            "def download(*a, **k):\n    raise RuntimeError('no downloads in this harness')\n"
        )
        names: set[str] = set()
        for path in [suite / "utils.py", *(suite / "unit" / f for f in FILES)]:
            names |= model_names(path.read_text())
        home = work / "home"
        home.mkdir()
        report = work / "report.jsonl"
        env = dict(
            os.environ,
            LLMATLAS_HOME=str(home),
            LLMATLAS_SUITE_ALIASES=json.dumps(sorted(names)),
            LLMATLAS_SUITE_REPORT=str(report),
            PYTHONPATH=os.pathsep.join([str(suite), *filter(None, [os.environ.get("PYTHONPATH")])]),
        )
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "llmatlas_harness",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            *[f"unit/{f}" for f in FILES],
        ]
        if args.k:
            cmd += ["-k", args.k]
        subprocess.run(cmd, cwd=suite, env=env, stdout=subprocess.DEVNULL, check=False)
        rows = [json.loads(x) for x in report.read_text().splitlines()] if report.exists() else []
    ran = [r for r in rows if r["outcome"] not in ("not applicable", "skipped")]
    passed = [r for r in ran if r["outcome"] == "passed"]
    for r in rows:
        if r["outcome"] not in ("passed", "not applicable", "skipped"):
            r["reason"] = reason(r["id"], r["why"])
    if args.json:
        print(
            json.dumps({"passed": len(passed), "applicable": len(ran), "results": rows}, indent=1)
        )
        return 0
    for r in rows:
        if r["outcome"] == "passed":
            print(f"PASS {r['id']}")
        elif r["outcome"] not in ("not applicable", "skipped"):
            print(f"FAIL {r['id']}  [{reason(r['id'], r['why'])}]")
        elif args.all:
            print(f"N/A  {r['id']}  [{r['why'] or 'skipped by the suite itself'}]")
    skipped = sum(r["outcome"] == "skipped" for r in rows)
    other = len(rows) - len(ran) - skipped
    print(
        f"\n{len(passed)}/{len(ran)} applicable tests pass "
        f"({other} not applicable, {skipped} skipped by the suite itself)"
    )
    print("\n| outcome | tests | reason |\n|---|---:|---|")
    why_count: dict[tuple[str, str], int] = {}
    for r in rows:
        if r["outcome"] == "passed":
            key = ("pass", "")
        elif r["outcome"] in ("not applicable", "skipped"):
            key = ("not applicable", r["why"] or "skipped by the suite itself")
        else:
            key = ("fail", reason(r["id"], r["why"]))
        why_count[key] = why_count.get(key, 0) + 1
    for (outcome, why), n in sorted(why_count.items(), key=lambda kv: (kv[0][0], -kv[1])):
        print(f"| {outcome} | {n} | {why} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
