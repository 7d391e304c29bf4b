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


def default_threads() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:  # pragma: no cover
        return os.cpu_count() or 1


@register
class LlamaCppEngine(Engine):
    """llama.cpp in-process through llama-cpp-python (GGUF files; CPU, CUDA, Metal)."""

    name = "llama.cpp"
    package = "llama_cpp"
    capabilities = frozenset({"generate", "embeddings", "tokenize", "grammar", "gguf"})

    def __init__(self) -> None:
        self.llm: Any = None
        self._path: Path | None = None

    def load(self, path: Path, options: LoadOptions) -> None:
        from llama_cpp import Llama

        from llmatlas.runtime._llama_log import quiet

        quiet()

        try:
            self.llm = Llama(
                model_path=str(path),
                n_ctx=options.n_ctx,
                n_threads=options.n_threads or default_threads(),
                n_gpu_layers=options.n_gpu_layers,
                embedding=options.embedding,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise EngineError(f"llama.cpp could not load {path.name}: {exc}") from None
        self._path = path

    @property
    def n_ctx(self) -> int:
        return int(self.llm.n_ctx()) if self.llm else 0

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.llm.metadata) if self.llm else {}

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=add_special, special=True))

    def detokenize(self, tokens: list[int]) -> str:
        return bytes(self.llm.detokenize(tokens)).decode("utf-8", errors="replace")

    def generate(self, prompt: str, sampling: SamplingOptions) -> Iterator[Chunk]:
        from llama_cpp import LlamaGrammar

        grammar = (
            LlamaGrammar.from_string(sampling.grammar, verbose=False) if sampling.grammar else None
        )
        n_prompt = len(self.tokenize(prompt))
        if n_prompt >= self.n_ctx:
            raise BadInputError(
                f"prompt is {n_prompt} tokens but the context is {self.n_ctx}; shorten it or raise --ctx"
            )
        max_tokens = min(sampling.max_tokens, self.n_ctx - n_prompt)
        t0 = time.perf_counter()
        first: float | None = None
        n = 0
        finish = None
        stream = self.llm.create_completion(
            prompt,
            max_tokens=max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            top_k=sampling.top_k,
            min_p=sampling.min_p,
            repeat_penalty=sampling.repeat_penalty,
            seed=sampling.seed
            if sampling.seed is not None
            else (0 if sampling.temperature == 0 else None),
            stop=sampling.stop or None,
            grammar=grammar,
            stream=True,
        )
        try:
            for part in stream:
                choice = part["choices"][0]
                text = choice.get("text", "")
                finish = choice.get("finish_reason")
                if text:
                    n += 1
                    if first is None:
                        first = time.perf_counter()
                    yield Chunk(text)
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()
        end = time.perf_counter()
        n_completion = n
        timings = {"ttft_s": (first or end) - t0, "total_s": end - t0}
        if first and n_completion > 1:
            timings["decode_tps"] = (n_completion - 1) / max(end - first, 1e-9)
        yield Chunk("", finish or "stop", n_prompt, n_completion, timings)

    def embed(self, texts: list[str]) -> list[list[float]]:
        if self.llm is None:
            raise EngineError("no model loaded")
        out = []
        for t in texts:
            vec = self.llm.embed(t, normalize=True, truncate=True)
            if vec and isinstance(vec[0], list):  # per-token output: mean-pool
                dim = len(vec[0])
                vec = [sum(v[i] for v in vec) / len(vec) for i in range(dim)]
            out.append(list(vec))
        return out

    def unload(self) -> None:
        if self.llm is not None:
            self.llm.close()
            self.llm = None


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
