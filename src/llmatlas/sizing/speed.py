"""Expected generation speed from memory bandwidth and compute.

Decode (one token per sequence per step) is memory-bound: each step reads the
active weights once plus the KV cache of every sequence (MoE: every expert any sequence
of the step is routed to, and on llama.cpp a cost per expert matrix beyond its bytes,
:data:`EXPERT_MATRIX_EXTRA_BYTES`).  Prefill is
compute-bound: about ``2 x active parameters`` FLOPs per token plus attention.
Each bound is scaled by an efficiency factor; ``llmatlas bench
--compare-estimate`` measures the real ratio on the user's machine and stores it
as a calibration factor that replaces these defaults.
"""

from __future__ import annotations

from functools import lru_cache

from llmatlas._record import Value, value
from llmatlas.catalog._schema import Architecture
from llmatlas.sizing.memory import kv_cache
from llmatlas.sizing.params import is_moe_layer, param_breakdown, tensors
from llmatlas.sizing.quant import QuantFormat, gguf_tensor_type, tensor_bytes, weight_bytes

# Fraction of peak bandwidth / FLOP/s a good engine reaches.  GPU decode: ~0.7
# (Llama-2-7B bf16 on A100-80GB reached 70% of 2,039 GB/s, torchao PR #743);
# CPU: relative to the *measured* copy bandwidth and numpy FLOP/s of `llmatlas hw`;
# llama.cpp reached 0.62 of the one and 0.72 of the other with the embedded Gemma 3 270M
# Q4_K_M on a 2-core EPYC (decode 66 tok/s, prefill 420 tok/s; `llmatlas bench
# --compare-estimate`, which stores the user's own factors in place of these).
DEFAULT_DECODE_EFFICIENCY = {"gpu": 0.7, "apple": 0.65, "cpu": 0.65}
DEFAULT_PREFILL_EFFICIENCY = {"gpu": 0.45, "apple": 0.4, "cpu": 0.7}

# Tensor parallel (vLLM) splits every matmul over the GPUs and all-reduces twice per layer;
# for one stream that latency does not shrink with the shard.  Seconds per all-reduce,
# fitted to gpt-fast's measured TP table (Llama-2-7B bf16, batch 1, 8 x A100-80GB,
# https://github.com/pytorch-labs/gpt-fast#tensor-parallelism): 104.9 tok/s on 1 GPU,
# 168.8 / 254.0 / 328.4 on 2 / 4 / 8, i.e. 1.61x / 2.42x / 3.13x, not 2x / 4x / 8x.
ALLREDUCE_S = {1: 0.0, 2: 18e-6, 4: 24e-6, 8: 29e-6}
TP_SOURCE = "https://github.com/pytorch-labs/gpt-fast#tensor-parallelism"
# A routed-expert layer at batch 1 under TP launches per-expert kernels on shards too small
# to stream at full bandwidth.  Seconds per MoE layer, fitted to DeepSeek-R1-0528-AWQ on
# 8 x H100 with vLLM: 16.1 ms per output token at concurrency 1
# (https://github.com/tenstorrent/tt-inference-server/issues/356).
MOE_LAYER_S = 190e-6
MOE_SOURCE = "https://github.com/tenstorrent/tt-inference-server/issues/356"

