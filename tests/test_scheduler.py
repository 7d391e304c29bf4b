"""The model scheduler (runtime/scheduler.py) on a fake engine registered through the real
engine registry, with an injected clock and memory budget: loading, keep_alive expiry,
eviction, concurrent requests waiting for one load, unload after the last lease, 429."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from llmatlas.errors import DoesNotFitError, EngineError, ModelBusyError, OverloadedError
from llmatlas.runtime.engines import (
    REGISTRY,
    Chunk,
    Engine,
    LoadOptions,
    SamplingOptions,
    load_engine,
    register,
)
from llmatlas.runtime.scheduler import ModelScheduler, Plan, Runner

MB = 2**20
SIZES = {"a": 100 * MB, "b": 100 * MB, "c": 40 * MB, "huge": 500 * MB, "broken": MB}


class FakeEngine(Engine):
    """Loads nothing; records what the scheduler asked of it.  A test may hold loads at
    ``gate`` to see what other requests do meanwhile."""

    name = "fake"
    package = "llmatlas"
    log: ClassVar[list[str]] = []
    gate: ClassVar[threading.Event | None] = None

    def load(self, path: Path, options: LoadOptions) -> None:
        self.path = path
        FakeEngine.log.append(f"load {path.stem}")
        if FakeEngine.gate is not None and path.stem != "c":
            assert FakeEngine.gate.wait(10)
        if path.stem == "broken":
            raise EngineError("broken.gguf: not a GGUF file")

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return [ord(c) for c in text]

    def generate(self, prompt: str, sampling: SamplingOptions) -> Iterator[Chunk]:
        yield Chunk("", "stop", len(prompt), 0)

    def unload(self) -> None:
        FakeEngine.log.append(f"unload {self.path.stem}")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def fake() -> Iterator[type[FakeEngine]]:
    register(FakeEngine)
    FakeEngine.log, FakeEngine.gate = [], None
    try:
        yield FakeEngine
    finally:
        REGISTRY.pop("fake", None)
        FakeEngine.gate = None


def scheduler(
    budget: int = 150 * MB, capacity: int = 4, runner: type[Runner] = Runner
) -> tuple[ModelScheduler[Runner], Clock]:
    clock = Clock()

    def plan(name: str) -> Plan:
        return Plan(name, Path(f"/models/{name}.gguf"), SIZES[name], "at 1 slot x 256 tokens")

    def load(p: Plan) -> Runner:
        engine = load_engine("fake", p.path, LoadOptions(n_ctx=256))
        return runner(name=p.key, engine=engine, bytes=p.need_bytes)

    return ModelScheduler(plan, load, budget, capacity, clock), clock


def test_loads_through_the_registry_once(fake: type[FakeEngine]) -> None:
    s, clock = scheduler()
    r = s.acquire("a")
    assert isinstance(r.engine, FakeEngine) and r.loaded_at == clock.now
    clock.now += 1
    assert s.acquire("a") is r and r.inflight == 2 and r.last_used == clock.now
    assert fake.log == ["load a"] and s.used_bytes == 100 * MB
    REGISTRY.pop("fake")
    with pytest.raises(Exception, match="unknown engine 'fake'"):
        s.acquire("c")  # the loader really goes through the registry


def test_keep_alive_expiry_on_the_injected_clock(fake: type[FakeEngine]) -> None:
    s, clock = scheduler()
    r = s.acquire("a", keep_alive=10)
    clock.now += 60
    assert s.expire() == []  # in use: never expires under a request
    s.release(r)  # idle from now
    clock.now += 9.5
    assert s.expire() == [] and "a" in s.loaded
    clock.now += 0.5
    assert s.expire() == ["a"] and not s.loaded and fake.log == ["load a", "unload a"]
    forever = s.get("b", keep_alive=float("inf"))
    clock.now += 10**9
    assert s.expire() == [] and s.loaded == {"b": forever}


def test_eviction_picks_the_least_recently_used_idle_model(fake: type[FakeEngine]) -> None:
    s, clock = scheduler(budget=150 * MB)
    a = s.acquire("a")
    c = s.acquire("c")  # 140 MB: both fit
    s.release(a)
    clock.now += 1
    s.release(c)  # c used more recently than a
    b = s.acquire("b")  # 240 MB > 150: a (LRU) goes; 140 MB
    assert set(s.loaded) == {"b", "c"} and fake.log[-2:] == ["unload a", "load b"]
    # the models holding the budget are in use: 429, nothing unloaded under them
    c2 = s.acquire("c")
    with pytest.raises(OverloadedError, match="models in use"):
        s.acquire("a")
    assert set(s.loaded) == {"b", "c"} and b.inflight == c2.inflight == 1
    with pytest.raises(DoesNotFitError, match=r"huge needs 0.5 GiB at 1 slot x 256 tokens"):
        s.acquire("huge")


def test_concurrent_requests_wait_for_one_load(fake: type[FakeEngine]) -> None:
    s, _ = scheduler(budget=10**10)
    fake.gate = threading.Event()
    got: list[Runner] = []
    threads = [threading.Thread(target=lambda: got.append(s.acquire("a"))) for _ in range(3)]
    for t in threads:
        t.start()
    while s.loading != {"a"}:
        threading.Event().wait(0.005)
    # another model is served while "a" loads, and the load reserves its memory
    assert s.acquire("c").name == "c" and s.used_bytes == 140 * MB
    assert not got
    fake.gate.set()
    for t in threads:
        t.join(10)
    assert len(got) == 3 and all(r is got[0] for r in got) and got[0].inflight == 3
    assert fake.log.count("load a") == 1 and not s.loading


def test_a_failed_load_fails_every_waiter_and_is_retried(fake: type[FakeEngine]) -> None:
    s, _ = scheduler()
    fake.gate = threading.Event()
    errors: list[BaseException] = []

    def take() -> None:
        try:
            s.acquire("broken")
        except EngineError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=take) for _ in range(2)]
    for t in threads:
        t.start()
    while not s.loading:
        threading.Event().wait(0.005)
    fake.gate.set()
    for t in threads:
        t.join(10)
    assert len(errors) == 2 and fake.log.count("load broken") == 1
    assert not s.loaded and not s.loading and s.used_bytes == 0  # reservation returned
    with pytest.raises(EngineError, match="not a GGUF"):
        s.acquire("broken")  # a later request tries again
    assert fake.log.count("load broken") == 2


def test_keep_alive_zero_unloads_after_the_last_lease(fake: type[FakeEngine]) -> None:
    s, _ = scheduler()
    first = s.acquire("a")
    second = s.acquire("a", keep_alive=0)
    s.release(first)
    assert "a" in s.loaded  # the other request still holds it
    s.release(second)
    assert not s.loaded and fake.log == ["load a", "unload a"]


def test_overflow_is_429_until_a_lease_ends(fake: type[FakeEngine]) -> None:
    s, _ = scheduler(capacity=2)
    r = s.acquire("a")
    s.acquire("a")
    with pytest.raises(OverloadedError, match=r"2 requests on a \(at most 2 at once\)"):
        s.acquire("a")
    assert r.inflight == 2
    s.release(r)
    assert s.acquire("a") is r and r.inflight == 2


def test_delete_waits_for_leases_and_refuses_new_ones(fake: type[FakeEngine]) -> None:
    s, _ = scheduler()
    r = s.acquire("a")
    with pytest.raises(ModelBusyError, match="serving 1 request"):
        s.unload("a")
    with pytest.raises(ModelBusyError, match="serving 1 request"):
        s.retire("a", timeout=0.05)
    assert not r.retiring and s.acquire("a") is r  # a timed-out delete leaves it usable
    s.release(r)
    done = threading.Event()
    retired: list[bool] = []
    t = threading.Thread(target=lambda: (retired.append(s.retire("a")), done.set()))
    t.start()
    while not r.retiring:
        threading.Event().wait(0.005)
    with pytest.raises(ModelBusyError, match="being deleted"):
        s.acquire("a")
    assert not done.is_set()
    s.release(r)  # the last request ends: the delete goes through
    t.join(10)
    assert retired == [True] and not s.loaded and fake.log[-1] == "unload a"
    assert s.retire("a") is False and s.unload("a") is False


def test_wait_estimate_counts_the_work_ahead() -> None:
    from llmatlas.runtime.batching import retry_after_s, slot_free_steps, start_wait_steps

    # free slots: no wait; one slot busy for 50 more steps: 50
    assert start_wait_steps([], [], 2) == 0
    assert start_wait_steps([50], [], 1) == 50
    # queued requests take the slots that free first, the new one the next free slot
    assert start_wait_steps([50], [10], 1) == 60
    assert start_wait_steps([50, 20], [10], 2) == 30
    assert start_wait_steps([50, 20], [10, 100], 2) == 50
    # until the last request ends (a model's requests drained)
    assert max(slot_free_steps([50, 20], [10, 100], 2)) == 130
    # more queued, or longer queued requests, never shorten the wait
    assert start_wait_steps([50], [10, 10], 1) > start_wait_steps([50], [10], 1)
    assert start_wait_steps([50], [400], 1) > start_wait_steps([50], [10], 1)
    # whole seconds, rounded up, at least 1, at most the cap
    assert [retry_after_s(x) for x in (0, 0.2, 1.01, 42.0, 1e9)] == [1, 1, 2, 42, 600]


def test_memory_429_waits_for_the_first_model_in_use_to_drain(fake: type[FakeEngine]) -> None:
    class Timed(Runner):
        def drain_after(self) -> int | None:
            return {"a": 40, "c": 7}.get(self.name)

    s, _ = scheduler(budget=150 * MB, runner=Timed)
    s.acquire("a")
    s.acquire("c")
    with pytest.raises(OverloadedError, match="models in use") as exc:
        s.acquire("b")  # a and c, both in use, hold 140 of 150 MB
    assert exc.value.retry_after == 7  # room comes when the first of them drains
    plain, _ = scheduler(budget=150 * MB)
    plain.acquire("a")
    with pytest.raises(OverloadedError) as exc:
        plain.acquire("b")
    assert exc.value.retry_after is None  # nothing known: the server answers 1
