"""The sourced table of GPUs/accelerators and cloud instances (``hardware/data/*.yaml``)."""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from llmatlas._record import Record, Url, record
from llmatlas.errors import BadInputError, CatalogError

if TYPE_CHECKING:
    from pydantic import Field

MiB = 1024**2
GiB = 1024**3


@record
class DeviceSpec(Record):
    """Published figures of one device (the marketed configuration)."""

    COMPUTED: ClassVar[tuple[str, ...]] = ("memory_gb",)

    id: str
    name: str
    vendor: Literal["nvidia", "amd", "apple", "intel"]
    kind: Literal["gpu", "apple", "accelerator"]
    memory_mib: Annotated[int, Field(gt=0)]
    """Total device memory in MiB as software sees it (see ``memory_reported``)."""
    memory_reported: Literal["driver", "vendor"]
    """``driver``: the total NVML/nvidia-smi reports, from ``memory_source``; ``vendor``:
    the marketed size read as binary GB (drivers report slightly less)."""
    memory_source: Url | None = None
    memory_options_gib: list[int] | None = None
    """Apple: every unified-memory size sold for the chip (``memory_mib`` is the largest)."""
    bandwidth_gbs: Annotated[float, Field(gt=0)]
    fp16_tflops: Annotated[float, Field(gt=0)]
    source: Url
    note: str | None = None

    @property
    def memory_bytes(self) -> int:
        return self.memory_mib * MiB

    @property
    def memory_gb(self) -> float:
        """Memory in binary GB (GiB), for display and the web UI's device list."""
        return round(self.memory_mib / 1024, 2)

    @property
    def memory_label(self) -> str:
        """'24,564 MiB (driver)' or '24 GB (vendor spec)'."""
        if self.memory_reported == "driver":
            return f"{self.memory_mib:,} MiB"
        return f"{self.memory_mib / 1024:g} GB"

    def with_memory_gib(self, gib: int) -> DeviceSpec:
        """This chip with one of the unified-memory sizes it is sold with."""
        sizes = self.memory_options_gib or [self.memory_mib // 1024]
        if gib not in sizes:
            raise BadInputError.translatable(
                "{device} is sold with {sizes}, not {gib} GB",
                device=self.name,
                sizes=", ".join(f"{s} GB" for s in sizes),
                gib=gib,
            )
        return self.model_copy(
            update={
                "id": f"{self.id}-{gib}gb",
                "name": f"{self.name} {gib}GB",
                "memory_mib": gib * 1024,
            }
        )


@record
class Instance(Record):
    """A cloud instance with its GPUs and on-demand price."""

    id: str
    provider: Literal["aws", "gcp", "azure"]
    name: str
    device: str
    gpus: Annotated[int, Field(gt=0)]
    vcpus: int | None = None
    ram_gb: float | None = None
    price_per_hour_usd: Annotated[float, Field(gt=0)]
    region: str
    price_date: dt.date
    source: Url
    note: str | None = None


def _data() -> Path:
    return Path(__file__).with_name("data")


@functools.cache
def devices() -> dict[str, DeviceSpec]:
    """The device table (from its compiled snapshot: see :func:`_tables`)."""
    return _tables()[0]


@functools.cache
def instances() -> dict[str, Instance]:
    """The cloud instances with prices (from the compiled snapshot)."""
    return _tables()[1]


def _tables() -> tuple[dict[str, DeviceSpec], dict[str, Instance]]:
    """Both tables, validated once per edit of their YAML and then read from a snapshot
    (as the catalog is: :mod:`llmatlas._snapshot`)."""
    from llmatlas._snapshot import compiled

    paths = [_data() / "devices.yaml", _data() / "instances.yaml"]
    return typing.cast(
        "tuple[dict[str, DeviceSpec], dict[str, Instance]]",
        compiled("devices", [p for p in paths if p.exists()], _build_tables),
    )


def _build_tables(texts: dict[str, bytes]) -> tuple[dict[str, DeviceSpec], dict[str, Instance]]:
    import yaml
    from pydantic import ValidationError

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw = yaml.load(texts["devices.yaml"], Loader=loader) or []
    try:
        specs = [DeviceSpec.model_validate(x) for x in raw]
    except ValidationError as exc:
        raise CatalogError(
            f"devices.yaml: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
        ) from exc
    table = {d.id: d for d in specs}
    raw = yaml.load(texts["instances.yaml"], Loader=loader) if "instances.yaml" in texts else []
    try:
        items = [Instance.model_validate(x) for x in raw or []]
    except ValidationError as exc:
        raise CatalogError(
            f"instances.yaml: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
        ) from exc
    for i in items:
        if i.device not in table:
            raise CatalogError(f"instances.yaml: {i.id} names unknown device {i.device!r}")
    return table, {i.id: i for i in items}


def _key(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isalnum())


_SIZED = re.compile(r"^(?P<chip>.+?)[\s_-]*(?P<gib>\d+)\s*(?:gb|gib|g)$", re.IGNORECASE)


def find_device(name: str) -> DeviceSpec:
    """A device by id or name, forgiving case and punctuation ('RTX 4090', 'rtx-4090', '4090');
    an Apple chip with a memory size ('m3-max-64gb', 'M2 Ultra 192GB') is that configuration."""
    table = devices()
    k = _key(name)
    m = _SIZED.match(name.strip())
    if m and not any(k in (_key(d.id), _key(d.name)) for d in table.values()):
        chip = m.group("chip")
        ck = _key(chip)
        for d in table.values():
            if d.memory_options_gib and ck in (_key(d.id), _key(d.name)):
                return d.with_memory_gib(int(m.group("gib")))
    for d in table.values():
        if k in (_key(d.id), _key(d.name)):
            return d
    hits = [d for d in table.values() if k and (k in _key(d.name) or k in _key(d.id))]
    if len(hits) == 1:
        return hits[0]
    close = difflib.get_close_matches(name.lower(), [d.id for d in table.values()], n=3, cutoff=0.5)
    options = close or [d.id for d in hits][:5]
    if options:
        raise BadInputError.translatable(
            "unknown device {name!r}; did you mean: {names}?", name=name, names=", ".join(options)
        )
    raise BadInputError.translatable(
        "unknown device {name!r}; see `llmatlas hw --devices`", name=name
    )


def find_instance(name: str) -> Instance:
    """An instance by id or name, forgiving case ('p5.48xlarge', 'aws:p5.48xlarge',
    'Standard_ND96isr_H100_v5')."""
    table = instances()
    k = name.strip().lower()
    if k in table:
        return table[k]
    for i in table.values():
        if k in (i.name.lower(), i.id.split(":", 1)[1]):
            return i
    by_name = {i.name.lower(): i.id for i in table.values()}
    close = difflib.get_close_matches(k, [*table, *by_name], n=3, cutoff=0.6)
    ids = list(dict.fromkeys(by_name.get(c, c) for c in close))
    if ids:
        raise BadInputError.translatable(
            "unknown instance {name!r}; did you mean: {names}?", name=name, names=", ".join(ids)
        )
    raise BadInputError.translatable(
        "unknown instance {name!r}; the instances with prices are listed by "
        "`llmatlas cost MODEL --compare`",
        name=name,
    )


def match_gpu_name(nvml_name: str, memory_bytes: int | None = None) -> DeviceSpec | None:
    """Table entry for a name NVML reports (e.g. 'NVIDIA H100 80GB HBM3', 'NVIDIA A10').

    A table name contained in the reported name wins (longest first); otherwise, among
    entries whose name contains the reported one (e.g. 'RTX 4060 Ti' -> 8GB/16GB), the
    one whose memory is closest to ``memory_bytes``.
    """

    def strip(s: str) -> str:
        return _key(s.replace("NVIDIA", "").replace("GeForce", ""))

    k = strip(nvml_name)
    if not k:
        return None
    table = list(devices().values())
    inside = [d for d in table if strip(d.name) and strip(d.name) in k]
    if inside:
        return max(inside, key=lambda d: len(strip(d.name)))
    containing = [d for d in table if k in strip(d.name) or k in _key(d.id)]
    if not containing:
        return None
    if memory_bytes:
        return min(containing, key=lambda d: abs(d.memory_bytes - memory_bytes))
    return containing[0] if len(containing) == 1 else None