# llama.cpp reads the routed experts with one ``mul_mat_id`` per projection, and a routed
# expert matrix costs more than its bytes: small matrices scattered over the expert tensor
# do not stream at a dense matrix's rate, and on a GPU an MoE layer adds a dozen small
# kernels (router, top-k, weights, sums).  Modelled as bytes beyond its own, per routed
# expert matrix read in a step:
# - GPU: fitted to Qwen3-30B-A3B Q4_K_M and Q8_0 decode on one Ryzen AI Max+ 395 (ROCm,
#   llama.cpp build 5882; tg128 56.55 and 37.91 tok/s against 47.9 for Llama-2-7B Q4_0 and
#   9.91 for Qwen3-32B Q4_K_M in the same table, 256 GB/s): 1.17 MB, i.e. 157 us per MoE
#   layer of 8 experts x 3 matrices at the 0.7 decode efficiency dense models reach there;
#   held out in that table, Hunyuan-A13B and Qwen3-235B-A22B come within the dense rows'
#   error (bench/speed_accuracy.py).  Apple: no measurement; the GPU figure is used.
# - CPU: measured with synthetic GGUFs (random weights) through llama-cpp-python on a
#   2-core Xeon, 1 thread, CPU time, interleaved in one process, 7 runs: a Qwen3-shaped
#   MoE (32 experts, 8 routed, 768-wide) streamed its bytes at 0.76-1.09 (median 0.9) of
#   the rate of a dense Llama-shaped model of similar active bytes, a Mixtral-shaped one
#   (8 experts, 2 routed, 4096-wide) at 0.93-1.10 (median 1.0); 0.15 MB per matrix gives
#   0.90 and 0.98.  A ``mul_mat_id`` routed to all 8 of 8 experts streamed as fast as the
#   equal dense ``mul_mat`` (0.98-0.99): the cost is in reading many small, scattered expert
#   matrices, not in the kernel.
# Without this, Qwen3-30B-A3B was predicted 1.44-1.65x too fast on the GPU above.
MOE_SOURCE_LLAMA_CPP = "https://blog.tosukui.xyz/posts/gmktec-ryzen-ai-rocm-therock"
EXPERT_MATRIX_EXTRA_BYTES = {"gpu": 1.17e6, "apple": 1.17e6, "cpu": 0.15e6}

USABLE_CHAT_TPS = 5.0
"""Below this many tokens/s a chat feels broken (slower than reading pace)."""
GOOD_CHAT_TPS = 15.0


@lru_cache(maxsize=4096)
def bytes_read_per_token(a: Architecture, fmt: QuantFormat) -> int:
    """Weight bytes one decode step reads: all tensors except the input embedding
    table (one row is gathered) and the experts a token is not routed to.  A tied
    embedding is read in full, as the output head."""
    w = weight_bytes(a, fmt)
    if a.tie_word_embeddings:
        return w.active
    embd = next(t for t in tensors(a) if t.name == "token_embd")
    embd_bytes = tensor_bytes(embd, gguf_tensor_type(fmt, embd, a)) if fmt.is_gguf else embd.n * 2
    return max(w.active - embd_bytes, 1)


def experts_touched(a: Architecture, batch: int = 1) -> float:
    """Distinct experts one MoE layer reads in a step of ``batch`` sequences: each routes to
    ``k`` of ``n``; with independent, even routing ``n (1 - (1 - k/n)^batch)``."""
    n, k = a.num_experts or 1, a.num_experts_per_tok or 1
    return n * (1 - (1 - k / n) ** max(1, batch))


def moe_layer_count(a: Architecture) -> int:
    return sum(is_moe_layer(a, i) for i in range(a.num_hidden_layers)) if a.is_moe else 0


def step_weight_bytes(
    a: Architecture, fmt: QuantFormat, batch: int = 1, kind: str = "gpu", engine: str = "llama.cpp"
) -> float:
    """Weight bytes one decode step of ``batch`` sequences costs: :func:`bytes_read_per_token`
    with the routed experts of all sequences (a step reads each touched expert once), plus,
    on llama.cpp, :data:`EXPERT_MATRIX_EXTRA_BYTES` per routed expert matrix read."""
    b = float(bytes_read_per_token(a, fmt))
    if not a.is_moe:
        return b
    n, k = a.num_experts or 1, a.num_experts_per_tok or 1
    touched = experts_touched(a, batch)
    routed = weight_bytes(a, fmt).routed
    b += routed * (touched - k) / n
    if engine == "llama.cpp" and routed:
        mats = 3 if a.mlp == "gated" else 2
        per = EXPERT_MATRIX_EXTRA_BYTES.get(kind, EXPERT_MATRIX_EXTRA_BYTES["gpu"])
        b += moe_layer_count(a) * touched * mats * per
    return b


@value
class Flops(Value):
    decode: float  # per generated token
    prefill: float  # per prompt token


