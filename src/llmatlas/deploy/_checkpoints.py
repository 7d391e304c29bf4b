"""Known pre-quantized checkpoints (AWQ, GPTQ, FP8) for catalog models, with sources.

vLLM and TGI load AWQ/GPTQ weights but cannot make them from a BF16 checkpoint, so a
4-bit plan needs a repository somebody already quantized; ``data/quantized_checkpoints.yaml``
lists the ones known, each with the page it was read from.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, HttpUrl, ValidationError

from llmatlas.errors import CatalogError
from llmatlas.i18n import _

FORMATS = ("AWQ-4BIT", "GPTQ-4BIT", "FP8")


class QuantizedCheckpoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    format: str
    repo: str
    publisher: str
    source: HttpUrl

    def describe(self) -> str:
        if self.publisher == "official":
            return _("{repo} ({format}, published by the developer; {source})").format(
                repo=self.repo, format=self.format, source=self.source
            )
        return _("{repo} ({format}, published by {who}; {source})").format(
            repo=self.repo, format=self.format, who=self.publisher, source=self.source
        )


@cache
def quantized_checkpoints() -> tuple[QuantizedCheckpoint, ...]:
    path = resources.files("llmatlas.deploy") / "data" / "quantized_checkpoints.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    try:
        rows = tuple(QuantizedCheckpoint.model_validate(r) for r in raw)
    except ValidationError as exc:
        raise CatalogError(f"quantized_checkpoints.yaml: {exc.errors()[0]['msg']}") from exc
    for r in rows:
        if r.format not in FORMATS or r.repo.count("/") != 1:
            raise CatalogError(f"quantized_checkpoints.yaml: bad row for {r.model}: {r.repo}")
    return rows


def checkpoints_for(model_id: str, fmt: str | None = None) -> list[QuantizedCheckpoint]:
    """Known checkpoints of ``model_id`` (in ``fmt`` if given), the developer's own first."""
    rows = [
        r
        for r in quantized_checkpoints()
        if r.model == model_id and (fmt is None or r.format == fmt)
    ]
    return sorted(rows, key=lambda r: r.publisher != "official")
