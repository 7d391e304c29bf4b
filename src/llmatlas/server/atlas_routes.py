"""llmatlas's own API: the catalog, sizing and advisor functions over HTTP (for the web UI).

Routes that compute (catalog filters, sizing, the advisor, hardware probing, SQLite) are plain
``def``: FastAPI runs them on its worker threads, never on the event loop.  Every parameter is
bounded (strings, list lengths, numbers): a long list once kept a sizing route busy for minutes.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Path, Query, Request

from llmatlas import __version__
from llmatlas.advisor import Need, Target, estimate, fit
from llmatlas.catalog import (
    ModelFilter,
    describe,
    describe_group,
    freshness,
    lineage_tree,
    summarize,
)
from llmatlas.catalog._query import SORT_KEYS, parse_since
from llmatlas.errors import BadInputError
from llmatlas.hardware import devices, find_device
from llmatlas.i18n import _
from llmatlas.server.security import offload
from llmatlas.sizing import GGUF_LADDER, get_format
from llmatlas.sizing.memory import CUDA_CONTEXT, llama_cpp_devices

router = APIRouter(prefix="/api/atlas", tags=["atlas"])
Text = Annotated[str | None, Query(max_length=200)]
ModelId = Annotated[str, Query(min_length=1, max_length=200)]
Ctx = Annotated[int | None, Query(ge=1, le=10_000_000)]
Gpus = Annotated[int, Query(ge=1, le=1024)]
Gb = Annotated[float | None, Query(ge=0, le=1e6)]
MAX_CONTEXTS = 16


def _st(request: Request) -> Any:
    return request.app.state.atlas


def _target(
    request: Request, device: str | None, gpus: int, vram_gb: float | None, ram_gb: float | None
) -> Target:
    if device and device != "this":
        return Target.from_device(find_device(device), gpus)
    for v in (vram_gb, ram_gb):
        if v is not None and not (0 <= v <= 1e6):
            raise BadInputError.translatable("vram_gb and ram_gb must be between 0 and 1e6")
    if gpus < 1 or gpus > 1024:
        raise BadInputError.translatable("gpus must be between 1 and 1024")
    if vram_gb or ram_gb:
        if gpus > 1 and not vram_gb:
            raise BadInputError.translatable(
                "gpus needs vram_gb (the memory of each GPU) or a device"
            )
        gib = 1024**3
        return Target.from_budget(int((vram_gb or 0) * gib), int((ram_gb or 0) * gib), count=gpus)
    if gpus > 1:
        raise BadInputError.translatable("gpus needs a device or vram_gb (which GPU?)")
    return Target.from_machine(_st(request).machine())


@router.get("/models")
def models(
    request: Request,
    family: Text = None,
    developer: Text = None,
    license: Text = None,
    commercial: bool = False,
    allow_conditional: bool = False,
    task: Text = None,
    language: Text = None,
    min_params: float | None = None,
    max_params: float | None = None,
    open_data: bool = False,
    open_weights: bool = False,
    instruct: bool | None = None,
    search: Text = None,
    sort: str = Query(
        "family",
        max_length=40,
        description=f"one of {', '.join(SORT_KEYS)}, '-' for descending",
    ),
    since: str | None = Query(
        None, max_length=20, description="released on or after: 2025-06-01, 2025-06, 2025"
    ),
) -> dict[str, Any]:
    cat = _st(request).catalog
    f = ModelFilter(
        family,
        developer,
        license,
        commercial,
        task,
        language,
        min_params,
        max_params,
        open_data,
        open_weights,
        instruct,
        search,
        sort,
        since=parse_since(since) if since else None,
        allow_conditional=allow_conditional,
    )
    rows = cat.filter(f)
    out = [summarize(cat, m) for m in rows]
    families = sorted({(f.family, f.name) for f in cat.data.families.values()})
    return {
        "count": len(out),
        "models": out,
        "families": [{"id": a, "name": b} for a, b in families],
        "catalog": freshness(cat),
    }


@router.get("")
async def atlas(request: Request) -> dict[str, Any]:
    """The version and how current the catalog is (the web UI's footer)."""
    return {"version": __version__, "catalog": freshness(_st(request).catalog)}


@router.get("/models/{model_id}")
def model(model_id: Annotated[str, Path(max_length=200)], request: Request) -> dict[str, Any]:
    cat = _st(request).catalog
    return describe(cat, cat.get(model_id))


@router.get("/families/{name}")
def family(name: Annotated[str, Path(max_length=200)], request: Request) -> dict[str, Any]:
    """A family or series as one answer: members, sizes, licences, lineage, default member.
    Any name resolves (通義千問, Llama 2, breeze); a checkpoint's name gives its family."""
    cat = _st(request).catalog
    r = cat.resolve(name)
    return describe_group(cat, r.group if r.group is not None else cat.groups[r.entry.family])


@router.get("/tree")
def tree(request: Request, root: Text = None) -> list[dict[str, Any]]:
    """Lineage from a checkpoint, from every member of a family or series, or everything."""
    cat = _st(request).catalog
    if not root:
        return lineage_tree(cat)
    r = cat.resolve(root)
    return lineage_tree(cat, r.model if r.model is not None else r.group)


@router.get("/estimate")
def estimate_route(
    request: Request,
    model: ModelId,
    quant: Text = None,
    ctx: Ctx = None,
    batch: Annotated[int, Query(ge=1, le=4096)] = 1,
    engine: Annotated[str, Query(max_length=40)] = "llama.cpp",
    kv_type: Annotated[str, Query(max_length=40)] = "f16",
    device: Text = None,
    gpus: Gpus = 1,
    vram_gb: Gb = None,
    ram_gb: Gb = None,
) -> dict[str, Any]:
    cat = _st(request).catalog
    m = cat.get(model)
    target = _target(request, device, gpus, vram_gb, ram_gb)
    e = estimate(m, target, quant, ctx, batch, engine, kv_type)
    return e.to_dict()


@router.get("/sizing-table")
def sizing_table(
    request: Request,
    model: ModelId,
    contexts: Annotated[str, Query(max_length=200)] = "2048,8192,32768",
) -> dict[str, Any]:
    """Memory by quantization x context (llama.cpp), for the model page's table."""
    cat = _st(request).catalog
    m = cat.get(model)
    if m.architecture is None:
        raise BadInputError.translatable(
            "cannot size {model}: its architecture is not in the catalog", model=m.id
        )
    a = m.architecture
    try:
        ctxs = sorted(
            {min(int(c), a.max_position_embeddings) for c in contexts.split(",") if c.strip()}
        )
    except ValueError:
        raise BadInputError.translatable("contexts: comma-separated integers") from None
    if len(ctxs) > MAX_CONTEXTS or not ctxs or ctxs[0] < 1:
        raise BadInputError.translatable("contexts: 1 to {n} positive integers", n=MAX_CONTEXTS)
    rows = []
    for q in ("F16", *GGUF_LADDER):
        cells = []
        for c in ctxs:
            # the GPU's share as llama.cpp lays it out (token embeddings in host RAM), as the
            # estimate's verdict counts it
            gpu = llama_cpp_devices(a, get_format(q), c, 1)[0]
            cells.append(
                {
                    "context": c,
                    "total_bytes": gpu.total_bytes + CUDA_CONTEXT,
                    "weights_bytes": gpu.weights_bytes,
                    "kv_cache_bytes": gpu.kv_cache_bytes,
                    "other_bytes": gpu.compute_bytes + CUDA_CONTEXT,
                }
            )
        rows.append({"quant": q, "cells": cells})
    return {
        "model": m.id,
        "contexts": ctxs,
        "rows": rows,
        "note": _("GPU memory with llama.cpp, all layers offloaded"),
    }


@router.get("/fit")
def fit_route(
    request: Request,
    device: Text = None,
    gpus: Gpus = 1,
    vram_gb: Gb = None,
    ram_gb: Gb = None,
    task: Text = None,
    language: Text = None,
    commercial: bool = False,
    fully_open: bool = False,
    min_tps: Annotated[float, Query(ge=0, le=1e6)] = 0.0,
    ctx: Ctx = None,
    engine: Annotated[str, Query(max_length=40)] = "llama.cpp",
    limit: Annotated[int, Query(ge=0, le=1000)] = 50,
    allow_conditional: bool = False,
    allow_low_bit: bool = False,
    sort: Annotated[str, Query(max_length=40)] = "rank",
) -> dict[str, Any]:
    """Rows carry the CLI's reasons: ``why``, ``needs`` (each need met, and how), ``quality``
    (what the quantization costs) and ``next_up`` (what the next type up would need)."""
    st = _st(request)
    target = _target(request, device, gpus, vram_gb, ram_gb)
    need = Need(
        task or None,
        language or None,
        commercial,
        fully_open,
        min_tps,
        allow_conditional=allow_conditional,
        allow_below_4bit=allow_low_bit,
    )
    rows = fit(target, need, ctx, st.catalog, engine, None, limit or None, sort)
    return {
        "target": target.name,
        "budget_bytes": target.budget_bytes,
        "pool": target.headroom_note,
        "rows": [r.to_dict() for r in rows],
    }


@router.get("/deploy")
def deploy_route(
    request: Request,
    model: ModelId,
    target: Annotated[str, Query(max_length=40)] = "llama.cpp",
    device: Text = None,
    gpus: Annotated[int | None, Query(ge=1, le=1024)] = None,
    nodes: Annotated[int | None, Query(ge=1, le=64)] = None,
    ctx: Ctx = None,
    quant: Text = None,
    concurrency: Annotated[int | None, Query(ge=1, le=4096)] = None,
) -> dict[str, Any]:
    """``llmatlas deploy`` over HTTP: the plan (summary lines, notes), the steps with their
    commands, the files, and the whole recipe as one shell script."""
    from llmatlas.deploy import deploy

    cat = _st(request).catalog
    m = cat.get(model)
    d = find_device(device) if device and device != "this" else None
    r = deploy(
        m, target, d, gpus=gpus, nodes=nodes, context=ctx, quant=quant, concurrency=concurrency
    )
    return {**r.to_dict(), "shell": r.shell()}


@router.get("/hw")
def hw(request: Request) -> dict[str, Any]:
    return {
        "machine": _st(request).machine().to_dict(),
        "devices": [d.model_dump(mode="json") for d in devices().values()],
    }


@router.get("/bench")
def bench(request: Request) -> dict[str, Any]:
    st = _st(request)
    with st.store._lock:  # one connection shared by the server's threads
        rows = st.store.conn.execute(
            "SELECT * FROM bench_runs ORDER BY id DESC LIMIT 200"
        ).fetchall()
    return {"runs": [dict(r) for r in rows]}


@router.get("/loaded")
async def loaded(request: Request) -> dict[str, Any]:
    st = _st(request)
    if st.upstream is not None:  # the engine's models are the ones that can chat
        try:
            ids = [m["id"] for m in await st.upstream.models()]
        except (httpx.HTTPError, ValueError, KeyError):  # engine still loading or gone
            ids = []
        return {"loaded": ids, "local": [], "engine": st.upstream.base_url}
    local = [m.name for m in await offload(st.store.list)]
    return {"loaded": sorted(st.manager.loaded), "local": local or ["gemma-3-270m"]}
