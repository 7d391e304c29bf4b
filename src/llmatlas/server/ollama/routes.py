"""Ollama's model-management and embedding endpoints over the local store and engine:
``/api/embed``, ``/api/embeddings``, ``/api/show``, ``/api/copy``, ``/api/create``,
``/api/blobs/:digest``, ``/api/pull`` and ``/api/push`` (refused: there is no registry to push to).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from llmatlas.errors import AtlasError, BadInputError, StoreError
from llmatlas.runtime import modelfile
from llmatlas.runtime.deltas import Event
from llmatlas.runtime.modelfile import Modelfile, add_parameter, check_name, parse_modelfile
from llmatlas.runtime.templates import check_template
from llmatlas.server.manager import lease, parse_keep_alive
from llmatlas.server.ollama import translate as tr
from llmatlas.server.ollama.wire import (
    CopyRequest,
    CreateRequest,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbedRequest,
    EmbedResponse,
    PullRequest,
    ShowRequest,
    ShowResponse,
)
from llmatlas.server.security import offload
from llmatlas.server.wire import ns

router = APIRouter(tags=["ollama"])
NDJSON = "application/x-ndjson"
DIGEST = re.compile(r"^sha256[:-]([0-9a-f]{64})$")


def _st(request: Request) -> Any:
    return request.app.state.atlas


async def respond(events: AsyncIterator[Event], reply: tr.Reply, stream: bool) -> Any:
    """A generation's events (from the local engine or an upstream one) as Ollama's answer:
    NDJSON lines when ``stream``, else one object.  A failure mid-stream is an
    ``{"error": text}`` line; before a whole answer, that body with the error's status."""
    if stream:

        async def lines() -> AsyncIterator[str]:
            last = Event()
            try:
                async for ev in events:
                    if ev.error:
                        yield json.dumps(tr.error_body(ev.error)) + "\n"
                        return
                    last = ev
                    out = reply.line(ev)
                    if out is not None:
                        yield json.dumps(out) + "\n"
            except AtlasError as exc:
                yield json.dumps(tr.error_body(str(exc))) + "\n"
                return
            yield json.dumps(reply.done(last, whole=False)) + "\n"

        return StreamingResponse(lines(), media_type=NDJSON)
    last = Event()
    try:
        async for ev in events:
            if ev.error:
                return JSONResponse(tr.error_body(ev.error), 500)
            last = ev
            reply.line(ev)
    except AtlasError as exc:
        return JSONResponse(tr.error_body(str(exc)), exc.http_status)
    return reply.done(last, whole=True)


# ------------------------------------------------------------------------------ embeddings
async def _embed(
    request: Request, model: str, keep_alive: Any, texts: list[str], truncate: bool, normalize: bool
) -> tuple[list[list[float]], int, float, float]:
    st = _st(request)
    t0 = time.perf_counter()
    lm = await lease(request, model, parse_keep_alive(keep_alive))
    emb = await offload(st.manager.embedder, lm)
    load_s = time.perf_counter() - t0

    def work() -> tuple[list[list[float]], int]:
        ids = [emb.check_tokens(emb.tokenize(t), truncate) for t in texts]
        return emb.embed(ids, normalize), sum(len(x) for x in ids)

    vecs, n = await offload(work)
    return vecs, n, load_s, time.perf_counter() - t0


@router.post("/api/embed", response_model=EmbedResponse)
async def embed(req: EmbedRequest, request: Request) -> EmbedResponse:
    texts = [req.input] if isinstance(req.input, str) else list(req.input)
    if not texts or any(not t for t in texts):
        raise BadInputError("input: give a non-empty string or a list of non-empty strings")
    vecs, n, load_s, total_s = await _embed(
        request, req.model, req.keep_alive, texts, req.truncate, True
    )
    if req.dimensions:
        from llmatlas.runtime.embeddings import unit

        vecs = [unit(v[: req.dimensions]) for v in vecs]
    return EmbedResponse(
        model=req.model,
        embeddings=vecs,
        total_duration=ns(total_s),
        load_duration=ns(load_s),
        prompt_eval_count=n,
    )


@router.post("/api/embeddings", response_model=EmbeddingsResponse)
async def embeddings(req: EmbeddingsRequest, request: Request) -> EmbeddingsResponse:
    if not req.prompt:  # Ollama answers an empty prompt with an empty vector
        await lease(request, req.model, parse_keep_alive(req.keep_alive))
        return EmbeddingsResponse(embedding=[])
    vecs, *_ = await _embed(request, req.model, req.keep_alive, [req.prompt], True, False)
    return EmbeddingsResponse(embedding=vecs[0])


# ------------------------------------------------------------------------------ show
def model_details(st: Any, name: str) -> Any:
    """Ollama's ``details`` of a stored model (catalog facts when the file maps to an entry)."""
    m = st.store.get(name)
    entry = st.catalog.data.models.get(m.catalog_id) if m and m.catalog_id else None
    parent = modelfile.load(st.store, m.name).from_ if m else ""
    return tr.details(
        entry.family if entry else None,
        entry.params_b if entry else None,
        m.quant if m else None,
        parent,
    )


