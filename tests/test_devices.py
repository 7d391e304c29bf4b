"""Device memory as the hardware reports it, and each engine's rule for what is usable."""

from __future__ import annotations

import pytest

from llmatlas.advisor import Target, estimate
from llmatlas.errors import BadInputError
from llmatlas.hardware import devices, find_device
from llmatlas.hardware._usable import usable_gpu_bytes

MiB = 1024**2
GiB = 1024**3

# the cards people own (issue: complete the table with them)
OWNED = [
    "rtx-3060", "rtx-3070", "rtx-3080-10gb", "rtx-3080-12gb", "rtx-3090", "rtx-3090-ti",
    "rtx-4060", "rtx-4060-ti-8gb", "rtx-4060-ti-16gb", "rtx-4070", "rtx-4070-super",
    "rtx-4070-ti", "rtx-4070-ti-super", "rtx-4080", "rtx-4080-super", "rtx-4090",
    "rtx-5060-ti-16gb", "rtx-5070", "rtx-5070-ti", "rtx-5080", "rtx-5090",
    "rtx-4060-laptop", "rtx-4070-laptop", "rtx-4080-laptop", "rtx-4090-laptop",
    "m1", "m1-pro", "m1-max", "m1-ultra", "m2", "m2-pro", "m2-max", "m2-ultra",
    "m3", "m3-pro", "m3-max", "m3-ultra", "m4", "m4-pro", "m4-max",
    "rx-7900-xt", "rx-7900-xtx", "arc-a770-16gb",
]  # fmt: skip


def test_table_has_the_cards_people_own() -> None:
    missing = [d for d in OWNED if d not in devices()]
    assert not missing


def test_memory_is_stored_in_mib_with_its_provenance() -> None:
    for d in devices().values():
        assert d.memory_bytes == d.memory_mib * MiB
        if d.memory_reported == "driver":
            assert d.memory_source is not None, d.id
        if d.kind == "apple":
            assert d.memory_options_gib and max(d.memory_options_gib) * 1024 == d.memory_mib
    assert find_device("rtx-4090").memory_mib == 24564  # what nvidia-smi reports
    assert find_device("h100-sxm").memory_mib == 81559


def test_engine_rules_for_usable_memory() -> None:
    total = find_device("rtx-4090").memory_bytes
    assert usable_gpu_bytes(total, "llama.cpp")[0] == (24564 - 1024) * MiB
    assert usable_gpu_bytes(total, "vllm")[0] == int(total * 0.9)
    assert usable_gpu_bytes(total, "ollama")[0] == (24564 - 457) * MiB
    t = Target.from_device(find_device("rtx-4090"), 2)
    assert t.budget_bytes == 2 * (24564 - 1024) * MiB
    assert "1 GiB margin" in t.headroom_note
    assert t.for_engine("vllm").budget_bytes == 2 * int(total * 0.9)


def test_seventy_b_at_4bit_fits_two_24gb_cards(catalog) -> None:  # type: ignore[no-untyped-def]
    m = catalog.get("llama-3-70b-instruct")
    two = estimate(m, Target.from_device(find_device("rtx-4090"), 2), "Q4_K_M")
    assert two.fits and two.gpus_needed == 2
    assert any("to spare" in n for n in two.notes)
    one = estimate(m, Target.from_device(find_device("rtx-4090"), 1), "Q4_K_M")
    assert not one.fits and one.gpus_needed == 2
    three_090 = estimate(m, Target.from_device(find_device("rtx-3090"), 2), "Q4_K_M")
    assert three_090.fits


def test_apple_sizes_and_metal_share() -> None:
    d = find_device("m3-max-64gb")
    assert d.memory_mib == 64 * 1024 and "64GB" in d.name
    assert Target.from_device(d).budget_bytes == 48 * GiB  # 3/4 above 36 GB
    small = Target.from_device(find_device("M1 16GB"))
    assert small.budget_bytes == 16 * GiB * 2 // 3
    with pytest.raises(BadInputError, match="sold with 64 GB, 128 GB, 192 GB"):
        find_device("m2-ultra-100gb")


def test_sized_names_do_not_shadow_real_ids() -> None:
    assert find_device("rtx-4060-ti-8gb").id == "rtx-4060-ti-8gb"
    assert find_device("RTX 3060 12GB").id == "rtx-3060"
    assert find_device("RTX 4090 Laptop").id == "rtx-4090-laptop"
