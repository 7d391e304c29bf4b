"""Derived models: a stored GGUF plus a system prompt, a template and default parameters.

Ollama describes them in a *Modelfile* (``FROM``, ``PARAMETER``, ``TEMPLATE``, ``SYSTEM``,
``LICENSE``, ``MESSAGE``); ``/api/create`` and ``/api/copy`` make them.  The parser is pure;
the settings live in the ``modelfiles`` table next to the ``models`` registry row, whose file
they share (a copy costs no disk).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmatlas.errors import BadInputError

# Ollama's parameter names and their types (see its docs/modelfile.md "Valid Parameters")
PARAMETER_TYPES: dict[str, type] = {
    "num_ctx": int,
    "num_predict": int,
    "repeat_last_n": int,
    "repeat_penalty": float,
    "temperature": float,
    "seed": int,
    "stop": str,
    "top_k": int,
    "top_p": float,
    "min_p": float,
    "num_keep": int,
    "typical_p": float,
    "presence_penalty": float,
    "frequency_penalty": float,
    "num_batch": int,
    "num_gpu": int,
    "num_thread": int,
}


@dataclass
class Modelfile:
    from_: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    template: str | None = None
    system: str | None = None
    license: str | None = None
    messages: list[dict[str, str]] = field(default_factory=list)


def coerce_parameter(name: str, value: Any) -> Any:
    kind = PARAMETER_TYPES.get(name)
    if kind is None:
        raise BadInputError.translatable(
            "PARAMETER {name}: unknown parameter; use one of {known}",
            name=name,
            known=", ".join(PARAMETER_TYPES),
        )
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise BadInputError.translatable(
            "PARAMETER {name} {value!r}: expected {kind}",
            name=name,
            value=value,
            kind=kind.__name__,
        ) from None


def add_parameter(params: dict[str, Any], name: str, value: Any) -> None:
    """``stop`` accumulates (several stop sequences); every other parameter is set once."""
    if name == "stop":
        values = value if isinstance(value, list) else [value]
        params.setdefault("stop", []).extend(str(v) for v in values)
    else:
        params[name] = coerce_parameter(name, value)


def _value(rest: str) -> str:
    """A Modelfile argument: triple-quoted, double-quoted, or the rest of the line."""
    rest = rest.strip()
    if rest.startswith('"""'):
        return rest[3:-3] if rest.endswith('"""') and len(rest) >= 6 else rest[3:]
    if len(rest) >= 2 and rest[0] == rest[-1] == '"':
        return str(json.loads(rest)) if "\\" in rest else rest[1:-1]
    return rest


def parse_modelfile(text: str) -> Modelfile:
    """Parse a Modelfile; a line that is not an instruction is a one-line error naming it."""
    mf = Modelfile()
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        cmd = word.upper()
        if rest.strip().startswith('"""') and (
            rest.strip() == '"""' or not rest.rstrip().endswith('"""')
        ):
            block = [rest.strip()]
            while i < len(lines) and not lines[i].rstrip().endswith('"""'):
                block.append(lines[i])
                i += 1
            if i >= len(lines):
                raise BadInputError.translatable(
                    'Modelfile: {cmd} opens """ but never closes it', cmd=cmd
                )
            block.append(lines[i].rstrip())
            i += 1
            rest = "\n".join(block)
        if cmd == "FROM":
            mf.from_ = _value(rest)
        elif cmd == "PARAMETER":
            name, _, value = rest.strip().partition(" ")
            add_parameter(mf.parameters, name.strip(), _value(value))
        elif cmd == "TEMPLATE":
            mf.template = _value(rest)
        elif cmd == "SYSTEM":
            mf.system = _value(rest)
        elif cmd == "LICENSE":
            mf.license = _value(rest)
        elif cmd == "MESSAGE":
            role, _, content = rest.strip().partition(" ")
            if role not in ("system", "user", "assistant"):
                raise BadInputError.translatable(
                    "Modelfile: MESSAGE role {role!r}: use system, user or assistant", role=role
                )
            mf.messages.append({"role": role, "content": _value(content)})
        elif cmd == "ADAPTER":
            raise BadInputError.translatable(
                "Modelfile: ADAPTER (LoRA) is not supported by llmatlas"
            )
        else:
            raise BadInputError.translatable(
                "Modelfile line {line}: unknown instruction {word!r}", line=i, word=word
            )
    if not mf.from_:
        raise BadInputError.translatable(
            "Modelfile: FROM is required (a model name, a GGUF path or a blob)"
        )
    return mf


