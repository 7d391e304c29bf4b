"""All settings in one place; nothing else reads the environment.

Every field documents itself, and the CLI's flags take their defaults from here.
"""

from __future__ import annotations

import os
from dataclasses import field, fields
from pathlib import Path

from llmatlas import i18n
from llmatlas._record import Value, value


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _csv(name: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in (_env(name, "") or "").split(",") if x.strip())


@value
class Settings(Value):
    home: Path = field(
        metadata={"env": "LLMATLAS_HOME", "help": "Where models, the registry and results live."}
    )
    host: str = field(
        default="127.0.0.1", metadata={"env": "LLMATLAS_HOST", "help": "Server bind address."}
    )
    port: int = field(default=8080, metadata={"env": "LLMATLAS_PORT", "help": "Server port."})
    api_key: str | None = field(
        default=None,
        metadata={"env": "LLMATLAS_API_KEY", "help": "Bearer key the server requires."},
    )
    threads: int = field(
        default=0,
        metadata={
            "env": "LLMATLAS_THREADS",
            "help": "CPU threads for llama.cpp (0: physical cores).",
        },
    )
    context: int = field(
        default=4096, metadata={"env": "LLMATLAS_CONTEXT", "help": "Default context length."}
    )
    license_allow: tuple[str, ...] = field(
        default=(),
        metadata={
            "env": "LLMATLAS_LICENSE_ALLOW",
            "help": "Comma-separated policy for `pull`: license ids, or 'commercial' for any license allowing commercial use.",
        },
    )
    allowed_hosts: tuple[str, ...] = field(
        default=(),
        metadata={
            "env": "LLMATLAS_ALLOWED_HOSTS",
            "help": "Comma-separated Host names the server answers besides loopback and its bind "
            "address ('.example.com' for subdomains); others get 403 (DNS rebinding).",
        },
    )
    cors_origins: tuple[str, ...] = field(
        default=(),
        metadata={
            "env": "LLMATLAS_CORS_ORIGINS",
            "help": "Comma-separated browser origins allowed to call the API (CORS).",
        },
    )
    hf_endpoint: str | None = field(
        default=None, metadata={"env": "HF_ENDPOINT", "help": "Hugging Face Hub endpoint."}
    )
    lang: str = field(
        default="en",
        metadata={
            "env": "LLMATLAS_LANG",
            "help": "Language of the CLI's human output: en, zh-TW or zh-CN (else LANGUAGE, LC_ALL, LC_MESSAGES, LANG).",
        },
    )

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def db_path(self) -> Path:
        return self.home / "llmatlas.db"

    @property
    def catalog_dir(self) -> Path:
        """The user's own catalog entries (``*.yaml`` family files), overlaid on the shipped ones."""
        return self.home / "catalog"

    @property
    def cache_dir(self) -> Path:
        """Derived files that are rebuilt when missing: catalog snapshot, hardware probe."""
        return self.home / "cache"

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(_env("LLMATLAS_HOME", str(Path.home() / ".llmatlas")) or "").expanduser()
        allow = _csv("LLMATLAS_LICENSE_ALLOW")
        return cls(
            home=home,
            host=_env("LLMATLAS_HOST", "127.0.0.1") or "127.0.0.1",
            port=int(_env("LLMATLAS_PORT", "8080") or 8080),
            api_key=_env("LLMATLAS_API_KEY"),
            threads=int(_env("LLMATLAS_THREADS", "0") or 0),
            context=int(_env("LLMATLAS_CONTEXT", "4096") or 4096),
            license_allow=allow,
            allowed_hosts=_csv("LLMATLAS_ALLOWED_HOSTS"),
            cors_origins=_csv("LLMATLAS_CORS_ORIGINS"),
            hf_endpoint=_env("HF_ENDPOINT"),
            lang=i18n.from_environ(os.environ),
        )

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """(field, env var, help) for `--help` text and the README."""
        return [
            (f.name, f.metadata.get("env", ""), f.metadata.get("help", "")) for f in fields(cls)
        ]


def get_settings() -> Settings:
    return Settings.from_env()