@router.post("/api/show", response_model=ShowResponse, response_model_exclude_none=True)
async def show(req: ShowRequest, request: Request) -> ShowResponse:
    from llmatlas.runtime.modelinfo import gguf_header, gguf_model_info
    from llmatlas.runtime.templates import chat_format

    st = _st(request)
    name = req.model or req.name
    if not name:
        raise BadInputError("model: required")
    m = await offload(st.store.resolve, st.manager.alias(name))
    meta = await offload(gguf_header, m.path)
    info = await offload(gguf_model_info, m.path, req.verbose)
    entry = st.catalog.data.models.get(m.catalog_id) if m.catalog_id else None
    mf = modelfile.load(st.store, m.name)
    fmt = chat_format(
        {"tokenizer.chat_template": meta.get("tokenizer.chat_template")},
        entry.family if entry else None,
        entry.instruct if entry else None,
    )
    stops = fmt.turn_stops()
    lic = st.catalog.license_of(entry).name if entry else (meta.get("general.license") or "")
    caps = ["completion", "embedding"] + (["tools"] if fmt.is_chat else [])
    return tr.show_response(
        license=lic,
        modelfile=modelfile.render_modelfile(m.path, mf),
        mf=mf,
        template=fmt.template or "",
        turn_stops=stops,
        details=model_details(st, m.name),
        model_info=info,
        capabilities=caps,
        modified_at=tr.iso(m.path.stat().st_mtime),
    )


# ------------------------------------------------------------------------------ copy
@router.post("/api/copy")
async def copy(req: CopyRequest, request: Request) -> Response:
    st = _st(request)
    dest = check_name(req.destination)
    await offload(modelfile.derive, st.store, st.manager.alias(req.source), dest)
    return Response(status_code=200)


# ------------------------------------------------------------------------------ blobs
def blob_path(st: Any, digest: str) -> Path:
    m = DIGEST.match(digest)
    if not m:
        raise BadInputError(f"digest {digest!r}: expected sha256:<64 hex digits>")
    return Path(st.cfg.settings.models_dir) / "blobs" / f"sha256-{m.group(1)}"


@router.head("/api/blobs/{digest}")
async def blob_exists(digest: str, request: Request) -> Response:
    return Response(status_code=200 if blob_path(_st(request), digest).exists() else 404)