def render_parameters(params: dict[str, Any]) -> str:
    """Ollama's ``parameters`` text of ``/api/show``: one ``name value`` line per value."""
    out = []
    for name, value in params.items():
        for v in value if isinstance(value, list) else [value]:
            out.append(f"{name:<30} {json.dumps(v) if isinstance(v, str) else v}")
    return "\n".join(out)


def render_modelfile(path: Path, mf: Modelfile) -> str:
    out = [f"FROM {path}"]
    if mf.template:
        out.append(f'TEMPLATE """{mf.template}"""')
    if mf.system:
        out.append(f'SYSTEM """{mf.system}"""')
    for name, value in mf.parameters.items():
        for v in value if isinstance(value, list) else [value]:
            out.append(f"PARAMETER {name} {json.dumps(v) if isinstance(v, str) else v}")
    for m in mf.messages:
        out.append(f'MESSAGE {m["role"]} """{m["content"]}"""')
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- the registry
def load(store: Any, name: str) -> Modelfile:
    """The settings a stored model was created with (empty for a plain model)."""
    row = store.conn.execute(
        "SELECT parent, system, template, parameters, messages FROM modelfiles "
        "WHERE lower(name) = lower(?)",
        (name,),
    ).fetchone()
    if row is None:
        return Modelfile()
    return Modelfile(
        row["parent"] or "",
        json.loads(row["parameters"] or "{}"),
        row["template"],
        row["system"],
        None,
        json.loads(row["messages"] or "[]"),
    )


def save(store: Any, name: str, mf: Modelfile) -> None:
    with store._lock, store.conn:
        store.conn.execute(
            "INSERT OR REPLACE INTO modelfiles (name, parent, system, template, parameters, messages)"
            " VALUES (?,?,?,?,?,?)",
            (
                name,
                mf.from_,
                mf.system,
                mf.template,
                json.dumps(mf.parameters),
                json.dumps(mf.messages),
            ),
        )


def derive(store: Any, source: str, name: str, mf: Modelfile | None = None) -> Any:
    """Register ``name`` over ``source``'s file, with ``mf`` layered on ``source``'s settings."""
    from dataclasses import replace

    from llmatlas.runtime.templates import check_template

    if mf is not None and mf.template:
        check_template(mf.template)  # before anything is written
    src = store.resolve(source)
    if store.get(name) is not None and name.lower() != src.name.lower():
        store.remove(name)  # Ollama's create/copy replace an existing name
    base = load(store, src.name)
    if mf is not None:
        params = {**base.parameters}
        for k, v in mf.parameters.items():
            params[k] = v
        base = Modelfile(
            src.name,
            params,
            mf.template if mf.template is not None else base.template,
            mf.system if mf.system is not None else base.system,
            None,
            mf.messages or base.messages,
        )
    else:
        base.from_ = src.name
    row = store._register(replace(src, name=name, source="derived"))
    save(store, row.name, base)
    return row


def check_name(name: str) -> str:
    """A name for a new model: what Ollama accepts (namespace/model:tag), no spaces or controls."""
    name = name.strip()
    if not name or len(name) > 200 or any(c.isspace() or ord(c) < 32 for c in name):
        raise BadInputError.translatable(
            "model name {name!r}: use letters, digits and - _ . : /", name=name
        )
    return name
