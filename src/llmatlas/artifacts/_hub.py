"""Hugging Face Hub repos as artifacts (config.json + file list); see step 4 of issue 10."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmatlas.errors import BadInputError

if TYPE_CHECKING:
    from llmatlas.artifacts import Artifact
    from llmatlas.catalog import Catalog


def from_hub(spec: str, cat: Catalog) -> Artifact:
    raise BadInputError(
        f"{spec}: sizing Hub repos outside the catalog is not supported yet; "
        "download the .gguf and give its path"
    )
