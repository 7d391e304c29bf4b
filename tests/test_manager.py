"""The server's model manager: load on demand, LRU unload when sizing says the budget is full,
keep_alive expiry."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from llmatlas.catalog import Catalog
from llmatlas.errors import BadInputError, DoesNotFitError
from llmatlas.runtime.store import ModelStore
from llmatlas.server.manager import ModelManager, parse_keep_alive


def test_parse_keep_alive() -> None:
    assert (
        parse_keep_alive("5m") == 300
        and parse_keep_alive("1h") == 3600
        and parse_keep_alive(30) == 30
    )
    assert parse_keep_alive(-1) == float("inf") and parse_keep_alive("0") == 0
    assert parse_keep_alive(None) is None
    with pytest.raises(BadInputError):
        parse_keep_alive("soon")


def test_lru_unload_and_keep_alive(
    home_with_model: Path, embedded_gguf: Path, tmp_path: Path
) -> None:
    cat = Catalog()
    store = ModelStore(catalog=cat)
    store.ensure_embedded()
    copy = tmp_path / "second.gguf"
    copy.write_bytes(embedded_gguf.read_bytes())
    store.import_gguf(copy, name="second")
    probe = ModelManager(store, cat, budget_bytes=10**12, n_slots=1, n_ctx=256)
    one = probe.planned_bytes(*probe.resolve("gemma-3-270m"))
    # room for one model at a time: loading the second unloads the least recently used
    mgr = ModelManager(store, cat, budget_bytes=int(one * 1.5), n_slots=1, n_ctx=256)
    try:
        a = mgr.get("gemma-3-270m")
        assert set(mgr.loaded) == {"gemma-3-270m"} and a.bytes == one
        mgr.get("second")
        assert set(mgr.loaded) == {"second"}
        # keep_alive: an idle model past its time is unloaded
        mgr.get("second", keep_alive=0.2)
        time.sleep(0.3)
        assert mgr.expire() == ["second"] and not mgr.loaded
        with pytest.raises(DoesNotFitError, match="budget"):
            ModelManager(store, cat, budget_bytes=one // 2, n_slots=1, n_ctx=256).get(
                "gemma-3-270m"
            )
    finally:
        mgr.close()
