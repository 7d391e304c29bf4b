"""Inference engines behind one small interface.

An engine loads one model and streams tokens for a prompt.  Engines register
themselves in :data:`REGISTRY` (the built-ins use the same path a plugin would);
adapters whose package is not installed stay registered but report why they
cannot load, so ``--engine vllm`` fails with a one-line reason, not an ImportError.
"""

from __future__ import annotations

import importlib.util
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from llmatlas.errors import BadInputError, EngineError


class SamplingOptions(BaseModel):
    """Sampling settings shared by the CLI, the server and the engines."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(0.8, ge=0.0, le=5.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    top_k: int = Field(40, ge=0)
    min_p: float = Field(0.05, ge=0.0, le=1.0)
    repeat_penalty: float = Field(1.1, ge=0.0, le=5.0)
    seed: int | None = None
    stop: list[str] = Field(default_factory=list)
    max_tokens: int = Field(256, ge=1)
    grammar: str | None = None  # GBNF, for structured output
    logprobs: int | None = Field(None, ge=0, le=20)  # None: off; n: the chosen token + top n


@dataclass
class Chunk:
    """A piece of generated text.  The last chunk of a stream carries ``finish_reason``."""

    text: str
    finish_reason: str | None = None  # "stop" | "length"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadOptions:
    n_ctx: int = 4096
    n_threads: int = 0  # 0: physical cores
    n_gpu_layers: int = 0
    embedding: bool = False
    n_seq_max: int = 1
    queue_max: int = 64  # requests waiting beyond the sequences (batching engines)


class Engine(ABC):
    name: ClassVar[str]
    package: ClassVar[str]
    capabilities: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def available(cls) -> str | None:
        """None when usable here, else the reason it is not (one line)."""
        if importlib.util.find_spec(cls.package) is None:
            return f"engine {cls.name} needs the {cls.package!r} package: pip install {cls.package}"
        return None

    @abstractmethod
    def load(self, path: Path, options: LoadOptions) -> None: ...

    @abstractmethod
    def tokenize(self, text: str, add_special: bool = True) -> list[int]: ...

    @abstractmethod
    def generate(self, prompt: str, sampling: SamplingOptions) -> Iterator[Chunk]: ...

    def embed(self, texts: list[str]) -> list[list[float]]:
        raise EngineError(f"engine {self.name} does not compute embeddings")

    @property
    def metadata(self) -> dict[str, Any]:
        return {}

    @property
    def n_ctx(self) -> int:
        return 0

    @property
    def batcher(self) -> Any:
        """The continuous-batching scheduler the server submits requests to (engines with
        the ``batching`` capability; see :class:`llmatlas.runtime.batching.BatchScheduler`)."""
        raise EngineError(f"engine {self.name} cannot serve concurrent requests here")

    def unload(self) -> None:
        return None


REGISTRY: dict[str, type[Engine]] = {}


def register(cls: type[Engine]) -> type[Engine]:
    REGISTRY[cls.name] = cls
    return cls


def get_engine(name: str) -> Engine:
    cls = REGISTRY.get(name)
    if cls is None:
        raise BadInputError(f"unknown engine {name!r}; use one of {', '.join(REGISTRY)}")
    why = cls.available()
    if why:
        raise EngineError(why)
    return cls()


def load_engine(name: str, path: Path, options: LoadOptions) -> Engine:
    """An engine from the registry with ``path`` loaded: the model scheduler's loader."""
    engine = get_engine(name)
    engine.load(path, options)
    return engine


def default_threads() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:  # pragma: no cover
        return os.cpu_count() or 1


