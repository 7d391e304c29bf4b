"""Pydantic schema of the curated catalog.

The data lives in ``catalog/data/*.yaml`` (one file per family) plus
``licenses.yaml`` and ``errata.yaml``.  Everything is validated here at load
time, so a malformed fact fails loudly instead of misleading a user.

Units: parameter counts are in billions (``params_b``), context lengths in
tokens, training data in trillions of tokens (``training_tokens_t``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import field
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from llmatlas._record import Record, Url, field_check, record, record_check

if TYPE_CHECKING:
    from pydantic import Field

Commercial = Literal["yes", "no", "conditional"]
Relation = Literal[
    "finetune",
    "continued-pretraining",
    "distillation",
    "merge",
    "quantized",
    "vocabulary-extension",
    "pruning",
    "delta-weights",
    "upcycling",
]
Status = Literal["open", "partial", "closed", "unknown"]
Availability = Literal["open-weights", "api-only", "gated-application"]
PositionEmbedding = Literal["rope", "alibi", "learned", "none"]
MlpKind = Literal["gated", "plain"]
NormKind = Literal["rmsnorm", "layernorm", "layernorm-nobias"]
# The fixed-state layers of a hybrid model: RecurrentGemma's RG-LRU, Qwen3-Next's Gated
# DeltaNet, Mamba-2 (Granite 4.0-H), MiniMax's lightning (linear) attention.
RecurrentKind = Literal["rglru", "gated-deltanet", "mamba2", "lightning"]

TASKS = {
    "chat",
    "instruct",
    "code",
    "math",
    "medical",
    "multilingual",
    "safety-classifier",
    "reasoning",
    "vision",
    "tool-use",
    "function-calling",
    "long-context",
    "embedding",
    "edge",
    "research",
    "general",
}

_SLUG = re.compile(r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$")
# BCP-47-ish: "en", "zh-Hant", "zh-Hans", "ja", ... ; "multi" for "many, see card";
# bare "zh" where the card says "Chinese" without naming a script.
_LANG = re.compile(r"^([a-z]{2,3}(-[A-Z][a-z]{3})?(-[A-Z]{2})?|multi|code)$")


@record
class License(Record):
    """A license text the catalog refers to by ``id``."""

    id: str
    name: str
    url: Url
    commercial_use: Commercial
    conditions: Annotated[
        str, Field(description="One line: what a commercial user must watch for.")
    ]
    osi_approved: bool = False
    spdx: str | None = None


@record
class LicenseChange(Record):
    """A model whose terms changed over time (e.g. Falcon-40B TII -> Apache 2.0)."""

    license: str
    since: dt.date
    source: Url


@record
class Architecture(Record):
    """Fields mirrored from the model's ``config.json`` (names follow Hugging Face).

    Enough to compute the parameter count and the KV cache exactly.  Where a
    field does not apply it is left out (``None``).
    """

    model_type: str
    num_hidden_layers: Annotated[int, Field(gt=0)]
    hidden_size: Annotated[int, Field(gt=0)]
    num_attention_heads: Annotated[int, Field(gt=0)]
    num_key_value_heads: Annotated[int, Field(gt=0)]
    head_dim: Annotated[int | None, Field(gt=0)] = None
    intermediate_size: Annotated[int, Field(gt=0)]
    vocab_size: Annotated[int, Field(gt=0)]
    max_position_embeddings: Annotated[int, Field(gt=0, description="Maximum context in tokens.")]
    tie_word_embeddings: bool
    position_embedding: PositionEmbedding = "rope"
    rope_theta: float | None = None
    partial_rotary_factor: float | None = None
    mlp: MlpKind = "gated"
    attention_bias: bool = False
    attention_out_bias: bool = False
    mlp_bias: bool = False
    norm: NormKind = "rmsnorm"
    qk_norm: bool = False
    # Sliding-window attention: window in tokens and how many layers use it.
    sliding_window: Annotated[int | None, Field(gt=0)] = None
    sliding_window_layers: Annotated[int | None, Field(ge=0)] = None
    # Mixture of experts.
    num_experts: Annotated[int | None, Field(gt=0)] = None
    num_experts_per_tok: Annotated[int | None, Field(gt=0)] = None
    moe_intermediate_size: Annotated[int | None, Field(gt=0)] = None
    num_shared_experts: Annotated[int | None, Field(ge=0)] = None
    shared_expert_intermediate_size: Annotated[int | None, Field(gt=0)] = None
    first_k_dense_layers: Annotated[int | None, Field(ge=0)] = None
    # Multi-head latent attention (DeepSeek-V2/V3).
    kv_lora_rank: Annotated[int | None, Field(gt=0)] = None
    q_lora_rank: Annotated[int | None, Field(gt=0)] = None
    qk_nope_head_dim: Annotated[int | None, Field(gt=0)] = None
    qk_rope_head_dim: Annotated[int | None, Field(gt=0)] = None
    v_head_dim: Annotated[int | None, Field(gt=0)] = None
    # Hybrid models: layers with attention (KV cache); the rest keep a fixed-size state.
    num_attention_layers: Annotated[int | None, Field(ge=0)] = None
    recurrent_state_width: Annotated[int | None, Field(gt=0)] = None
    conv1d_width: Annotated[int | None, Field(gt=0)] = None
    recurrent_kind: RecurrentKind = "rglru"
    # Linear-attention / SSM layers (config.json names of Qwen3-Next; Mamba-2 maps onto them:
    # value heads = mamba_n_heads, value head dim = mamba_d_head, key heads = mamba_n_groups,
    # key head dim = mamba_d_state).  Each value head keeps a key_dim x value_dim state.
    linear_num_key_heads: Annotated[int | None, Field(gt=0)] = None
    linear_num_value_heads: Annotated[int | None, Field(gt=0)] = None
    linear_key_head_dim: Annotated[int | None, Field(gt=0)] = None
    linear_value_head_dim: Annotated[int | None, Field(gt=0)] = None
    # Nemotron-H: layers that hold only a feed-forward block (config.json's
    # hybrid_override_pattern "-" for an MLP, "E" for a mixture of experts); with it set, the
    # Mamba-2 ("M") and attention ("*") layers hold none of their own and every layer has one
    # norm.  Recurrent layers = num_hidden_layers - attention - these.
    ffn_only_layers: Annotated[int | None, Field(ge=0)] = None
    # Gated attention (Qwen3-Next): q_proj also emits a per-channel output gate.
    attention_output_gate: bool = False
    # MoE in every ``moe_layer_step``-th layer only (Llama 4 Maverick: 2); the rest are dense.
    moe_layer_step: Annotated[int | None, Field(gt=0)] = None
    # Gemma 3n: per-layer embeddings (a second, vocabulary-sized table of
    # ``num_hidden_layers x per_layer_input_size`` per token), AltUp streams, LAuReL rank,
    # and the last ``kv_shared_layers`` layers reusing earlier layers' KV cache.
    per_layer_input_size: Annotated[int | None, Field(gt=0)] = None
    altup_num_inputs: Annotated[int | None, Field(gt=0)] = None
    laurel_rank: Annotated[int | None, Field(gt=0)] = None
    kv_shared_layers: Annotated[int | None, Field(ge=0)] = None
    # Gemma 4 E2B: the KV-shared layers carry an MLP twice intermediate_size wide
    # (config.json's use_double_wide_mlp).
    use_double_wide_mlp: bool = False
    # Gemma 4: the full-attention (global) layers between sliding-window ones use their own
    # head width and KV head count, and with ``attention_k_eq_v`` their keys double as the
    # values (no v projection).  Which layers are global: those not in sliding_window_layers.
    global_head_dim: Annotated[int | None, Field(gt=0)] = None
    num_global_key_value_heads: Annotated[int | None, Field(gt=0)] = None
    attention_k_eq_v: bool = False
    # DeepSeek sparse attention (V3.2): a lightning indexer with its own small key cache.
    index_n_heads: Annotated[int | None, Field(gt=0)] = None
    index_head_dim: Annotated[int | None, Field(gt=0)] = None
    # Cross-attention layers (Llama 3.2 Vision): among num_hidden_layers, they attend to a
    # fixed number of encoder (image) tokens per sequence instead of the context.
    cross_attention_layers: Annotated[int | None, Field(ge=0)] = None
    cross_attention_tokens: Annotated[int | None, Field(gt=0)] = None
    # Parameters outside the text decoder (vision tower, projector, MTP head...).
    extra_params: Annotated[int, Field(ge=0)] = 0
    extra_params_note: str | None = None
    # The checkpoint's own weight format when it is not 16-bit (config.json's
    # quantization_config.quant_method: "mxfp4" for gpt-oss, "fp8" for DeepSeek-V3; a format name
    # where quant_method alone is ambiguous: "INT4-G32-EXPERTS" for compressed-tensors INT4 experts).
    quantization: str | None = None

    @property
    def resolved_head_dim(self) -> int:
        return self.head_dim or self.hidden_size // self.num_attention_heads

    @property
    def is_moe(self) -> bool:
        return bool(self.num_experts and self.num_experts > 1)

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank is not None

    @record_check
    def _consistent(self) -> None:
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        if (self.num_experts is None) != (self.num_experts_per_tok is None):
            raise ValueError("num_experts and num_experts_per_tok go together")
        if self.sliding_window_layers is not None and self.sliding_window is None:
            raise ValueError("sliding_window_layers needs sliding_window")
        if self.sliding_window is not None and self.sliding_window_layers is None:
            raise ValueError("sliding_window needs sliding_window_layers (how many layers use it)")
        if (self.sliding_window_layers or 0) > self.num_hidden_layers:
            raise ValueError("sliding_window_layers exceeds num_hidden_layers")
        if (self.cross_attention_layers is None) != (self.cross_attention_tokens is None):
            raise ValueError("cross_attention_layers and cross_attention_tokens go together")
        if (self.cross_attention_layers or 0) > self.num_hidden_layers:
            raise ValueError("cross_attention_layers exceeds num_hidden_layers")
        linear = (
            self.linear_num_key_heads,
            self.linear_num_value_heads,
            self.linear_key_head_dim,
            self.linear_value_head_dim,
        )
        if self.recurrent_kind in ("gated-deltanet", "mamba2") and None in linear:
            raise ValueError(f"recurrent_kind {self.recurrent_kind} needs the linear_* head fields")
        if self.recurrent_kind != "rglru" and self.num_attention_layers is None:
            raise ValueError("recurrent_kind needs num_attention_layers (how many keep attention)")
        if (
            self.global_head_dim or self.num_global_key_value_heads or self.attention_k_eq_v
        ) and self.sliding_window is None:
            raise ValueError(
                "global_head_dim / num_global_key_value_heads / attention_k_eq_v describe the "
                "full-attention layers between sliding-window ones: they need sliding_window"
            )
        if self.num_global_key_value_heads and (
            self.num_attention_heads % self.num_global_key_value_heads
        ):
            raise ValueError("num_attention_heads must be a multiple of num_global_key_value_heads")
        if self.ffn_only_layers is not None:
            if self.num_attention_layers is None:
                raise ValueError("ffn_only_layers needs num_attention_layers (a hybrid's mix)")
            if self.num_attention_layers + self.ffn_only_layers > self.num_hidden_layers:
                raise ValueError("num_attention_layers + ffn_only_layers exceed num_hidden_layers")
        if (self.index_n_heads is None) != (self.index_head_dim is None):
            raise ValueError("index_n_heads and index_head_dim go together")
        if self.use_double_wide_mlp and not self.kv_shared_layers:
            raise ValueError(
                "use_double_wide_mlp widens the KV-shared layers: it needs kv_shared_layers"
            )
        if (self.kv_shared_layers or 0) >= self.num_hidden_layers:
            raise ValueError("kv_shared_layers must leave at least one layer with its own cache")
        if self.extra_params and not self.extra_params_note:
            raise ValueError("extra_params needs extra_params_note saying what they are")


@record
class Benchmark(Record):
    """One published score, as its source reports it (never averaged across evaluators)."""

    name: str
    value: float
    shots: Annotated[int | None, Field(ge=0)] = None
    metric: str | None = None
    evaluator: str
    source: Url


@record
class Openness(Record):
    """Per-component openness, after the seeds' definition of an open-source LLM."""

    weights: Status
    training_data: Status
    training_code: Status
    evaluation_code: Status
    finetuning_code: Status
    training_logs: Status
    source: Url
    note: str | None = None

    COMPONENTS: ClassVar[tuple[str, ...]] = (
        "weights",
        "training_data",
        "training_code",
        "evaluation_code",
        "finetuning_code",
        "training_logs",
    )

    @property
    def score(self) -> float:
        """0..6: open counts 1, partial 0.5."""
        value = {"open": 1.0, "partial": 0.5, "closed": 0.0, "unknown": 0.0}
        return sum(value[getattr(self, c)] for c in self.COMPONENTS)

    @property
    def grade(self) -> str:
        """A (fully open) .. E (nothing open); weights-only releases land at D."""
        s = self.score
        if s >= 5.5:
            return "A"
        if s >= 4.0:
            return "B"
        if s >= 2.5:
            return "C"
        if s >= 1.0:
            return "D"
        return "E"