@router.post("/api/blobs/{digest}")
async def blob_upload(digest: str, request: Request) -> Response:
    """Store the body under its sha256; a body whose digest differs is refused (400)."""
    path = blob_path(_st(request), digest)
    if path.exists():
        return Response(status_code=200)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(request)}.upload")
    h = hashlib.sha256()
    try:
        with open(tmp, "wb") as f:
            async for block in request.stream():
                h.update(block)
                f.write(block)
        if "sha256:" + h.hexdigest() != digest.replace("sha256-", "sha256:"):
            raise BadInputError(
                f"digest mismatch: the body's sha256 is {h.hexdigest()}, not {digest}"
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return Response(status_code=201)


# ------------------------------------------------------------------------------ create
def modelfile_of(req: CreateRequest) -> Modelfile:
    """The request's Modelfile: the text of the older API, or the fields of the newer one."""
    if req.quantize:
        raise BadInputError("quantize: llmatlas does not quantize models; pull a quantized GGUF")
    if req.adapters:
        raise BadInputError("adapters: LoRA adapters are not supported by llmatlas")
    if req.modelfile:
        mf = parse_modelfile(req.modelfile)
    else:
        mf = Modelfile()
        if req.from_:
            mf.from_ = req.from_
        elif req.files:
            ggufs = [d for f, d in req.files.items() if f.lower().endswith(".gguf")]
            if len(ggufs) != 1:
                raise BadInputError("files: give exactly one .gguf file (name -> blob digest)")
            mf.from_ = ggufs[0]
        else:
            raise BadInputError("from: required (a model name, or files with one GGUF blob)")
    if req.template is not None:
        mf.template = req.template
    if req.system is not None:
        mf.system = req.system
    for k, v in (req.parameters or {}).items():
        add_parameter(mf.parameters, k, v)
    for m in req.messages or []:
        mf.messages.append({"role": str(m.get("role", "")), "content": str(m.get("content", ""))})
    if mf.template:
        check_template(mf.template)  # a 400 now, not at the model's first chat
    return mf


def create_model(st: Any, name: str, mf: Modelfile, say: Callable[[str], None]) -> None:
    src = mf.from_.strip()
    path: Path | None = None
    if DIGEST.match(src.lstrip("@")):
        path = blob_path(st, src.lstrip("@"))
        if not path.exists():
            raise BadInputError(f"FROM {src}: no such blob; upload it with POST /api/blobs/{src}")
    elif src.lower().endswith(".gguf") or (os.sep in src and Path(src).expanduser().is_file()):
        path = Path(src).expanduser()
        if not path.is_file():
            raise BadInputError(f"FROM {src}: no such file on the server")
    if path is not None:
        say("parsing GGUF")
        stored = st.store.import_gguf(path, name)
        mf.from_ = stored.path.name
        modelfile.save(st.store, stored.name, mf)
    else:
        say(f"using model {src}")
        modelfile.derive(st.store, st.manager.alias(src), name, mf)
    st.manager.unload(name)  # a loaded copy under this name would keep the old settings
    say("writing manifest")


@router.post("/api/create", response_model=None)
async def create(req: CreateRequest, request: Request) -> Any:
    st = _st(request)
    name = check_name(req.model or req.name or "")
    mf = modelfile_of(req)
    return await _progress(req.stream, lambda say: create_model(st, name, mf, say))


async def _progress(stream: bool, work: Callable[[Callable[[str], None]], Any]) -> Any:
    """Run ``work`` in a thread; stream its status lines as Ollama's progress NDJSON."""
    loop = asyncio.get_running_loop()
    q: asyncio.Queue[str | BaseException | None] = asyncio.Queue()

    def say(status: str) -> None:
        loop.call_soon_threadsafe(q.put_nowait, status)

    def run() -> None:
        try:
            work(say)
            loop.call_soon_threadsafe(q.put_nowait, None)
        except BaseException as exc:
            loop.call_soon_threadsafe(q.put_nowait, exc)

    threading.Thread(target=run, daemon=True).start()

    async def lines() -> AsyncIterator[str]:
        while True:
            item = await q.get()
            if item is None:
                yield tr.ndjson(tr.progress("success"))
                return
            if isinstance(item, BaseException):
                msg = str(item) if isinstance(item, AtlasError) else f"failed: {item}"
                yield '{"error": ' + _json(msg) + "}\n"
                return
            yield item + "\n" if item.startswith("{") else tr.ndjson(tr.progress(item))

    if stream:
        return StreamingResponse(lines(), media_type=NDJSON)
    while True:
        item = await q.get()
        if item is None:
            return tr.progress("success").model_dump(exclude_none=True)
        if isinstance(item, BaseException):
            if isinstance(item, AtlasError):
                raise item
            raise StoreError(f"failed: {item}")


def _json(s: str) -> str:
    import json

    return json.dumps(s)


# ------------------------------------------------------------------------------ pull / push
def pull_work(st: Any, spec: str, say: Callable[[str], None]) -> None:
    """Pull through the store with Ollama's progress lines: the file's digest and ``total``
    as soon as they are known, then ``completed`` as the partial file grows."""
    from llmatlas.runtime.pull import pull_model

    say("pulling manifest")
    present = st.store.get(spec)
    if present is not None and present.source in ("derived", "import"):
        say(f"{present.name} is a local model (created or imported here): nothing to download")
        return
    partial = Path(st.cfg.settings.models_dir) / ".partial"
    done = threading.Event()
    file: dict[str, Any] = {}

    def line(completed: int) -> None:
        sha = file["sha256"]
        status = f"pulling {sha[:12]}" if sha else "pulling"
        digest = f"sha256:{sha}" if sha else None
        progress = tr.progress(status, digest=digest, total=file["size"], completed=completed)
        say(tr.ndjson(progress).strip())

    def on_file(sha256: str, size: int | None) -> None:
        file.update(sha256=sha256, size=size)
        line(0)

    def watch() -> None:
        while not done.wait(0.5):
            if not file:
                continue
            # the store names a partial file by the first 40 hex digits of its sha256
            parts = list(partial.glob(f"{file['sha256'][:40]}*.part")) if file["sha256"] else []
            if parts:
                line(parts[0].stat().st_size)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        stored = pull_model(spec, store=st.store, say=say, on_file=on_file)
    finally:
        done.set()
    say("verifying sha256 digest")
    say(
        tr.ndjson(
            tr.progress(
                f"pulled {stored.name}",
                digest=f"sha256:{stored.sha256}",
                total=stored.size_bytes,
                completed=stored.size_bytes,
            )
        ).strip()
    )
    say("writing manifest")


@router.post("/api/pull", response_model=None)
async def pull(req: PullRequest, request: Request) -> Any:
    st = _st(request)
    spec = req.model or req.name
    if not spec:
        raise BadInputError("model: required")
    target = st.manager.alias(spec)
    return await _progress(req.stream, lambda say: pull_work(st, target, say))


@router.get("/api/version")
def version() -> dict[str, str]:
    from llmatlas import __version__

    return {"version": __version__}


@router.post("/api/push")
async def push(request: Request) -> JSONResponse:
    return JSONResponse(
        tr.error_body(
            "pushing models is not supported: llmatlas has no registry to push to; "
            "share the GGUF file (see `llmatlas list --json` for its path)"
        ),
        501,
    )
