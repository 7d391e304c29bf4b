"""Draft a catalog entry from a Hugging Face Hub repository (``llmatlas catalog import``).

What the Hub states is turned into catalog facts, each with the URL it came from
(pinned to the commit read) and listed under ``drafted`` until a person checks it
against the primary source and removes it from that list:

* ``config.json``                 -> ``architecture`` (:mod:`llmatlas.catalog._from_config`)
* safetensors metadata (Hub API)  -> ``params_b`` (and towers outside the decoder)
* the card's YAML front matter    -> licence id, ``base_model`` + relation, languages, tasks
* the repo's creation date        -> ``released``

The result is a family document (a dict the catalog schema validates) holding one
model; :func:`write_draft` stores it in the user's catalog folder atomically.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llmatlas.catalog._from_config import ConfigMappingError, architecture_from_config
from llmatlas.catalog._schema import Family
from llmatlas.errors import BadInputError, StoreError

HUB = "https://huggingface.co"
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
# dtypes of packed quantized tensors: their element count is not the parameter count
_PACKED = {"I32", "U32", "I8", "U8", "I16", "U16"}
# Hub licence ids -> the catalog's (most are the same).
_LICENSES = {"llama3": "llama3", "llama3.1": "llama3.1", "llama3.2": "llama3.2", "gemma": "gemma"}
# Card ``base_model_relation`` -> the catalog's relation.
_RELATIONS = {
    "finetune": "finetune",
    "adapter": "finetune",
    "merge": "merge",
    "quantized": "quantized",
}
_TAG_TASKS = {
    "code": "code",
    "math": "math",
    "medical": "medical",
    "reasoning": "reasoning",
    "tool-use": "tool-use",
    "function-calling": "function-calling",
    "image-text-to-text": "vision",
    "conversational": "chat",
}


class ImportProblem(BadInputError):
    """A repository the importer cannot draft from (one line saying why and what to do)."""


@dataclass
class HubRepo:
    """What the importer read from the Hub for one repository (inputs of :func:`draft`)."""

    repo: str
    sha: str
    endpoint: str
    config: dict[str, Any] | None
    card: dict[str, Any]
    files: list[str]
    created: dt.date | None
    safetensors: dict[str, int] = field(default_factory=dict)
    gated: bool = False

    def url(self, path: str = "") -> str:
        base = f"{self.endpoint.rstrip('/')}/{self.repo}"
        return f"{base}/blob/{self.sha}/{path}" if path else base


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.")
    return s or "model"


def _front_matter(text: str) -> dict[str, Any]:
    import yaml

    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0:
        return {}
    try:
        data = yaml.safe_load(text[3:end])
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def fetch(repo: str, endpoint: str | None = None, token: str | None = None) -> HubRepo:
    """Read a repository's metadata, config.json and card from the Hub (or ``HF_ENDPOINT``)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
    )

    if not _REPO.match(repo):
        raise ImportProblem(f"{repo!r} is not a Hub repository id (owner/name)")
    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or HUB).rstrip("/")
    api = HfApi(endpoint=endpoint, token=token)
    try:
        info = api.model_info(repo)
    except RepositoryNotFoundError:
        raise ImportProblem(
            f"{repo}: no such model repository on {endpoint} (or it is private)"
        ) from None
    except HfHubHTTPError as exc:
        raise StoreError(f"{repo}: the Hub answered {exc}".splitlines()[0]) from None
    except Exception as exc:  # network down, DNS, refused
        raise StoreError(
            f"cannot reach the Hub at {endpoint} ({type(exc).__name__}); check the network "
            "or HF_ENDPOINT"
        ) from None
    files = [s.rfilename for s in info.siblings or []]
    sha = info.sha or "main"

    def read(name: str) -> str | None:
        if name not in files:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = api.hf_hub_download(repo, name, revision=sha, cache_dir=tmp)
            except GatedRepoError:
                raise ImportProblem(
                    f"{repo} is gated: accept its terms on the Hub ({HUB}/{repo}), then set "
                    "HF_TOKEN to a token of that account and import again"
                ) from None
            except EntryNotFoundError:
                return None
            except HfHubHTTPError as exc:
                raise StoreError(f"{repo}/{name}: {exc}".splitlines()[0]) from None
            return Path(str(path)).read_text(encoding="utf-8")

    import json

    raw_config = read("config.json")
    config: dict[str, Any] | None = None
    if raw_config is not None:
        try:
            loaded = json.loads(raw_config)
        except ValueError:
            raise ImportProblem(f"{repo}: config.json is not valid JSON") from None
        if not isinstance(loaded, dict):
            raise ImportProblem(f"{repo}: config.json is not a JSON object")
        config = loaded
    readme = read("README.md")
    card = _front_matter(readme) if readme else {}
    if not card and info.card_data is not None:
        card = dict(info.card_data.to_dict())  # type: ignore[no-untyped-call]
    params: dict[str, int] = {}
    if info.safetensors is not None:
        params = {k: int(v) for k, v in (info.safetensors.parameters or {}).items()}
    created = info.created_at.date() if info.created_at else None
    return HubRepo(repo, sha, endpoint, config, card, files, created, params, bool(info.gated))


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _languages(card: dict[str, Any]) -> list[str]:
    out = []
    for lang in _as_list(card.get("language")):
        low = lang.strip().lower().replace("_", "-")
        if low in ("zh", "zh-cn", "zh-hans"):
            out.append("zh-Hans")
        elif low in ("zh-tw", "zh-hk", "zh-hant"):
            out.append("zh-Hant")
        elif low == "code":
            out.append("code")
        elif re.fullmatch(r"[a-z]{2,3}", low):
            out.append(low)
    return list(dict.fromkeys(out))


