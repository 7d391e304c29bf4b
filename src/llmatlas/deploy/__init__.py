"""Deployment recipes planned from sizing, and what serving costs.

``deploy(model, target, ...)`` plans the smallest tensor x pipeline split that holds the
model (or the llama.cpp offload) and renders exact commands/files for the target.
"""

from __future__ import annotations

from llmatlas.catalog import ModelEntry
from llmatlas.deploy._cost import (
    BATCH_CAP,
    NO_PRICES,
    CostEstimate,
    cheapest_meeting,
    compare,
    cost,
    cost_for,
)
from llmatlas.deploy._plan import TARGETS, DeployPlan, kv_tokens, plan, resolve_target
from llmatlas.deploy._render import (
    RENDERERS,
    TGI_IMAGE,
    VLLM_IMAGE,
    Recipe,
    Step,
    k8s_docs,
    kserve_docs,
    vllm_args,
)
from llmatlas.hardware import DeviceSpec


def deploy(m: ModelEntry, target: str, device: DeviceSpec | None = None, **kw: object) -> Recipe:
    """Plan ``m`` for ``target`` and render the recipe (BadInputError when it cannot run)."""
    t = resolve_target(target)
    p = plan(m, t, device, **kw)  # type: ignore[arg-type]
    return RENDERERS[t](p)


__all__ = [
    "BATCH_CAP",
    "NO_PRICES",
    "TARGETS",
    "TGI_IMAGE",
    "VLLM_IMAGE",
    "CostEstimate",
    "DeployPlan",
    "Recipe",
    "Step",
    "cheapest_meeting",
    "compare",
    "cost",
    "cost_for",
    "deploy",
    "k8s_docs",
    "kserve_docs",
    "kv_tokens",
    "plan",
    "resolve_target",
    "vllm_args",
]
