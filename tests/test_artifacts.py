"""Any artifact in: GGUF headers (split too), quantization names per engine, inheritance."""

from __future__ import annotations

from pathlib import Path

import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from typer.testing import CliRunner

from llmatlas.advisor import Target, estimate
from llmatlas.artifacts import from_gguf, resolve_artifact
from llmatlas.artifacts.synth import synth_gguf
from llmatlas.catalog import Catalog
from llmatlas.errors import BadInputError
from llmatlas.sizing import get_format, weight_bytes
from llmatlas.sizing.quant import GGUF_FORMATS, resolve_quant

CPU = Target.from_budget(ram_bytes=64 * 2**30)


def test_embedded_gguf_sized_from_its_header(catalog: Catalog, embedded_gguf: Path) -> None:
    from llmatlas.artifacts.dryrun import RunSettings, dry_run

    art = resolve_artifact(str(embedded_gguf), catalog)
    assert art.kind == "gguf" and art.quant == "Q4_K_M"
    assert art.weights is not None
    # llama.cpp's own loader sums the same tensors to the byte
    (run,) = dry_run(embedded_gguf, [RunSettings(2048)])
    assert art.weights.total == run.model_bytes
    # and the catalog's per-tensor prediction for this model agrees type by type
    predicted = weight_bytes(catalog.get("gemma-3-270m").architecture, get_format("Q4_K_M"))  # type: ignore[arg-type]
    assert art.weights.by_type == predicted.by_type
    assert art.file_bytes == embedded_gguf.stat().st_size
    assert art.entry is not None and art.entry.id == "gemma-3-270m"
    a, ref = art.architecture, catalog.get("gemma-3-270m").architecture
    assert a is not None and ref is not None
    for f in (
        "num_hidden_layers",
        "hidden_size",
        "num_attention_heads",
        "num_key_value_heads",
        "resolved_head_dim",
        "intermediate_size",
        "vocab_size",
        "max_position_embeddings",
        "sliding_window",
        "sliding_window_layers",
        "tie_word_embeddings",
    ):
        assert getattr(a, f) == getattr(ref, f), f
    e = estimate(art, CPU, context=8192)
    assert e.weights_bytes == run.model_bytes
    assert e.quant == "Q4_K_M"


def test_split_gguf_is_summed_and_missing_part_refused(catalog: Catalog, tmp_path: Path) -> None:
    a = catalog.get("llama-3-8b").architecture
    assert a is not None
    fmt = get_format("Q4_1", "llama.cpp")
    files = synth_gguf(a, fmt, tmp_path / "l3.gguf", parts=3)
    assert [f.name for f in files][1] == "l3-00002-of-00003.gguf"
    art = resolve_artifact(str(files[1]), catalog)
    one = from_gguf(synth_gguf(a, fmt, tmp_path / "whole.gguf")[0])
    assert art.weights == one.weights and art.quant == "Q4_1"
    assert art.weights is not None and art.weights.total == weight_bytes(a, fmt).total
    files[2].unlink()
    with pytest.raises(BadInputError, match=r"missing: l3-00003-of-00003\.gguf"):
        resolve_artifact(str(files[0]), catalog)


