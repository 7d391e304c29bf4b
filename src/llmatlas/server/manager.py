"""Loaded models of the server: load on first request if sizing says it fits beside the
others, else unload the least recently used; honour ``keep_alive``."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from llmatlas.catalog import Catalog, ModelEntry
from llmatlas.errors import DoesNotFitError
from llmatlas.runtime import modelfile
from llmatlas.runtime.batching import BatchScheduler
from llmatlas.runtime.embeddings import Embedder
from llmatlas.runtime.modelfile import Modelfile
from llmatlas.runtime.store import ModelStore, StoredModel
from llmatlas.runtime.templates import ChatFormat, chat_format
from llmatlas.sizing import estimate_memory, get_format

DEFAULT_KEEP_ALIVE = 300.0  # seconds, like Ollama


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
        from llmatlas.errors import BadInputError

        raise BadInputError(f"keep_alive {value!r}: use seconds or a duration like 5m") from None


@dataclass
class Loaded:
    name: str
    stored: StoredModel
    entry: ModelEntry | None
    sched: BatchScheduler
    chat: ChatFormat
    bytes: int
    loaded_at: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.time)
    keep_alive: float = DEFAULT_KEEP_ALIVE
    modelfile: Modelfile = field(default_factory=Modelfile)  # a derived model's settings
    embedder: Embedder | None = None
    embed_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def expires_at(self) -> float:
        return self.last_used + self.keep_alive

    @property
    def n_ctx(self) -> int:
        return self.sched.n_ctx_per_slot


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
    ) -> None:
        self.aliases = {k.lower(): v for k, v in (aliases or {}).items()}
        self.store = store
        self.catalog = catalog
        self.budget = budget_bytes
        self.n_slots = n_slots
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.queue_max = queue_max
        self.loaded: dict[str, Loaded] = {}
        self.loading: set[str] = set()
        self._lock = threading.RLock()

    def planned_bytes(self, stored: StoredModel, entry: ModelEntry | None) -> int:
        """Sizing's figure for this model at the server's slots x context."""
        if entry is not None and entry.architecture is not None and stored.quant:
            try:
                ctx = min(self.n_ctx, entry.architecture.max_position_embeddings)
                return estimate_memory(
                    entry.architecture, get_format(stored.quant), ctx, self.n_slots
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

    def get(self, name: str, keep_alive: float | None = None) -> Loaded:
        stored, entry = self.resolve(name)
        with self._lock:
            lm = self.loaded.get(stored.name)
            if lm is None:
                lm = self._load(stored, entry)
            lm.last_used = time.time()
            if keep_alive is not None:
                lm.keep_alive = keep_alive
            return lm

    def _load(self, stored: StoredModel, entry: ModelEntry | None) -> Loaded:
        need = self.planned_bytes(stored, entry)
        if need > self.budget:
            raise DoesNotFitError(
                f"{stored.name} needs {need / 2**30:.1f} GiB at {self.n_slots} slots x {self.n_ctx} tokens; "
                f"the server's budget is {self.budget / 2**30:.1f} GiB"
            )
        while self.loaded and sum(m.bytes for m in self.loaded.values()) + need > self.budget:
            lru = min(self.loaded.values(), key=lambda m: m.last_used)
            self.unload(lru.name)
        self.loading.add(stored.name)
        try:
            sched = BatchScheduler(
                Path(stored.path),
                self.n_slots,
                self.n_ctx,
                self.n_threads,
                queue_max=self.queue_max,
            )
        finally:
            self.loading.discard(stored.name)
        fmt = chat_format(
            sched.metadata, entry.family if entry else None, entry.instruct if entry else None
        )
        lm = Loaded(stored.name, stored, entry, sched, fmt, need)
        lm.modelfile = modelfile.load(self.store, stored.name)
        if lm.modelfile.template:
            lm.chat = ChatFormat(lm.modelfile.template, "modelfile", fmt.bos_token, fmt.eos_token)
        self.loaded[stored.name] = lm
        return lm

    def unload(self, name: str) -> bool:
        with self._lock:
            lm = self.loaded.pop(name, None)
        if lm is None:
            return False
        lm.sched.close()
        if lm.embedder is not None:
            lm.embedder.close()
        return True

    def expire(self) -> list[str]:
        """Unload models whose keep_alive ran out while idle; returns their names."""
        now = time.time()
        gone = []
        for lm in list(self.loaded.values()):
            idle = lm.sched.active_count == 0 and lm.sched.queue_depth == 0
            if idle and now >= lm.expires_at:
                self.unload(lm.name)
                gone.append(lm.name)
        return gone

    def embedder(self, lm: Loaded) -> Embedder:
        with lm.embed_lock:
            if lm.embedder is None:
                lm.embedder = Embedder(lm.stored.path, min(lm.n_ctx, 2048), self.n_threads)
            return lm.embedder

    def close(self) -> None:
        for name in list(self.loaded):
            self.unload(name)
