"""The server's models: :class:`llmatlas.runtime.scheduler.ModelScheduler` over the store, the
catalog's sizing and the engine registry.

The scheduler decides what is loaded (budget, LRU, keep_alive, leases, 429 admission); this
module says what a model is for the server (a :class:`Loaded`: engine + chat format +
Modelfile settings + embedding context), how much memory it needs (sizing), and takes a
route's lease for the length of its request (:func:`lease`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmatlas.catalog import Catalog, ModelEntry
from llmatlas.errors import BadInputError
from llmatlas.runtime import modelfile
from llmatlas.runtime.batching import BatchScheduler
from llmatlas.runtime.embeddings import Embedder
from llmatlas.runtime.engines import LoadOptions, load_engine
from llmatlas.runtime.modelfile import Modelfile
from llmatlas.runtime.scheduler import DEFAULT_KEEP_ALIVE, ModelScheduler, Plan, Runner
from llmatlas.runtime.store import ModelStore, StoredModel
from llmatlas.runtime.templates import ChatFormat, chat_format, modelfile_format
from llmatlas.sizing import estimate_memory, get_format

__all__ = ["DEFAULT_KEEP_ALIVE", "Loaded", "ModelManager", "lease", "parse_keep_alive"]


def parse_keep_alive(value: str | int | float | None) -> float | None:
    """Ollama's keep_alive: seconds (number) or a duration '5m', '1h', '30s'; negative = forever."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float("inf") if value < 0 else float(value)
    v = value.strip().lower()
    mult = {"s": 1, "m": 60, "h": 3600}
    try:
        if v and v[-1] in mult:
            n = float(v[:-1])
            return float("inf") if n < 0 else n * mult[v[-1]]
        n = float(v)
        return float("inf") if n < 0 else n
    except ValueError:
        raise BadInputError(f"keep_alive {value!r}: use seconds or a duration like 5m") from None


@dataclass(eq=False, kw_only=True)
class Loaded(Runner):
    """A model as the server serves it."""

    stored: StoredModel
    entry: ModelEntry | None
    sched: BatchScheduler  # the engine's batcher, which requests are submitted to
    chat: ChatFormat
    modelfile: Modelfile = field(default_factory=Modelfile)  # a derived model's settings
    embedder: Embedder | None = None
    embed_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def n_ctx(self) -> int:
        return self.sched.n_ctx_per_slot

    def retry_after(self) -> int:
        return self.sched.retry_after()

    def drain_after(self) -> int:
        return self.sched.drain_after()

    def close(self) -> None:
        super().close()
        with self.embed_lock:
            if self.embedder is not None:
                self.embedder.close()
                self.embedder = None


