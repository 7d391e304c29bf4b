"""Which models are loaded: load on first request if the memory budget has room beside the
others (else unload the least recently used idle one), hold each model through leases,
honour ``keep_alive``.

The scheduler does no I/O of its own.  What it needs is injected, as Ollama's
``server/sched.go`` takes the function that starts a runner and the GPU probe as arguments:

- ``plan(name)`` resolves a requested name to a :class:`Plan` (the model's key, file and
  sizing's figure for it) before anything is loaded;
- ``load(plan)`` loads it and returns a :class:`Runner` (the server's loader goes through the
  engine registry, :func:`llmatlas.runtime.engines.load_engine`; tests register a fake engine
  there);
- ``clock()`` is the time keep_alive is measured against;
- ``budget_bytes`` is the memory all loaded models may hold together.

Every request holds its model through a lease (:meth:`ModelScheduler.acquire` /
:meth:`ModelScheduler.release`): a model with requests in flight is never unloaded under them.
``keep_alive: 0`` unloads when the last lease ends; :meth:`retire` (delete) waits for the
model's requests, new ones get 409 meanwhile; eviction only picks idle models.  The lease count
is also the admission check: beyond ``capacity`` requests on one model, 429.  A model is
loaded once: concurrent requests for it wait for that load (and share its failure), while
requests for other, loaded models are served meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from llmatlas.errors import DoesNotFitError, ModelBusyError, OverloadedError
from llmatlas.runtime.engines import Engine

DEFAULT_KEEP_ALIVE = 300.0  # seconds, like Ollama
GiB = 2**30


@dataclass(frozen=True)
class Plan:
    """What the scheduler knows of a model before loading it."""

    key: str  # the model's canonical name: at most one loaded copy per key
    path: Path  # its weights
    need_bytes: int  # sizing's figure for it as this server would load it
    detail: str = ""  # how it would be loaded, for messages ("at 8 slots x 4096 tokens")
    source: Any = None  # whatever the loader needs besides (the server: store row + catalog entry)


@dataclass(eq=False, kw_only=True)
class Runner:
    """One loaded model: its engine, the memory it holds, its leases and keep_alive."""

    name: str
    engine: Engine
    bytes: int  # weights + KV + buffers as loaded (sizing at the engine's real context)
    extra_bytes: int = 0  # memory opened later beside it (an embedding context)
    loaded_at: float = 0.0
    last_used: float = 0.0
    keep_alive: float = DEFAULT_KEEP_ALIVE
    inflight: int = 0  # leases held
    retiring: bool = False  # being deleted: no new leases

    @property
    def held_bytes(self) -> int:
        return self.bytes + self.extra_bytes

    @property
    def expires_at(self) -> float:
        return self.last_used + self.keep_alive

    def close(self) -> None:
        self.engine.unload()

    def retry_after(self) -> int | None:
        """Seconds until a request sent now would be served (None: not known)."""
        return None

    def drain_after(self) -> int | None:
        """Seconds until the requests it has now have all ended (None: not known)."""
        return None


R = TypeVar("R", bound=Runner)


@dataclass(eq=False)
class _Loading:
    """A load in progress: its memory is reserved; other requests for it wait for ``done``."""

    need_bytes: int
    done: bool = False
    error: BaseException | None = None
    waiters: int = 0


@dataclass
class ModelScheduler(Generic[R]):
    plan: Callable[[str], Plan]
    load: Callable[[Plan], R]
    budget_bytes: int
    capacity: int = 72  # leases per model (the server: slots + queue)
    clock: Callable[[], float] = time.time
    loaded: dict[str, R] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._pending: dict[str, _Loading] = {}
        self._changed = threading.Condition(threading.Lock())  # a lease, load or unload ended

    # -- reading (lock-free: a load takes seconds and /metrics, /health must not wait) ------
    @property
    def loading(self) -> set[str]:
        return set(self._pending)

    @property
    def used_bytes(self) -> int:
        """Memory the loaded models hold plus what loads in progress reserved."""
        return sum(r.held_bytes for r in list(self.loaded.values())) + sum(
            p.need_bytes for p in list(self._pending.values())
        )

    # -- leases ---------------------------------------------------------------------------
    def acquire(self, name: str, keep_alive: float | None = None) -> R:
        """Take a lease on a model (loading it if needed) for one request; pair with
        :meth:`release`.  429 when the model already has ``capacity`` requests."""
        return self._take(name, keep_alive, lease=True)

    def get(self, name: str, keep_alive: float | None = None) -> R:
        """The model, loaded if needed, without a lease (preloading)."""
        return self._take(name, keep_alive, lease=False)

    def release(self, r: R) -> None:
        """End a lease; the last one out of a ``keep_alive: 0`` model unloads it."""
        with self._changed:
            r.inflight -= 1
            r.last_used = self.clock()
            drop = (
                r.inflight == 0
                and r.keep_alive == 0
                and not r.retiring
                and self.loaded.get(r.name) is r
            )
            if drop:
                del self.loaded[r.name]
            self._changed.notify_all()
        if drop:
            r.close()

    def _take(self, name: str, keep_alive: float | None, lease: bool) -> R:
        plan = self.plan(name)  # outside the lock: resolving may read the store
        with self._changed:
            while True:
                r = self.loaded.get(plan.key)
                if r is not None:
                    return self._lease(r, keep_alive, lease)
                loading = self._pending.get(plan.key)
                if loading is None:
                    break
                loading.waiters += 1
                try:
                    while not loading.done:
                        self._changed.wait()
                finally:
                    loading.waiters -= 1
                if loading.error is not None:
                    raise loading.error
            evicted = self._make_room(plan)
            loading = self._pending[plan.key] = _Loading(plan.need_bytes)
        for old in evicted:
            old.close()
        try:
            r = self.load(plan)
        except BaseException as exc:
            with self._changed:
                loading.done, loading.error = True, exc
                del self._pending[plan.key]
                self._changed.notify_all()
            raise
        with self._changed:
            r.loaded_at = r.last_used = self.clock()
            self.loaded[plan.key] = r
            loading.done = True
            del self._pending[plan.key]
            self._changed.notify_all()
            return self._lease(r, keep_alive, lease)

    def _lease(self, r: R, keep_alive: float | None, lease: bool) -> R:
        if r.retiring:
            raise ModelBusyError(f"{r.name} is being deleted")
        if lease:
            if r.inflight >= self.capacity:
                err = OverloadedError(
                    f"server busy: {r.inflight} requests on {r.name} "
                    f"(at most {self.capacity} at once); retry shortly"
                )
                err.retry_after = r.retry_after()
                raise err
            r.inflight += 1
        r.last_used = self.clock()
        if keep_alive is not None:
            r.keep_alive = keep_alive
        return r

    def _make_room(self, plan: Plan) -> list[R]:
        """Unload least recently used idle models until ``plan`` fits (under the lock; the
        caller closes what is returned).  413-like 400 if it can never fit, 429 if the models
        holding the budget are all in use."""
        if plan.need_bytes > self.budget_bytes:
            raise DoesNotFitError(
                f"{plan.key} needs {plan.need_bytes / GiB:.1f} GiB"
                f"{' ' + plan.detail if plan.detail else ''}; "
                f"the server's budget is {self.budget_bytes / GiB:.1f} GiB"
            )
        evicted: list[R] = []
        while self.used_bytes + plan.need_bytes > self.budget_bytes:
            idle = [r for r in self.loaded.values() if r.inflight == 0 and not r.retiring]
            if not idle:
                err = OverloadedError(
                    f"{plan.key} needs {plan.need_bytes / GiB:.1f} GiB and the models in use "
                    f"hold {self.used_bytes / GiB:.1f} GiB of {self.budget_bytes / GiB:.1f}; "
                    "retry shortly"
                )
                # room comes when the first of the models in use has served its requests
                drains = [d for r in self.loaded.values() if (d := r.drain_after()) is not None]
                err.retry_after = min(drains) if drains else None
                raise err
            lru = min(idle, key=lambda r: r.last_used)
            del self.loaded[lru.name]
            evicted.append(lru)
        return evicted

    # -- unloading ------------------------------------------------------------------------
    def retire(self, name: str, timeout: float = 30.0) -> bool:
        """Unload ``name`` once its requests are done (new ones get 409 meanwhile); 409 if they
        are not done within ``timeout`` seconds.  False if it was not loaded."""
        with self._changed:
            r = self.loaded.get(name)
            if r is None:
                return False
            r.retiring = True
            deadline = time.monotonic() + timeout
            try:
                while r.inflight > 0:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ModelBusyError(
                            f"{name} is serving {r.inflight} request(s); "
                            "try again when they are done"
                        )
                    self._changed.wait(left)
            finally:
                r.retiring = self.loaded.get(name) is r and r.inflight == 0
            if self.loaded.get(name) is r:
                del self.loaded[name]
            self._changed.notify_all()
        r.close()
        return True

    def unload(self, name: str) -> bool:
        """Unload now if idle; 409 if requests hold it (use :meth:`retire` to wait for them)."""
        with self._changed:
            r = self.loaded.get(name)
            if r is None:
                return False
            if r.inflight:
                raise ModelBusyError(f"{name} is serving {r.inflight} request(s)")
            del self.loaded[name]
            self._changed.notify_all()
        r.close()
        return True

    def expire(self) -> list[str]:
        """Unload models whose keep_alive ran out while idle; returns their names."""
        now = self.clock()
        with self._changed:
            gone = [
                r
                for r in self.loaded.values()
                if r.inflight == 0 and not r.retiring and now >= r.expires_at
            ]
            for r in gone:
                del self.loaded[r.name]
            self._changed.notify_all()
        for r in gone:
            r.close()
        return [r.name for r in gone]

    def close(self) -> None:
        """Shutdown: unload everything (requests in flight were already cancelled)."""
        with self._changed:
            gone = list(self.loaded.values())
            self.loaded.clear()
            self._changed.notify_all()
        for r in gone:
            r.close()