def test_bad_files_are_one_line_errors(tmp_path: Path, embedded_gguf: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(BadInputError, match="not a GGUF file"):
        resolve_artifact(str(junk))
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(embedded_gguf.read_bytes()[:50_000_000])
    with pytest.raises(BadInputError, match="truncated"):
        resolve_artifact(str(cut))
    with pytest.raises(BadInputError, match="no such file"):
        resolve_artifact(str(tmp_path / "absent.gguf"))
    from llmatlas.cli import app

    r = CliRunner().invoke(app, ["estimate", str(cut)])
    assert r.exit_code != 0 and "truncated" in r.output and "Traceback" not in r.output


def test_every_ggml_type_is_a_llama_cpp_quantization() -> None:
    for t in GGMLQuantizationType:
        if t.name in ("I8", "I16", "I32", "I64", "F64") or t not in GGML_QUANT_SIZES:
            continue
        f = resolve_quant(t.name, "llama.cpp")
        # two file types keep llama.cpp's own default tensor type (llama-quant.cpp)
        assert f.gguf_type == t or (t.name, f.gguf_type.name) in (  # type: ignore[union-attr]
            ("IQ2_S", "IQ2_XS"),
            ("IQ3_XS", "IQ3_S"),
        )
    for mix in ("Q3_K_S", "Q3_K_L", "IQ2_M", "IQ3_M", "Q4_1", "Q5_1", "TQ1_0", "MXFP4"):
        assert mix in GGUF_FORMATS


@pytest.mark.parametrize(
    "name,engine,expected",
    [
        ("8bit", "llama.cpp", "Q8_0"),
        ("int8", "llama.cpp", "Q8_0"),
        ("4bit", "llama.cpp", "Q4_K_M"),
        ("int4", "llama.cpp", "Q4_K_M"),
        ("BF16", "llama.cpp", "BF16"),
        ("FP16", "llama.cpp", "F16"),
        ("mxfp4", "llama.cpp", "MXFP4"),
        ("4bit", "vllm", "AWQ-4BIT"),
        ("int8", "vllm", "INT8"),
        ("GPTQ", "vllm", "GPTQ-4BIT"),
        ("NVFP4", "vllm", "NVFP4"),
        ("4bit", "transformers", "BNB-NF4"),
        ("8bit", "transformers", "BNB-INT8"),
    ],
)
def test_names_people_type_map_per_engine(name: str, engine: str, expected: str) -> None:
    f = resolve_quant(name, engine)
    assert f.name == expected and engine in f.engines
    assert f.is_gguf == (engine == "llama.cpp")


@pytest.mark.parametrize(
    "name,engine,hint",
    [
        ("FP8", "llama.cpp", "Q8_0"),
        ("AWQ", "llama.cpp", "Q4_K_M"),
        ("Q4_K_M", "vllm", "--engine llama.cpp"),
        ("Q4_K_Z", "llama.cpp", "Q4_K_M"),
        ("NVFP4", "transformers", "vllm"),
    ],
)
def test_unloadable_names_refused_with_the_nearest(name: str, engine: str, hint: str) -> None:
    with pytest.raises(BadInputError, match=hint):
        resolve_quant(name, engine)


def test_native_checkpoint_format_is_the_default(catalog: Catalog) -> None:
    oss = catalog.get("gpt-oss-20b")
    e = estimate(oss, CPU)
    assert e.quant == "MXFP4"
    # ggml-org/gpt-oss-20b-GGUF's MXFP4 file holds 11.27 GiB of tensors (12.1 GB)
    assert e.weights_bytes / 2**30 == pytest.approx(11.27, rel=0.01)
    assert estimate(oss, Target.from_budget(vram_bytes=80 * 2**30), engine="vllm").quant == "MXFP4"
    ds = catalog.get("deepseek-v3")
    assert estimate(ds, Target.from_budget(vram_bytes=80 * 2**30), engine="vllm").quant == "FP8"
    assert estimate(catalog.get("llama-3-8b"), CPU).quant == "Q4_K_M"


def test_derivatives_inherit_their_base_architecture(catalog: Catalog) -> None:
    base = catalog.get("llama-2-7b")
    for mid in ("taide-lx-7b", "taide-lx-7b-chat", "bailong-instruct-7b"):
        m = catalog.get(mid)
        assert m.architecture == base.architecture and m.architecture_from == "llama-2-7b"
        e = estimate(resolve_artifact(mid, catalog), CPU)
        assert any("inherited from llama-2-7b" in n for n in e.notes)
    assert catalog.get("llama-2-7b").architecture_from is None


def test_gguf_file_refuses_other_quant_and_engine(catalog: Catalog, embedded_gguf: Path) -> None:
    art = resolve_artifact(str(embedded_gguf), catalog)
    with pytest.raises(BadInputError, match="is a Q4_K_M file"):
        estimate(art, CPU, quant="Q8_0")
    with pytest.raises(BadInputError, match=r"llama\.cpp"):
        estimate(art, CPU, engine="vllm")
    with pytest.raises(BadInputError, match="maximum context"):
        estimate(art, CPU, context=65536)


def test_fit_and_show_take_a_gguf_path(embedded_gguf: Path) -> None:
    import json

    from llmatlas.cli import app

    r = CliRunner().invoke(app, ["fit", str(embedded_gguf), "--vram", "8G", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["fits"] and d["quant"] == "Q4_K_M" and d["largest_context_that_fits"] == 32768
    r = CliRunner().invoke(app, ["show", str(embedded_gguf), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["catalog_model"] == "gemma-3-270m" and d["quant"] == "Q4_K_M"
    assert d["architecture"]["num_hidden_layers"] == 18 and d["weights_by_type"]["Q8_0"] > 0


def test_unknown_type_and_context_beyond_the_model_are_one_line(
    catalog: Catalog, tmp_path: Path
) -> None:
    """The rest of the bad-input target: a tensor of a ggml type gguf does not know, and a
    context above the model's maximum, in the library, the CLI (non-zero exit, one line,
    no traceback) and the web API (a 4xx)."""
    import struct

    from fastapi.testclient import TestClient

    from llmatlas.cli import app
    from llmatlas.server.app import ServerConfig, create_app
    from llmatlas.settings import Settings

    a = catalog.get("pythia-70m").architecture
    assert a is not None
    path = synth_gguf(a, get_format("Q8_0", "llama.cpp"), tmp_path / "p.gguf")[0]
    good = from_gguf(path, catalog)
    data = bytearray(path.read_bytes())
    name = b"token_embd.weight"
    at = data.index(struct.pack("<Q", len(name)) + name) + 8 + len(name)
    n_dims = struct.unpack_from("<I", data, at)[0]
    struct.pack_into("<I", data, at + 4 + 8 * n_dims, 999)  # no ggml type has this code
    odd = tmp_path / "odd.gguf"
    odd.write_bytes(bytes(data))
    with pytest.raises(BadInputError, match="unknown to gguf"):
        from_gguf(odd, catalog)
    runner = CliRunner()
    for args, why in (
        (["estimate", str(odd)], "unknown to gguf"),
        (["estimate", str(path), "--ctx", str(10 * a.max_position_embeddings)], "maximum"),
    ):
        r = runner.invoke(app, args)
        assert r.exit_code != 0 and why in r.output, r.output
        assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert good.architecture is not None
    cfg = ServerConfig(settings=Settings.from_env(), models=[], n_slots=1, n_ctx=256)
    with TestClient(create_app(cfg), base_url="http://127.0.0.1") as c:
        r2 = c.get("/api/atlas/estimate", params={"model": "llama-3-8b", "ctx": 100_000})
        assert r2.status_code == 400 and "maximum" in r2.json()["error"]["message"]


def test_random_weights_are_finite_and_route_tokens_apart(tmp_path: Path) -> None:
    """fill_random: every block gets the fixed scale, llama.cpp decodes the file with
    finite logits, and different tokens give different logits (the weights are read)."""
    import numpy as np
    from gguf import GGUFReader

    from llmatlas.artifacts.synth import fill_random
    from llmatlas.catalog._schema import Architecture

    a = Architecture(
        model_type="qwen3_moe",
        num_hidden_layers=2,
        hidden_size=256,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=64,
        intermediate_size=512,
        vocab_size=512,
        max_position_embeddings=512,
        tie_word_embeddings=False,
        qk_norm=True,
        num_experts=8,
        num_experts_per_tok=2,
        moe_intermediate_size=256,
    )
    path = synth_gguf(a, get_format("Q4_K_M", "llama.cpp"), tmp_path / "moe.gguf")[0]
    assert fill_random(path) == sum(t.n_bytes for t in GGUFReader(path).tensors)
    scale = np.float16(2**-10).tobytes()
    for t in GGUFReader(path).tensors:
        raw = bytes(t.data.reshape(-1).view(np.uint8)[:512])
        assert any(raw), t.name
        if t.tensor_type == GGMLQuantizationType.Q4_K:
            assert raw[:2] == scale and raw[144:146] == scale
        if t.tensor_type == GGMLQuantizationType.F32:
            assert np.isfinite(t.data).all()

    from llama_cpp import Llama

    from llmatlas.runtime._llama_log import quiet

    quiet()
    llm = Llama(model_path=str(path), n_ctx=64, n_threads=1, logits_all=True, verbose=False)
    llm.eval([5, 6, 7])
    logits = np.array(llm.scores[:3])
    assert np.isfinite(logits).all() and not np.allclose(logits[0], logits[2])
    with pytest.raises(BadInputError, match="no random fill"):
        bad = tmp_path / "iq.gguf"
        synth_gguf(a, get_format("IQ2_XXS", "llama.cpp"), bad)
        fill_random(bad)