# Which ``sources`` keys may back each fact; the first present wins.
FACT_SOURCES: dict[str, tuple[str, ...]] = {
    "params_b": ("params", "config", "card", "paper"),
    "architecture": ("config",),
    "released": ("release", "card", "paper", "blog"),
    "training_tokens_t": ("training", "paper", "card", "blog"),
    "languages": ("languages", "card", "paper"),
    "tasks": ("card", "paper", "blog"),
    "base_model": ("lineage", "card", "paper"),
    "license": ("license", "card"),
    "hf_repos": ("card",),
}


@record
class ModelEntry(Record):
    """One checkpoint (a row per checkpoint, not per family: licenses differ by size)."""

    id: str
    name: str
    family: str = ""  # filled from the family file
    developer: str = ""  # defaults to the family's developer
    released: dt.date
    availability: Availability = "open-weights"
    hf_repos: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    params_b: Annotated[
        float | None,
        Field(gt=0, description="Total parameters, billions (None: unpublished, API-only)."),
    ] = None
    active_params_b: Annotated[float | None, Field(gt=0, description="MoE: active per token.")] = (
        None
    )
    instruct: bool = False
    languages: list[str]
    tasks: list[str]
    training_tokens_t: Annotated[float | None, Field(gt=0)] = None
    license: str
    license_history: list[LicenseChange] = field(default_factory=list)
    license_note: str | None = None
    base_model: str | None = None
    relation: Relation | None = None
    architecture: Architecture | None = None
    architecture_from: Annotated[
        str | None,
        Field(
            description="Set by the loader, not in the data: the base model whose architecture "
            "this derivative inherits (its own card gives none)."
        ),
    ] = None
    openness: Openness
    benchmarks: list[Benchmark] = field(default_factory=list)
    sources: dict[str, Url]
    notes: str | None = None
    drafted: Annotated[
        list[str],
        Field(
            description="Facts drafted by `llmatlas catalog import` that no person has confirmed yet."
        ),
    ] = field(default_factory=list)

    @staticmethod
    @field_check("drafted")
    def _drafted(v: list[str]) -> list[str]:
        unknown = set(v) - set(FACT_SOURCES) - {"active_params_b", "instruct", "openness"}
        if unknown:
            raise ValueError(f"drafted names unknown facts {sorted(unknown)}")
        return v

    @staticmethod
    @field_check("id")
    def _slug(v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError(f"id {v!r} must be a lowercase slug (a-z, 0-9, '.', '-')")
        return v

    @staticmethod
    @field_check("languages")
    def _langs(v: list[str]) -> list[str]:
        if not v:
            raise ValueError("languages must not be empty")
        for lang in v:
            if not _LANG.match(lang):
                raise ValueError(f"language {lang!r}: use BCP-47 like en, zh-Hant, zh-Hans")
        return v

    @staticmethod
    @field_check("tasks")
    def _tasks(v: list[str]) -> list[str]:
        unknown = set(v) - TASKS
        if unknown:
            raise ValueError(f"unknown tasks {sorted(unknown)}; allowed: {sorted(TASKS)}")
        return v

    @staticmethod
    @field_check("hf_repos")
    def _repos(v: list[str]) -> list[str]:
        for repo in v:
            if repo.count("/") != 1:
                raise ValueError(f"hf repo {repo!r} must be owner/name")
        return v

    @record_check
    def _facts_sourced(self) -> None:
        if (self.base_model is None) != (self.relation is None):
            raise ValueError("base_model and relation go together")
        if self.params_b is None and self.availability != "api-only":
            raise ValueError("params_b is required for models with released weights")
        if self.active_params_b is not None and self.active_params_b > (self.params_b or 0):
            raise ValueError("active_params_b exceeds params_b")
        if self.availability == "open-weights" and self.openness.weights == "closed":
            raise ValueError("open-weights model with closed weights in openness")
        for fact, keys in FACT_SOURCES.items():
            value = getattr(self, fact)
            if value in (None, [], ()):
                continue
            if fact == "license":
                # The license text's URL is in licenses.yaml; a per-model one is optional.
                continue
            if not any(k in self.sources for k in keys):
                raise ValueError(
                    f"fact {fact!r} has no source (give one of sources.{'/'.join(keys)})"
                )

    def source_for(self, fact: str) -> str | None:
        for key in FACT_SOURCES.get(fact, (fact,)):
            if key in self.sources:
                return str(self.sources[key])
        return None


@record
class Name(Record):
    """Another name a family or its developer goes by (a Chinese name, a short name),
    with where it is used: the developer's own site, the model card, the paper."""

    name: str
    source: Url | None = None
    note: Annotated[
        str | None, Field(description="Why the name is here when no primary source uses it.")
    ] = None

    @record_check
    def _backed(self) -> None:
        if self.source is None and not self.note:
            raise ValueError(
                f"name {self.name!r} needs a source, or a note saying where it is used"
            )


@record
class Family(Record):
    """One YAML file: a family of checkpoints from one developer (or one project)."""

    family: str
    name: str
    developer: str
    description: str
    homepage: Url | None = None
    names: Annotated[list[Name], Field(description="Other names of the family.")] = field(
        default_factory=list
    )
    developer_names: Annotated[list[Name], Field(description="Other names of the developer.")] = (
        field(default_factory=list)
    )
    default: Annotated[
        str | None,
        Field(
            description="Model id a bare family name means (else the newest general instruct "
            "checkpoint nearest 8B parameters)."
        ),
    ] = None
    licenses: Annotated[list[License], Field(description="Licenses used only by this family.")] = (
        field(default_factory=list)
    )
    models: list[ModelEntry]


@record
class Erratum(Record):
    """A claim in common circulation that primary sources contradict."""

    id: str
    seed: Annotated[str, Field(description="Seed file name the claim appears in.")]
    claim: Annotated[
        str, Field(description="What the seed says (quoted or paraphrased, in its language).")
    ]
    correction: str
    models: Annotated[list[str], Field(description="Catalog ids it concerns.")] = field(
        default_factory=list
    )
    wrong_names: Annotated[list[str], Field(description="Names that should redirect.")] = field(
        default_factory=list
    )
    source: Url
