"""Loaded models of the server: load on first request if sizing says it fits beside the
others, else unload the least recently used idle one; honour ``keep_alive``.

Every request holds its model through a lease (:meth:`ModelManager.acquire` /
:meth:`ModelManager.release`, or :func:`lease` in a route): a model with requests in flight is
never unloaded under them.  ``keep_alive: 0`` unloads when the last request ends; delete waits
for the model's requests (or answers 409); LRU eviction only picks idle models.  The lease count
is also the admission check: beyond ``n_slots + queue_max`` requests on one model, 429 before
any response starts, streaming or not."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmatlas.catalog import Catalog, ModelEntry
from llmatlas.errors import DoesNotFitError, ModelBusyError, OverloadedError
from llmatlas.runtime.batching import BatchScheduler
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
    embedder: Any = None
    embed_lock: threading.Lock = field(default_factory=threading.Lock)
    embedder_bytes: int = 0
    inflight: int = 0  # requests holding a lease on this model
    retiring: bool = False  # being deleted: no new leases

    @property
    def held_bytes(self) -> int:
        """What this model holds: the scheduler's weights + KV + buffers at its real context,
        plus the embedding context when one was opened."""
        return self.bytes + self.embedder_bytes

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
    ) -> None:
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
        self._changed = threading.Condition(self._lock)  # a lease ended or a model left

    @property
    def used_bytes(self) -> int:
        """Memory the loaded models hold, by the same sizing that admitted them (lock-free: a
        load holds the lock for seconds and /metrics must not wait for it)."""
        return sum(m.held_bytes for m in list(self.loaded.values()))

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

    def resolve(self, name: str) -> tuple[StoredModel, ModelEntry | None]:
        stored = self.store.resolve(name)
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

    def acquire(self, name: str, keep_alive: float | None = None) -> Loaded:
        """Take a lease on a model (loading it if needed) for one request; pair with
        :meth:`release`.  429 when the model already has ``n_slots + queue_max`` requests."""
        stored, entry = self.resolve(name)
        with self._lock:
            lm = self.loaded.get(stored.name)
            if lm is not None and lm.retiring:
                raise ModelBusyError(f"{stored.name} is being deleted")
            if lm is None:
                lm = self._load(stored, entry)
            cap = self.n_slots + self.queue_max
            if lm.inflight >= cap:
                raise OverloadedError(
                    f"server busy: {lm.inflight} requests on {lm.name} "
                    f"({self.n_slots} slots + {self.queue_max} queued); retry shortly"
                )
            lm.inflight += 1
            lm.last_used = time.time()
            if keep_alive is not None:
                lm.keep_alive = keep_alive
            return lm

    def release(self, lm: Loaded) -> None:
        """End a lease; the last one out of a ``keep_alive: 0`` model unloads it."""
        with self._lock:
            lm.inflight -= 1
            lm.last_used = time.time()
            drop = (
                lm.inflight == 0
                and lm.keep_alive == 0
                and not lm.retiring
                and self.loaded.get(lm.name) is lm
            )
            if drop:
                del self.loaded[lm.name]
            self._changed.notify_all()
        if drop:
            self._close(lm)

    def retire(self, name: str, timeout: float = 30.0) -> bool:
        """Unload ``name`` once its requests are done (new ones get 409 meanwhile); 409 if they
        are not done within ``timeout`` seconds.  False if it was not loaded."""
        with self._lock:
            lm = self.loaded.get(name)
            if lm is None:
                return False
            lm.retiring = True
            deadline = time.monotonic() + timeout
            try:
                while lm.inflight > 0:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ModelBusyError(
                            f"{name} is serving {lm.inflight} request(s); "
                            "try again when they are done"
                        )
                    self._changed.wait(left)
            finally:
                lm.retiring = self.loaded.get(name) is lm and lm.inflight == 0
            if self.loaded.get(name) is lm:
                del self.loaded[name]
        self._close(lm)
        return True

    def _load(self, stored: StoredModel, entry: ModelEntry | None) -> Loaded:
        need = self.planned_bytes(stored, entry)
        if need > self.budget:
            raise DoesNotFitError(
                f"{stored.name} needs {need / 2**30:.1f} GiB at {self.n_slots} slots x {self.n_ctx} tokens; "
                f"the server's budget is {self.budget / 2**30:.1f} GiB"
            )
        while self.loaded and self.used_bytes + need > self.budget:
            idle = [m for m in self.loaded.values() if m.inflight == 0 and not m.retiring]
            if not idle:
                raise OverloadedError(
                    f"{stored.name} needs {need / 2**30:.1f} GiB and the models in use hold "
                    f"{self.used_bytes / 2**30:.1f} GiB of {self.budget / 2**30:.1f}; retry shortly"
                )
            lru = min(idle, key=lambda m: m.last_used)
            del self.loaded[lru.name]
            self._close(lru)
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
        # account at the context the scheduler really opened (capped by the model's training)
        held = self.planned_bytes(stored, entry, sched.n_ctx_per_slot)
        lm = Loaded(stored.name, stored, entry, sched, fmt, held)
        self.loaded[stored.name] = lm
        return lm

    def unload(self, name: str) -> bool:
        """Unload now if idle; 409 if requests hold it (use :meth:`retire` to wait for them)."""
        with self._lock:
            lm = self.loaded.get(name)
            if lm is None:
                return False
            if lm.inflight:
                raise ModelBusyError(f"{name} is serving {lm.inflight} request(s)")
            del self.loaded[name]
        self._close(lm)
        return True

    @staticmethod
    def _close(lm: Loaded) -> None:
        lm.sched.close()
        with lm.embed_lock:
            if lm.embedder is not None:
                lm.embedder.close()
                lm.embedder = None

    def expire(self) -> list[str]:
        """Unload models whose keep_alive ran out while idle; returns their names."""
        now = time.time()
        gone = []
        with self._lock:
            for lm in list(self.loaded.values()):
                if lm.inflight == 0 and not lm.retiring and now >= lm.expires_at:
                    del self.loaded[lm.name]
                    gone.append(lm)
        for lm in gone:
            self._close(lm)
        return [lm.name for lm in gone]

    def embedder(self, lm: Loaded) -> Any:
        with lm.embed_lock:
            if lm.embedder is None:
                from llama_cpp import Llama

                from llmatlas.runtime._llama_log import quiet

                quiet()
                n_ctx = min(lm.n_ctx, 2048)
                lm.embedder = Llama(
                    model_path=str(lm.stored.path),
                    embedding=True,
                    n_ctx=n_ctx,
                    n_threads=self.n_threads or None,
                    verbose=False,
                )
                # weights are mapped from the same file; the new context and buffers are extra
                whole = self.planned_bytes(lm.stored, lm.entry, n_ctx, 1)
                lm.embedder_bytes = max(whole - lm.stored.size_bytes, 0)
            return lm.embedder

    def close(self) -> None:
        """Server shutdown: unload everything (requests in flight were already cancelled)."""
        with self._lock:
            gone = list(self.loaded.values())
            self.loaded.clear()
        for lm in gone:
            self._close(lm)


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
