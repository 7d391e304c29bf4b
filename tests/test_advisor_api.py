"""The web API's fit route answers with the CLI's per-row reasons (what the UI shows)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from llmatlas.server.app import ServerConfig, create_app
from llmatlas.settings import Settings


def test_fit_route_rows_carry_reasons_and_bad_input_is_a_400() -> None:
    cfg = ServerConfig(settings=Settings.from_env(), models=[], n_slots=1, n_ctx=256)
    with TestClient(create_app(cfg), base_url="http://127.0.0.1") as c:
        d = c.get("/api/atlas/fit", params={"device": "l4", "commercial": True, "limit": 3}).json()
        assert len(d["rows"]) == 3
        for r in d["rows"]:
            assert r["commercial_use"] == "yes" and r["meets_speed"]
            assert any(n.startswith("commercial use: yes") for n in r["needs"])
            assert "perplexity" in r["quality"] and r["pool_bytes"] <= r["budget_bytes"]
        loose = c.get(
            "/api/atlas/fit",
            params={"device": "l4", "commercial": True, "allow_conditional": True, "limit": 0},
        ).json()
        assert any(r["commercial_use"] == "conditional" for r in loose["rows"])
        bad = c.get("/api/atlas/fit", params={"ram_gb": 16, "sort": "vibes"})
        assert bad.status_code == 400 and "--sort" in bad.json()["error"]["message"]
        none = c.get("/api/atlas/fit", params={"device": "rtx-4090", "task": "embedding"})
        assert none.status_code == 400 and "no model" in none.json()["error"]["message"]
