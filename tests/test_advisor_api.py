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


def test_atlas_sentences_follow_accept_language_and_other_apis_stay_english() -> None:
    """Reasons, notes and error messages of /api/atlas are written in the request's language
    (field names and enumerated values stay English); the OpenAI routes answer in English."""
    cfg = ServerConfig(settings=Settings.from_env(), models=[], n_slots=1, n_ctx=256)
    zh = {"Accept-Language": "zh-TW,zh;q=0.9,en;q=0.5"}
    with TestClient(create_app(cfg), base_url="http://127.0.0.1") as c:
        r = c.get("/api/atlas/fit", params={"device": "rtx-4090", "limit": 2}, headers=zh)
        assert r.headers["content-language"] == "zh-Hant-TW"
        assert "accept-language" in r.headers["vary"].lower()
        d = r.json()
        assert set(d) == {"target", "budget_bytes", "pool", "rows"}
        assert "每張 GPU 保留 1 GiB 餘裕" in d["pool"]
        row = d["rows"][0]
        assert row["grade"] in ("good", "usable", "too slow")  # values stay English
        assert "需要" in row["why"][0] and "單一串流" in row["why"][1]
        assert "困惑度" in row["quality"]
        e = c.get(
            "/api/atlas/estimate",
            params={"model": "llama-3.1-8b-instruct", "device": "rtx-4090", "gpus": 2},
            headers=zh,
        ).json()
        assert any("llama.cpp 把各層分到 2 張 GPU" in n for n in e["notes"])
        bad = c.get("/api/atlas/fit", params={"ram_gb": 16, "sort": "vibes"}, headers=zh)
        assert bad.status_code == 400
        assert bad.json()["error"]["message"].startswith("不明的 --sort 'vibes'")
        plan = c.get(
            "/api/atlas/deploy",
            params={"model": "llama-3.1-70b-instruct", "target": "vllm", "device": "h100-sxm"},
            headers=zh,
        ).json()
        assert plan["plan"]["tensor_parallel"] == 2  # numbers and field names as in English
        assert "張量平行 2 × 管線平行 1" in plan["plan"]["summary"][0]
        assert plan["steps"][0]["title"].startswith("提供服務") and "vllm serve" in plan["shell"]
        wrong = c.get(
            "/api/atlas/deploy", params={"model": "llama-3.1-8b-instruct", "target": "nope"}
        )
        assert (
            wrong.status_code == 400 and "unknown target 'nope'" in wrong.json()["error"]["message"]
        )
        gone = c.get("/api/atlas/models/no-such-model", headers=zh)
        assert gone.status_code == 404 and "找不到模型" in gone.json()["error"]["message"]
        # the same question in English, and the OpenAI API in English whatever the header
        en = c.get("/api/atlas/fit", params={"device": "rtx-4090", "limit": 1}).json()
        assert en["rows"][0]["why"][0].startswith(en["rows"][0]["quant"] + " needs ")
        chat = c.post(
            "/v1/chat/completions",
            json={"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]},
            headers=zh,
        )
        assert chat.status_code == 404 and "unknown model" in chat.json()["error"]["message"]