def flops_per_token(a: Architecture, context: int) -> Flops:
    """Matmul FLOPs per token: 2 x the routed body parameters, attention over half the
    context, and the output head (vocab x hidden) for generated tokens only: engines compute
    logits for the last prompt token alone, which for small models with large vocabularies
    (Gemma 3 270M: 168M of its 268M parameters) is most of the difference.  Parameters
    outside the text decoder (``extra_params``, e.g. a vision tower) are not run for text."""
    b = param_breakdown(a)
    body = b.attention + b.ffn_active + b.other - a.extra_params
    attention = 4 * a.num_hidden_layers * a.hidden_size * (context // 2)
    head = a.vocab_size * a.hidden_size
    return Flops(decode=2 * (body + head) + attention, prefill=2 * body + attention)


@value
class SpeedEstimate(Value):
    decode_tps: float  # tokens/s for one sequence
    aggregate_decode_tps: float  # tokens/s summed over ``batch`` sequences
    prefill_tps: float  # prompt tokens/s
    bound: str  # what limits decode: "memory" or "compute"
    split: str = "none"  # how the weights are spread: none, layer (in sequence), tensor


def _allreduce_s(tp: int) -> float:
    """Per all-reduce latency for ``tp`` GPUs (beyond 8: the next node adds its own hop)."""
    if tp in ALLREDUCE_S:
        return ALLREDUCE_S[tp]
    return ALLREDUCE_S[8] * max(1.0, tp / 8)


def step_overhead_s(a: Architecture, tp: int, engine: str) -> float:
    """Fixed seconds per vLLM decode step beyond streaming the bytes: two all-reduces per
    layer under tensor parallel, and the routed-expert kernels of each MoE layer."""
    if engine != "vllm":
        return 0.0
    t = 2 * a.num_hidden_layers * _allreduce_s(tp) if tp > 1 else 0.0
    if a.is_moe:
        t += (a.num_hidden_layers - (a.first_k_dense_layers or 0)) * MOE_LAYER_S
    return t


def estimate_speed(
    a: Architecture,
    fmt: QuantFormat,
    bandwidth_gbs: float,
    tflops: float,
    kind: str = "gpu",
    context: int = 4096,
    batch: int = 1,
    kv_type: str = "f16",
    decode_efficiency: float | None = None,
    prefill_efficiency: float | None = None,
    engine: str = "llama.cpp",
    gpus: int = 1,
) -> SpeedEstimate:
    """Tokens/s at half-full context (the average over a conversation that fills it).

    ``bandwidth_gbs`` and ``tflops`` are one device's.  With ``gpus`` > 1, llama.cpp splits
    layers over the GPUs and runs them in sequence, so one stream still streams every byte
    at one GPU's bandwidth; vLLM's tensor parallel reads 1/gpus of each layer on every GPU
    at once and pays :func:`step_overhead_s` per step.  Pipeline stages across
    nodes also run in sequence: pass the tensor-parallel size as ``gpus``.
    """
    if gpus < 1:
        raise ValueError("gpus must be >= 1")
    d_eff = decode_efficiency or DEFAULT_DECODE_EFFICIENCY.get(kind, 0.6)
    p_eff = prefill_efficiency or DEFAULT_PREFILL_EFFICIENCY.get(kind, 0.4)
    weights = step_weight_bytes(a, fmt, batch, kind, engine)
    kv_read = kv_cache(a, max(1, context // 2), batch, kv_type, engine).bytes
    step_bytes = weights + kv_read
    tensor = engine == "vllm" and gpus > 1
    width = gpus if tensor else 1
    mem_time = step_bytes / (width * bandwidth_gbs * 1e9 * d_eff)
    flops = flops_per_token(a, context)
    compute_time = batch * flops.decode / (width * tflops * 1e12 * p_eff)
    step = max(mem_time, compute_time) + step_overhead_s(a, width, engine)
    bound = "memory" if mem_time >= compute_time else "compute"
    prefill = width * tflops * 1e12 * p_eff / flops.prefill
    return SpeedEstimate(
        decode_tps=1 / step,
        aggregate_decode_tps=batch / step,
        prefill_tps=prefill,
        bound=bound,
        split="tensor" if tensor else ("layer" if gpus > 1 else "none"),
    )


def decode_bound_tps(
    a: Architecture, fmt: QuantFormat, bandwidth_gbs: float, gpus: int = 1
) -> float:
    """The physical ceiling for one stream: weight bytes per token over the peak bandwidth of
    the memory they stream from (all ``gpus`` at once only under tensor parallel)."""
    return gpus * bandwidth_gbs * 1e9 / bytes_read_per_token(a, fmt)


def speed_verdict(tps: float) -> str:
    if tps >= GOOD_CHAT_TPS:
        return "good"
    if tps >= USABLE_CHAT_TPS:
        return "usable"
    return "too slow"