def _tasks(hub: HubRepo, instruct: bool) -> list[str]:
    tags = [t.lower() for t in _as_list(hub.card.get("tags"))]
    tags.append(str(hub.card.get("pipeline_tag") or "").lower())
    tasks = [task for tag, task in _TAG_TASKS.items() if tag in tags]
    if instruct:
        tasks += ["chat", "instruct"]
    return list(dict.fromkeys(tasks)) or ["general"]


def _find_catalog_id(repo: str, known_repos: dict[str, str]) -> str | None:
    return known_repos.get(repo.lower())


def draft(
    hub: HubRepo,
    known_repos: dict[str, str] | None = None,
    known_licenses: set[str] | None = None,
    model_id: str | None = None,
) -> dict[str, Any]:
    """A family document with one drafted model, validated by the catalog schema.

    ``known_repos``: Hub repo (lower case) -> catalog id, to link the card's base model;
    ``known_licenses``: licence ids the catalog defines (others are drafted in the file).
    """
    from llmatlas.sizing.params import active_param_count, param_count

    known_repos = known_repos or {}
    known_licenses = known_licenses or set()
    repo = hub.repo
    if hub.config is None:
        ggufs = [f for f in hub.files if f.lower().endswith(".gguf")]
        base = _as_list(hub.card.get("base_model"))
        if ggufs:
            hint = f"; import the original ({base[0]}) instead" if base else ""
            raise ImportProblem(
                f"{repo} holds only GGUF files ({len(ggufs)}), no config.json to draft an "
                f"architecture from{hint}; `llmatlas pull {repo}:QUANT` runs it as it is"
            )
        raise ImportProblem(
            f"{repo} has no config.json: not a transformers checkpoint the importer can read"
        )
    total = sum(hub.safetensors.values())
    packed = bool(set(hub.safetensors) & _PACKED)
    try:
        arch = architecture_from_config(hub.config, None if packed else total or None)
    except ConfigMappingError as exc:
        raise ImportProblem(f"{repo}: {exc}") from None
    computed = param_count(arch)
    notes = [f"Drafted by `llmatlas catalog import` from {repo} at commit {hub.sha}."]
    sources: dict[str, str] = {"card": hub.url(), "config": hub.url("config.json")}
    drafted = ["architecture", "params_b", "released", "instruct", "languages", "tasks", "license"]
    if total and not packed:
        params_b = total / 1e9
        sources["params"] = f"{hub.endpoint}/api/models/{repo}/revision/{hub.sha}"
        gap = computed / total - 1
        if abs(gap) > 0.02:
            notes.append(
                f"config.json accounts for {computed / 1e9:.3f}B of the {params_b:.3f}B "
                f"safetensors parameters ({gap:+.1%}): find what the rest is (an MTP "
                "module, towers) before confirming."
            )
    else:
        params_b = computed / 1e9
        if packed:
            notes.append(
                "Weights are packed-quantized, so their safetensors count is not the "
                "parameter count; params_b is computed from config.json."
            )
    name = repo.split("/", 1)[1]
    tags = {t.lower() for t in _as_list(hub.card.get("tags"))}
    base_names = [b.lower() for b in _as_list(hub.card.get("base_model"))]
    instruct = bool(
        re.search(r"(instruct|chat|-it$|-it-|thinking)", name.lower())
        or tags & {"conversational", "chat"}
        # a repo whose card names its own "-Base" checkpoint as base model is the tuned one
        or any(b.endswith("-base") for b in base_names)
    )
    languages = _languages(hub.card)
    if not languages:
        languages = ["multi"]
        notes.append("The card declares no language; 'multi' is a placeholder to replace.")
    lic_raw = str(hub.card.get("license") or "").lower()
    licenses: list[dict[str, Any]] = []
    if lic_raw in ("", "unknown"):
        raise ImportProblem(f"{repo}: the card states no licence; the catalog needs one")
    if lic_raw == "other":
        lic_id = slug(str(hub.card.get("license_name") or f"{name}-license"))
    else:
        lic_id = _LICENSES.get(lic_raw, lic_raw)
    if lic_id not in known_licenses:
        link = str(hub.card.get("license_link") or "")
        if not link.startswith("http"):
            lic_file = next((f for f in hub.files if f.upper().startswith("LICENSE")), None)
            link = hub.url(lic_file) if lic_file else hub.url("README.md")
        licenses.append(
            {
                "id": lic_id,
                "name": str(hub.card.get("license_name") or lic_id),
                "url": link,
                "commercial_use": "conditional",
                "conditions": "Drafted: read the licence text and state what a commercial "
                "user must watch for.",
            }
        )
    sources["license"] = str(licenses[0]["url"]) if licenses else hub.url()
    entry: dict[str, Any] = {
        "id": model_id or slug(name),
        "name": name,
        "released": (hub.created or dt.date.today()).isoformat(),
        "hf_repos": [repo],
        "params_b": round(params_b, 3),
        "instruct": instruct,
        "languages": languages,
        "tasks": _tasks(hub, instruct),
        "license": lic_id,
        "architecture": arch.model_dump(exclude_defaults=True, mode="json"),
        "openness": {
            "weights": "open",
            "training_data": "unknown",
            "training_code": "unknown",
            "evaluation_code": "unknown",
            "finetuning_code": "unknown",
            "training_logs": "unknown",
            "source": hub.url(),
            "note": "Drafted: only the weights' availability is known from the Hub.",
        },
        "sources": sources,
    }
    entry["sources"]["release"] = f"{hub.endpoint}/api/models/{repo}/revision/{hub.sha}"
    if arch.is_moe:
        entry["active_params_b"] = round(active_param_count(arch) / 1e9, 3)
    base = _as_list(hub.card.get("base_model"))
    if base:
        base_id = _find_catalog_id(base[0], known_repos)
        relation = _RELATIONS.get(str(hub.card.get("base_model_relation") or "finetune"))
        if base_id and relation and base_id != entry["id"]:
            entry["base_model"] = base_id
            entry["relation"] = relation
            entry["sources"]["lineage"] = hub.url("README.md")
            drafted += ["base_model"]
        else:
            notes.append(f"The card's base model {base[0]} is not in the catalog; import it first.")
    entry["drafted"] = drafted
    entry["notes"] = " ".join(notes)
    doc = {
        "family": entry["id"],
        "name": name,
        "developer": str(hub.card.get("model_creator") or repo.split("/")[0]),
        "description": f"Drafted from the Hugging Face repository {repo}; not yet reviewed.",
        "homepage": hub.url(),
        "licenses": licenses,
        "models": [entry],
    }
    try:
        Family.model_validate(doc)
    except ValidationError as exc:
        from llmatlas.catalog._load import _describe

        raise ImportProblem(_describe(exc, f"{repo}: the draft is not a valid entry")) from None
    return doc


def to_yaml(doc: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def write_draft(doc: dict[str, Any], directory: Path, force: bool = False) -> Path:
    """Write ``<family>.yaml`` into ``directory`` atomically; refuse to overwrite unless ``force``."""
    path = directory / f"{doc['family']}.yaml"
    if path.exists() and not force:
        raise ImportProblem(f"{path} exists; pass --force to replace it or --id to pick another id")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".import-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(to_yaml(doc))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