class ModelManager:
    def __init__(
        self,
        store: ModelStore,
        catalog: Catalog,
        budget_bytes: int,
        n_slots: int = 8,
        n_ctx: int = 4096,
        n_threads: int = 0,
        queue_max: int = 64,
        aliases: dict[str, str] | None = None,
        engine: str = "llama.cpp",
    ) -> None:
        self.aliases = {k.lower(): v for k, v in (aliases or {}).items()}
        self.store = store
        self.catalog = catalog
        self.n_slots = n_slots
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.engine = engine
        self.options = LoadOptions(
            n_ctx=n_ctx, n_threads=n_threads, n_seq_max=n_slots, queue_max=queue_max
        )
        self.scheduler: ModelScheduler[Loaded] = ModelScheduler(
            plan=self.plan, load=self._load, budget_bytes=budget_bytes, capacity=n_slots + queue_max
        )
        # the scheduler's surface, for routes, /health and /metrics
        self.loaded = self.scheduler.loaded
        self.acquire = self.scheduler.acquire
        self.release = self.scheduler.release
        self.get = self.scheduler.get
        self.retire = self.scheduler.retire
        self.unload = self.scheduler.unload
        self.expire = self.scheduler.expire
        self.close = self.scheduler.close

    @property
    def budget(self) -> int:
        return self.scheduler.budget_bytes

    @property
    def loading(self) -> set[str]:
        return self.scheduler.loading

    @property
    def used_bytes(self) -> int:
        return self.scheduler.used_bytes

    def planned_bytes(
        self,
        stored: StoredModel,
        entry: ModelEntry | None,
        ctx: int | None = None,
        slots: int | None = None,
    ) -> int:
        """Sizing's figure for this model at ``slots`` x ``ctx`` (default: the server's)."""
        slots = slots or self.n_slots
        if entry is not None and entry.architecture is not None and stored.quant:
            try:
                c = min(ctx or self.n_ctx, entry.architecture.max_position_embeddings)
                return estimate_memory(
                    entry.architecture, get_format(stored.quant), c, slots
                ).total_bytes
            except Exception:
                pass
        return stored.size_bytes * 2  # unknown architecture: weights + a generous KV/buffer share

    def alias(self, name: str) -> str:
        """The model a ``serve --alias NAME=MODEL`` name stands for (else the name itself)."""
        return self.aliases.get(name.lower(), name)

    def resolve(self, name: str) -> tuple[StoredModel, ModelEntry | None]:
        stored = self.store.resolve(self.alias(name))
        entry = self.catalog.data.models.get(stored.catalog_id) if stored.catalog_id else None
        return stored, entry

    def plan(self, name: str) -> Plan:
        """The scheduler's view of ``name`` before loading: key, file and sizing's figure."""
        stored, entry = self.resolve(name)
        return Plan(
            stored.name,
            Path(stored.path),
            self.planned_bytes(stored, entry),
            f"at {self.n_slots} slots x {self.n_ctx} tokens",
            (stored, entry),
        )

    def _load(self, plan: Plan) -> Loaded:
        """The scheduler's loader: the engine from the registry, the chat format from the
        file's metadata (or the Modelfile's TEMPLATE)."""
        stored, entry = plan.source
        engine = load_engine(self.engine, plan.path, self.options)
        try:
            sched = engine.batcher
            fmt = chat_format(
                sched.metadata, entry.family if entry else None, entry.instruct if entry else None
            )
            mf = modelfile.load(self.store, stored.name)
        except BaseException:
            engine.unload()
            raise
        if mf.template:
            fmt = modelfile_format(mf.template, fmt.bos_token, fmt.eos_token)
        # account at the context the engine really opened (capped by the model's training)
        held = self.planned_bytes(stored, entry, engine.n_ctx)
        return Loaded(
            name=stored.name,
            engine=engine,
            bytes=held,
            stored=stored,
            entry=entry,
            sched=sched,
            chat=fmt,
            modelfile=mf,
        )

    def embedder(self, lm: Loaded) -> Embedder:
        with lm.embed_lock:
            if lm.embedder is None:
                n_ctx = min(lm.n_ctx, 2048)
                lm.embedder = Embedder(lm.stored.path, n_ctx, self.n_threads)
                # weights are mapped from the same file; the new context and buffers are extra
                whole = self.planned_bytes(lm.stored, lm.entry, n_ctx, 1)
                lm.extra_bytes = max(whole - lm.stored.size_bytes, 0)
            return lm.embedder


async def lease(request: Any, name: str, keep_alive: float | None = None) -> Loaded:
    """The model for this request, held until the request ends (answered, failed, abandoned).

    The lease is taken on a worker thread (loading may take seconds) and registered from that
    thread, so a client that leaves mid-load cannot leak it."""
    from llmatlas.server.security import offload, on_request_end

    manager: ModelManager = request.app.state.atlas.manager

    def take() -> Loaded:
        lm = manager.acquire(name, keep_alive)
        try:
            on_request_end(request.scope, lambda: manager.release(lm))
        except BaseException:
            manager.release(lm)
            raise
        return lm

    return await offload(take)