@register
class LlamaCppEngine(Engine):
    """llama.cpp in-process (GGUF files; CPU, CUDA, Metal) through the continuous-batching
    scheduler: ``llmatlas run`` and ``llmatlas serve`` generate through the same code, with
    the same sampling (greedy at temperature 0, the same seeds), ``n_seq_max`` sequences."""

    name = "llama.cpp"
    package = "llama_cpp"
    capabilities = frozenset(
        {"generate", "embeddings", "tokenize", "grammar", "gguf", "batching", "logprobs"}
    )

    def __init__(self) -> None:
        self.sched: Any = None
        self._embedder: Any = None
        self._path: Path | None = None
        self._threads = 0

    def load(self, path: Path, options: LoadOptions) -> None:
        from llmatlas.runtime.batching import BatchScheduler

        self.sched = BatchScheduler(
            Path(path),
            n_slots=max(1, options.n_seq_max),
            n_ctx_per_slot=options.n_ctx,
            n_threads=options.n_threads,
            n_gpu_layers=options.n_gpu_layers,
            queue_max=options.queue_max,
        )
        self._path = Path(path)
        self._threads = options.n_threads

    @property
    def n_ctx(self) -> int:
        return int(self.sched.n_ctx_per_slot) if self.sched else 0

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.sched.metadata) if self.sched else {}

    @property
    def batcher(self) -> Any:
        if self.sched is None:
            raise EngineError("no model loaded")
        return self.sched

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return list(self.sched.tokenize(text, add_special))

    def detokenize(self, tokens: list[int]) -> str:
        return str(self.sched.detokenize(tokens))

    def generate(self, prompt: str, sampling: SamplingOptions) -> Iterator[Chunk]:
        import queue

        from llmatlas.runtime.batching import GenRequest

        tokens = self.tokenize(prompt)
        if len(tokens) >= self.n_ctx:
            raise BadInputError(
                f"prompt is {len(tokens)} tokens but the context is {self.n_ctx}; "
                "shorten it or raise --ctx"
            )
        room = self.n_ctx - len(tokens)
        events: queue.Queue[Any] = queue.Queue()
        req = GenRequest(
            tokens,
            sampling.model_copy(update={"max_tokens": min(sampling.max_tokens, room)}),
            events.put,
        )
        t0 = time.perf_counter()
        first: float | None = None
        self.sched.submit(req)
        try:
            while True:
                try:
                    ev = events.get(timeout=0.1)  # short waits: Ctrl-C stays responsive
                except queue.Empty:
                    continue
                if ev.error:
                    raise EngineError(ev.error)
                if ev.text:
                    first = first or time.perf_counter()
                    yield Chunk(ev.text)
                if ev.finish_reason:
                    end = time.perf_counter()
                    timings = {"ttft_s": (first or end) - t0, "total_s": end - t0}
                    if first and ev.completion_tokens > 1:
                        timings["decode_tps"] = (ev.completion_tokens - 1) / max(end - first, 1e-9)
                    yield Chunk(
                        "", ev.finish_reason, ev.prompt_tokens, ev.completion_tokens, timings
                    )
                    return
        finally:
            req.cancel()  # a consumer that stops early (Ctrl-C) frees the sequence at once

    def embed(self, texts: list[str]) -> list[list[float]]:
        if self._path is None:
            raise EngineError("no model loaded")
        if self._embedder is None:
            from llmatlas.runtime.embeddings import Embedder

            self._embedder = Embedder(self._path, min(self.n_ctx, 2048), self._threads)
        emb = self._embedder
        return list(emb.embed([emb.check_tokens(emb.tokenize(t), truncate=True) for t in texts]))

    def unload(self) -> None:
        if self._embedder is not None:
            self._embedder.close()
            self._embedder = None
        if self.sched is not None:
            self.sched.close()
            self.sched = None


@register
class TransformersEngine(Engine):
    """Hugging Face transformers (safetensors repos; CUDA or CPU).  Needs `transformers` and `torch`."""

    name = "transformers"
    package = "transformers"
    capabilities = frozenset({"generate", "tokenize"})

    def __init__(self) -> None:
        self.model: Any = None
        self.tok: Any = None

    @classmethod
    def available(cls) -> str | None:
        for pkg in ("transformers", "torch"):
            if importlib.util.find_spec(pkg) is None:
                return (
                    f"engine transformers needs the {pkg!r} package: pip install transformers torch"
                )
        return None

    def load(self, path: Path, options: LoadOptions) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModelForCausalLM.from_pretrained(
            str(path), torch_dtype="auto", device_map="auto"
        )
        self._n_ctx = options.n_ctx

    @property
    def n_ctx(self) -> int:
        return int(getattr(self, "_n_ctx", 0))

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return list(self.tok(text, add_special_tokens=add_special)["input_ids"])

    def generate(self, prompt: str, sampling: SamplingOptions) -> Iterator[Chunk]:
        from threading import Thread

        from transformers import TextIteratorStreamer

        inputs = self.tok(prompt, return_tensors="pt").to(self.model.device)
        streamer = TextIteratorStreamer(self.tok, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(
            **inputs,
            max_new_tokens=sampling.max_tokens,
            streamer=streamer,
            do_sample=sampling.temperature > 0,
            repetition_penalty=sampling.repeat_penalty,
        )
        if sampling.temperature > 0:
            kwargs.update(
                temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k
            )
        Thread(target=self.model.generate, kwargs=kwargs, daemon=True).start()
        n = 0
        for text in streamer:
            if text:
                n += 1
                yield Chunk(text)
        yield Chunk("", "stop", int(inputs["input_ids"].shape[1]), n)


@register
class VLLMEngine(Engine):
    """vLLM (CUDA GPUs; safetensors/AWQ/GPTQ/FP8 repos).  Needs `vllm`."""

    name = "vllm"
    package = "vllm"
    capabilities = frozenset({"generate", "tokenize", "batching"})

    def __init__(self) -> None:
        self.llm: Any = None

    def load(self, path: Path, options: LoadOptions) -> None:
        from vllm import LLM

        self.llm = LLM(model=str(path), max_model_len=options.n_ctx)
        self._n_ctx = options.n_ctx

    @property
    def n_ctx(self) -> int:
        return int(getattr(self, "_n_ctx", 0))

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return list(self.llm.get_tokenizer().encode(text, add_special_tokens=add_special))

    def generate(self, prompt: str, sampling: SamplingOptions) -> Iterator[Chunk]:
        from vllm import SamplingParams

        params = SamplingParams(
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            top_k=sampling.top_k or -1,
            min_p=sampling.min_p,
            repetition_penalty=sampling.repeat_penalty,
            seed=sampling.seed,
            stop=sampling.stop or None,
            max_tokens=sampling.max_tokens,
        )
        out = self.llm.generate([prompt], params)[0]
        c = out.outputs[0]
        yield Chunk(c.text)
        yield Chunk("", c.finish_reason or "stop", len(out.prompt_token_ids), len(c.token_ids))
