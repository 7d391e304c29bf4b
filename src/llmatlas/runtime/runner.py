"""A loaded model: the store entry, its engine, its chat format and its catalog facts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from llmatlas.catalog import Catalog, ModelEntry
from llmatlas.errors import DoesNotFitError
from llmatlas.runtime.engines import Chunk, Engine, LoadOptions, SamplingOptions, get_engine
from llmatlas.runtime.store import ModelStore, StoredModel, check_gguf
from llmatlas.runtime.templates import ChatFormat, chat_format
from llmatlas.sizing import GiB


@dataclass
class Runner:
    stored: StoredModel
    engine: Engine
    entry: ModelEntry | None
    chat: ChatFormat
    options: LoadOptions

    @property
    def name(self) -> str:
        return self.stored.name

    def complete(self, prompt: str, sampling: SamplingOptions) -> Iterator[Chunk]:
        return self.engine.generate(prompt, sampling)

    def chat_prompt(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> str:
        return self.chat.render(messages, True, tools)

    def chat_stream(
        self, messages: list[dict[str, Any]], sampling: SamplingOptions
    ) -> Iterator[Chunk]:
        return self.engine.generate(self.chat_prompt(messages), self.chat.with_turn_stops(sampling))

    def close(self) -> None:
        self.engine.unload()


def check_fits(stored: StoredModel, entry: ModelEntry | None, n_ctx: int, n_seq: int = 1) -> None:
    """Refuse a model the machine cannot hold, with the sizing figures (``--force`` skips this)."""
    if entry is None or entry.architecture is None:
        return
    from llmatlas.advisor import Target
    from llmatlas.hardware import detect
    from llmatlas.sizing import estimate_memory, get_format

    quant = (
        stored.quant
        if stored.quant
        in (
            "Q8_0",
            "Q6_K",
            "Q5_K_M",
            "Q5_K_S",
            "Q5_0",
            "Q4_K_M",
            "Q4_K_S",
            "Q4_0",
            "IQ4_XS",
            "Q3_K_M",
            "Q2_K",
            "F16",
        )
        else None
    )
    if quant is None:
        return
    ctx = min(n_ctx, entry.architecture.max_position_embeddings)
    mem = estimate_memory(entry.architecture, get_format(quant), ctx, n_seq)
    target = Target.from_machine(detect(measure=False))
    if target.kind == "cpu" and mem.total_bytes > target.budget_bytes:
        raise DoesNotFitError.translatable(
            "{model} ({quant}, context {ctx}) needs {need} GiB of RAM but {budget} GiB is usable "
            "({pool}); use a smaller quantization or context, or --force",
            model=stored.name,
            quant=quant,
            ctx=ctx,
            need=f"{mem.total_bytes / GiB:.1f}",
            budget=f"{target.budget_bytes / GiB:.1f}",
            pool=target.headroom_note,
        )


def open_model(
    name: str | None = None,
    n_ctx: int = 4096,
    n_threads: int = 0,
    n_gpu_layers: int = 0,
    engine: str = "llama.cpp",
    store: ModelStore | None = None,
    catalog: Catalog | None = None,
    embedding: bool = False,
    force: bool = False,
    n_seq_max: int = 1,
) -> Runner:
    """Resolve ``name`` in the store (the embedded default when None) and load it."""
    st = store or ModelStore(catalog=catalog)
    stored = st.resolve(name)
    cat = catalog or st.catalog
    entry = cat.data.models.get(stored.catalog_id) if stored.catalog_id else None
    meta = check_gguf(stored.path)
    train_ctx = meta.get("context_length") or n_ctx
    ctx = min(n_ctx, int(train_ctx)) if n_ctx else int(train_ctx)
    if not force:
        check_fits(stored, entry, ctx, n_seq_max)
    eng = get_engine(engine)
    options = LoadOptions(
        n_ctx=ctx,
        n_threads=n_threads,
        n_gpu_layers=n_gpu_layers,
        embedding=embedding,
        n_seq_max=n_seq_max,
    )
    eng.load(stored.path, options)
    md = eng.metadata
    fmt = chat_format(md, entry.family if entry else None, entry.instruct if entry else None)
    return Runner(stored, eng, entry, fmt, options)
