"""`llmatlas cost`: hourly price, expected decode throughput and $ per 1M output tokens.

Prices come only from ``hardware/data/instances.yaml`` (on-demand list prices, each row
with its region, the date it was retrieved and the URL it was read from) or from the
user (``--price-per-hour``); nothing here invents one.

An instance is billed whole, so when the smallest vLLM plan for the model uses fewer
GPUs than the instance has, the other GPUs serve further copies of it (data-parallel
replicas) and the aggregate throughput counts them all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from llmatlas.catalog import ModelEntry
from llmatlas.deploy._plan import plan
from llmatlas.errors import AtlasError, BadInputError
from llmatlas.hardware import DeviceSpec, Instance, find_device, find_instance, instances
from llmatlas.i18n import N_
from llmatlas.sizing import estimate_speed, get_format

BATCH_CAP = 64
"""Concurrent sequences assumed at most when computing aggregate throughput."""
DEFAULT_UTILIZATION = 0.5
NO_PRICES = N_(
    "no cloud instance prices are loaded (instances.yaml is empty); "
    "pass --device NAME --gpus N --price-per-hour USD"
)


@dataclass
class CostEstimate:
    model: str
    where: str  # instance id or "N x device"
    device: str
    gpus: int
    quant: str
    context: int
    tensor_parallel: int
    pipeline_parallel: int
    replicas: int  # copies of the model on the GPUs paid for (each TP x PP GPUs)
    batch: int  # concurrent sequences per replica
    decode_tps_per_sequence: float
    aggregate_decode_tps: float  # all replicas together
    utilization: float
    price_per_hour_usd: float
    usd_per_million_output_tokens: float
    price_source: str
    checkpoint: str = ""  # the Hugging Face repository the plan serves

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cost_for(
    m: ModelEntry,
    device: DeviceSpec,
    gpus: int,
    price_per_hour: float,
    where: str,
    price_source: str,
    quant: str | None = None,
    context: int | None = None,
    utilization: float = DEFAULT_UTILIZATION,
    kv_type: str | None = None,
    hf_repo: str | None = None,
) -> CostEstimate:
    """Cost of serving ``m`` with vLLM on ``gpus`` x ``device`` at ``price_per_hour``.

    The smallest plan that fits is replicated over the ``gpus`` paid for; GPUs left
    over (fewer than one more replica needs) are paid for but idle.
    """
    if not 0 < utilization <= 1:
        raise BadInputError.translatable("--utilization must be in (0, 1]")
    if price_per_hour <= 0:
        raise BadInputError.translatable("--price-per-hour must be positive")
    p = plan(
        m,
        "vllm",
        device,
        gpus=gpus,
        nodes=1,
        context=context,
        quant=quant,
        kv_type=kv_type,
        hf_repo=hf_repo,
    )
    a = m.architecture
    assert a is not None
    batch = max(1, min(p.max_concurrent_sequences, BATCH_CAP))
    used = p.gpus
    speed = estimate_speed(
        a,
        get_format(p.quant),
        device.bandwidth_gbs,
        device.fp16_tflops,
        "gpu",
        p.context,
        batch,
        p.kv_type,
        engine="vllm",
        gpus=p.tensor_parallel,  # pipeline stages run in sequence for one step
    )
    replicas = max(1, gpus // used)
    tps = speed.aggregate_decode_tps * replicas
    usd = price_per_hour / (tps * utilization * 3600) * 1e6
    return CostEstimate(
        m.id,
        where,
        device.id,
        gpus,
        p.quant,
        p.context,
        p.tensor_parallel,
        p.pipeline_parallel,
        replicas,
        batch,
        round(speed.decode_tps, 2),
        round(tps, 1),
        utilization,
        price_per_hour,
        round(usd, 4),
        price_source,
        p.hf_repo,
    )


def cost_on_instance(m: ModelEntry, inst: Instance, **kw: Any) -> CostEstimate:
    return cost_for(
        m,
        find_device(inst.device),
        inst.gpus,
        inst.price_per_hour_usd,
        inst.id,
        f"{inst.source} ({inst.region}, {inst.price_date})",
        **kw,
    )


def _table() -> dict[str, Instance]:
    table = instances()
    if not table:
        raise BadInputError.translatable(NO_PRICES)
    return table


def cost(
    m: ModelEntry,
    device: str | None = None,
    gpus: int = 1,
    instance: str | None = None,
    price_per_hour: float | None = None,
    **kw: Any,
) -> CostEstimate:
    if instance:
        if device or price_per_hour:
            raise BadInputError.translatable(
                "give either --instance or --device/--price-per-hour, not both"
            )
        _table()
        return cost_on_instance(m, find_instance(instance), **kw)
    if not device:
        raise BadInputError.translatable(
            "give --instance ID, or --device NAME --gpus N --price-per-hour USD"
        )
    d = find_device(device)
    if price_per_hour is None:
        match = [i for i in instances().values() if i.device == d.id and i.gpus == gpus]
        if not match:
            if not instances():
                raise BadInputError.translatable(NO_PRICES)
            raise BadInputError.translatable(
                "no instance in instances.yaml has {n} x {device}; pass --price-per-hour USD",
                n=gpus,
                device=d.id,
            )
        return cost_on_instance(m, min(match, key=lambda i: i.price_per_hour_usd), **kw)
    return cost_for(m, d, gpus, price_per_hour, f"{gpus} x {d.id}", "--price-per-hour", **kw)


def compare(m: ModelEntry, **kw: Any) -> tuple[list[CostEstimate], list[str]]:
    """Every instance in the table that can serve ``m``, cheapest per token first."""
    rows: list[CostEstimate] = []
    skipped: list[str] = []
    for inst in _table().values():
        try:
            rows.append(cost_on_instance(m, inst, **kw))
        except AtlasError as exc:
            skipped.append(f"{inst.id}: {exc.localized()}")
    rows.sort(key=lambda r: r.usd_per_million_output_tokens)
    return rows, skipped


def cheapest_meeting(m: ModelEntry, min_tps: float, **kw: Any) -> CostEstimate:
    """The lowest hourly price whose expected aggregate decode reaches ``min_tps``."""
    if min_tps <= 0:
        raise BadInputError.translatable("--min-tps must be positive")
    rows, _ = compare(m, **kw)
    ok = [r for r in rows if r.aggregate_decode_tps >= min_tps]
    if not ok:
        best = max((r.aggregate_decode_tps for r in rows), default=0.0)
        raise BadInputError.translatable(
            "no instance in instances.yaml reaches {tps} tok/s for {model} (best: {best} tok/s)",
            tps=f"{min_tps:g}",
            model=m.id,
            best=f"{best:g}",
        )
    return min(ok, key=lambda r: r.price_per_hour_usd)
