"""Ollama's Modelfile TEMPLATE (Go's text/template) translated to a Jinja template.

Ollama fills a template in one of two forms (its ``template/template.go``):

* the *messages* form, when the template names ``.Messages`` anywhere: one execution over
  ``.System`` (every system message joined by a blank line), ``.Messages`` (consecutive
  messages of one role merged with a blank line, tool results excepted), ``.Tools`` and an
  empty ``.Response``;
* the *legacy* form otherwise: one execution per past turn over ``.System``, ``.Prompt`` and
  ``.Response``, then the last turn with the template cut after its first ``{{ .Response }}``
  (a template naming neither ``.Messages`` nor ``.Response`` gets one appended).

:func:`translate` turns the subset of Go's syntax those templates use into Jinja that reads a
root value ``_go`` built by :func:`values`; anything outside the subset is a ``BadInputError``
naming the construct.  It is pure: no model, no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

from llmatlas.errors import BadInputError

# Go's text/template (Ollama's Modelfile TEMPLATE): fields start with a dot ({{ .Prompt }}),
# blocks end with {{ end }}; Jinja has neither.
GO_SYNTAX = re.compile(
    r"\{\{-?\s*(?:\.[A-Za-z]|(?:if|range|with|else if)\s+[.$]|end\s*-?\}\}|template\s|block\s)"
)


def is_go_template(text: str) -> bool:
    return GO_SYNTAX.search(text) is not None


def _malformed(what: str) -> BadInputError:
    return BadInputError(f"TEMPLATE: Go template syntax error: {what}")


def _refuse(what: str) -> BadInputError:
    return BadInputError(
        f"TEMPLATE: Go template construct {what} is not supported by llmatlas's translation "
        "(supported: fields, $variables, if/else if/else, range, with, break/continue, "
        "eq ne lt le gt ge and or not len index slice printf print json)"
    )


# ------------------------------------------------------------------------------ lexing
_ACTION = re.compile(r"\{\{(-[ \t\r\n])?")
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\\n]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>:=|=|\||\(|\)|,)
    )""",
    re.VERBOSE,
)


def _split(text: str) -> list[tuple[str, str]]:
    """Text and action pieces, with ``{{-`` / ``-}}`` trimming applied to the text."""
    out: list[tuple[str, str]] = []
    pos, trim_next = 0, False
    while True:
        m = _ACTION.search(text, pos)
        chunk = text[pos : m.start() if m else len(text)]
        if trim_next:
            chunk = chunk.lstrip(" \t\r\n")
        if m and m.group(1):
            chunk = chunk.rstrip(" \t\r\n")
        if chunk:
            out.append(("text", chunk))
        if not m:
            return out
        i, quote = m.end(), ""
        while i < len(text):  # the closing }} outside a string literal
            c = text[i]
            if quote:
                if c == "\\" and quote == '"':
                    i += 1
                elif c == quote:
                    quote = ""
            elif c in '"`':
                quote = c
            elif text.startswith("}}", i):
                break
            i += 1
        else:
            raise _malformed("an action {{ is never closed with }}")
        inner = text[m.end() : i]
        trim_next = False
        if re.search(r"[ \t\r\n]-$", inner):
            inner, trim_next = inner[:-1], True
        pos = i + 2
        inner = inner.strip()
        if inner.startswith("/*"):
            if not inner.endswith("*/"):
                raise _refuse("{{" + inner[:20] + "...}}")
            continue
        out.append(("action", inner))


def _tokens(inner: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(inner):
        if not inner[pos:].strip():
            break
        m = _TOKEN.match(inner, pos)
        if not m or m.end() == pos:
            raise _refuse(f"{{{{ {inner} }}}}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


# ------------------------------------------------------------------------------ parsing
# expressions: ("field", base, names) with base "." or a $variable; ("lit", value);
# ("call", name, args)
Expr = tuple[Any, ...]
FUNCS = {"eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not", "len", "index", "slice",
         "printf", "print", "json"}  # fmt: skip


@dataclass
class Node:
    kind: str  # text, out, if, range, with, set, break, continue
    text: str = ""
    expr: Expr | None = None
    var: str = ""  # set: the variable; range: the value variable
    key: str = ""  # range: the key/index variable
    body: list[Node] = field(default_factory=list)
    orelse: list[Node] = field(default_factory=list)


class _Parser:
    def __init__(self, toks: list[tuple[str, str]], source: str) -> None:
        self.toks, self.i, self.source = toks, 0, source

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def pipeline(self) -> Expr:
        expr = self.command()
        while self.peek() == ("op", "|"):
            self.i += 1
            nxt = self.command()
            if nxt[0] != "call":
                raise _refuse(f"{{{{ {self.source} }}}} (a pipe into a non-function)")
            expr = ("call", nxt[1], [*nxt[2], expr])
        return expr

    def command(self) -> Expr:
        first = self.peek()
        if first and first[0] == "word" and first[1] not in ("true", "false", "nil"):
            name = first[1]
            if name not in FUNCS:
                raise _refuse(f"function {name!r}")
            self.i += 1
            args = []
            while (t := self.peek()) is not None and t not in (("op", "|"), ("op", ")")):
                args.append(self.operand())
            return ("call", name, args)
        op = self.operand()
        if (t := self.peek()) is not None and t not in (("op", "|"), ("op", ")")):
            raise _refuse(f"{{{{ {self.source} }}}} (arguments to a non-function)")
        return op

    def operand(self) -> Expr:
        t = self.peek()
        if t is None:
            raise _malformed(f"{{{{ {self.source} }}}} (an incomplete expression)")
        self.i += 1
        kind, val = t
        if kind == "str":
            try:
                return ("lit", json.loads(val))
            except ValueError:
                raise _refuse(f"the string escape in {val}") from None
        if kind == "raw":
            return ("lit", val[1:-1])
        if kind == "num":
            return ("lit", float(val) if "." in val else int(val))
        if kind == "word" and val in ("true", "false", "nil"):
            return ("lit", {"true": True, "false": False, "nil": None}[val])
        if kind == "field":
            return ("field", ".", [n for n in val.split(".") if n])
        if kind == "var":
            head, *names = val.split(".")
            return ("field", head, names)
        if t == ("op", "("):
            inner = self.pipeline()
            if self.peek() != ("op", ")"):
                raise _malformed(f"{{{{ {self.source} }}}} (unbalanced parentheses)")
            self.i += 1
            return inner
        raise _refuse(f"{{{{ {self.source} }}}}")

    def done(self) -> None:
        if self.i != len(self.toks):
            raise _refuse(f"{{{{ {self.source} }}}}")


def _expr(inner: str) -> Expr:
    p = _Parser(_tokens(inner), inner)
    e = p.pipeline()
    p.done()
    return e


def parse(text: str) -> list[Node]:
    """The template as a tree of nodes; a construct outside the subset raises."""
    root: list[Node] = []
    # open blocks: [node, the branch being filled, opened by "else if" (closed by its end)]
    stack: list[list[Any]] = []
    cur = root
    for kind, piece in _split(text):
        if kind == "text":
            cur.append(Node("text", text=piece))
            continue
        word, _, rest = piece.partition(" ")
        rest = rest.strip()
        if word in ("if", "with", "range"):
            node = Node(word)
            if word == "range" and (
                m := re.match(r"^(\$\w*)\s*(?:,\s*(\$\w*)\s*)?:=\s*(.*)$", rest, re.S)
            ):
                node.key, node.var = (m.group(1), m.group(2)) if m.group(2) else ("", m.group(1))
                rest = m.group(3)
            node.expr = _expr(rest)
            cur.append(node)
            stack.append([node, node.body, False])
            cur = node.body
        elif word == "else":
            if not stack or stack[-1][1] is stack[-1][0].orelse:
                raise _malformed(
                    "{{ else }} outside a block" if not stack else "a second {{ else }}"
                )
            node = stack[-1][0]
            sub, _, cond = rest.partition(" ")
            if sub == "if" and node.kind == "if":
                inner = Node("if", expr=_expr(cond.strip()))
                node.orelse.append(inner)
                stack[-1][1] = node.orelse
                stack.append([inner, inner.body, True])
                cur = inner.body
            elif rest:
                raise _refuse(f"{{{{ else {rest} }}}}")
            else:
                cur = stack[-1][1] = node.orelse
        elif word == "end":
            if rest or not stack:
                raise (
                    _refuse(f"{{{{ {piece} }}}}")
                    if rest
                    else _malformed("{{ end }} without a block")
                )
            while stack.pop()[2]:
                pass
            cur = stack[-1][1] if stack else root
        elif word in ("break", "continue") and not rest:
            if not any(f[0].kind == "range" for f in stack):
                raise _malformed(f"{{{{ {word} }}}} outside range")
            cur.append(Node(word))
        elif word in ("template", "block", "define"):
            raise _refuse(f"{{{{ {word} }}}}")
        elif m := re.match(r"^(\$\w+)\s*(:=|=)\s*(.+)$", piece, re.S):
            cur.append(Node("set", var=m.group(1), expr=_expr(m.group(3))))
        else:
            cur.append(Node("out", expr=_expr(piece)))
    if stack:
        raise _malformed(f"{{{{ {stack[-1][0].kind} }}}} without {{{{ end }}}}")
    return root


# ------------------------------------------------------------------------------ analysis
def _fields(nodes: list[Node]) -> set[str]:
    """Names of every field the template reads, lower-cased (as Ollama's ``Vars``)."""
    out: set[str] = set()

    def expr(e: Expr | None) -> None:
        if e is None:
            return
        if e[0] == "field":
            out.update(n.lower() for n in e[2])
        elif e[0] == "call":
            for a in e[2]:
                expr(a)

    def walk(ns: list[Node]) -> None:
        for n in ns:
            expr(n.expr)
            walk(n.body)
            walk(n.orelse)

    walk(nodes)
    return out


def _names_response(e: Expr | None) -> bool:
    if e is None:
        return False
    if e[0] == "field":
        return e[1] == "." and "Response" in e[2]
    if e[0] == "call":
        return any(_names_response(a) for a in e[2])
    return False


def _cut(nodes: list[Node], state: list[bool]) -> list[Node]:
    """Ollama's last-turn template: everything after the first ``{{ .Response }}`` output
    (in reading order, through every enclosing block) is dropped."""
    out = []
    for n in nodes:
        if state[0]:
            continue
        if n.kind == "out" and _names_response(n.expr):
            out.append(n)
            state[0] = True
            continue
        if n.kind in ("if", "range", "with"):
            n = Node(
                n.kind, n.text, n.expr, n.var, n.key, _cut(n.body, state), _cut(n.orelse, state)
            )
        out.append(n)
    return out


# ------------------------------------------------------------------------------ emitting
class _Emitter:
    def __init__(self, root: str) -> None:
        self.root = root
        self.scopes: list[dict[str, str]] = [{"$": root}]
        self.dots = [root]
        self.n = 0

    def var(self, name: str) -> str:
        for s in reversed(self.scopes):
            if name in s:
                return s[name]
        return "_v." + ("v_" + name[1:] if name[1:] else "v_")

    def expr(self, e: Expr) -> str:
        if e[0] == "lit":
            v = e[1]
            if isinstance(v, str):
                return json.dumps(v, ensure_ascii=False)
            if v is None or isinstance(v, bool):
                return {None: "none", True: "true", False: "false"}[v]
            return repr(v)
        if e[0] == "field":
            base = self.dots[-1] if e[1] == "." else self.var(e[1])
            return base + "".join(f".{n}" for n in e[2])
        name, args = e[1], [self.expr(a) for a in e[2]]
        need = {"not": 1, "len": 1, "json": 1, "index": 2, "slice": 1, "printf": 1}
        binop = {"ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
        if len(args) < need.get(name, 2 if name in binop or name in ("eq", "and", "or") else 0):
            raise _refuse(f"{name} with {len(args)} argument(s)")
        if name == "eq":
            return "(" + " or ".join(f"{args[0]} == {b}" for b in args[1:]) + ")"
        if name in binop:
            if len(args) != 2:
                raise _refuse(f"{name} with {len(args)} arguments")
            return f"({args[0]} {binop[name]} {args[1]})"
        if name in ("and", "or"):
            return "(" + f" {name} ".join(args) + ")"
        if name == "not":
            return f"(not {args[0]})"
        if name == "len":
            return f"({args[0]}|length)"
        if name == "index":
            return args[0] + "".join(f"[{a}]" for a in args[1:])
        if name == "slice":
            if len(args) > 3:
                raise _refuse("slice with 3 indices")
            lo = args[1] if len(args) > 1 else ""
            hi = args[2] if len(args) > 2 else ""
            return f"{args[0]}[{lo}:{hi}]"
        return f"_{name}({', '.join(args)})"  # printf, print, json: globals of the renderer

    def nodes(self, ns: list[Node]) -> str:
        return "".join(self.node(n) for n in ns)

    def node(self, n: Node) -> str:
        if n.kind == "text":
            if any(t in n.text for t in ("{{", "{%", "{#")):
                return "{{ " + json.dumps(n.text, ensure_ascii=False) + " }}"
            return n.text
        assert n.expr is not None or n.kind in ("break", "continue")
        if n.kind == "out":
            return "{{ " + self.expr(n.expr) + " }}"  # type: ignore[arg-type]
        if n.kind == "set":
            return "{% set " + self.var(n.var) + " = " + self.expr(n.expr) + " %}"  # type: ignore[arg-type]
        if n.kind in ("break", "continue"):
            return "{% " + n.kind + " %}"
        cond = self.expr(n.expr)  # type: ignore[arg-type]
        if n.kind == "if":
            out = "{% if " + cond + " %}" + self.nodes(n.body)
            if n.orelse:
                out += "{% else %}" + self.nodes(n.orelse)
            return out + "{% endif %}"
        self.n += 1
        dot = f"_d{self.n}"
        if n.kind == "with":
            self.dots.append(dot)
            body = self.nodes(n.body)
            self.dots.pop()
            other = "{% else %}" + self.nodes(n.orelse) if n.orelse else ""
            return (
                "{% with " + dot + " = " + cond + " %}{% if " + dot + " %}"
                + body + other + "{% endif %}{% endwith %}"
            )  # fmt: skip
        key = f"_k{self.n}"
        scope = {n.var: dot} if n.var else {}
        if n.key:
            scope[n.key] = key
        self.scopes.append(scope)
        self.dots.append(dot)
        body = self.nodes(n.body)
        self.dots.pop()
        self.scopes.pop()
        other = "{% else %}" + self.nodes(n.orelse) if n.orelse else ""
        return f"{{% for {key}, {dot} in _pairs({cond}) %}}{body}{other}{{% endfor %}}"


_PREAMBLE = "{% set _v = namespace() %}"


def translate(text: str) -> str:
    """A Jinja template (rendered by :func:`environment` over :func:`values`) that writes what
    Ollama writes for ``text``; a construct outside the supported subset raises."""
    tree = parse(text)
    names = _fields(tree)
    uses_tools = {"tools", "toolcalls", "toolname", "toolcallid"} & names
    head = "{# Ollama Go template, translated; it reads tools #}" if uses_tools else ""
    if "messages" in names:
        return head + _PREAMBLE + _Emitter("_go").nodes(tree)
    if "response" not in names:
        tree = [*tree, Node("out", expr=("field", ".", ["Response"]))]
    full = _Emitter("_r").nodes(tree)
    last = _Emitter("_r").nodes(_cut(tree, [False]))
    return (
        head
        + "{% macro _turn(_r) %}" + _PREAMBLE + full + "{% endmacro %}"
        + "{% macro _last(_r) %}" + _PREAMBLE + last + "{% endmacro %}"
        + "{% for _t in _go.Turns %}{{ _turn(_t) }}{% endfor %}{{ _last(_go.Last) }}"
    )  # fmt: skip


# ------------------------------------------------------------------------------ rendering
def go_json(v: Any) -> str:
    """Go's ``json.Marshal``: compact, ``<``, ``>`` and ``&`` escaped; the values built here
    already hold Go's key order (struct fields as declared, map keys sorted)."""
    text = json.dumps(_plain(v), separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class GoMap(dict[str, Any]):
    """A value whose fields templates read by Go name and which prints as JSON (as Ollama's
    tool, tool-call argument and property types do)."""

    def __init__(self, fields: dict[str, Any], wire: Any) -> None:
        super().__init__(fields)
        self.wire = wire

    def __str__(self) -> str:
        return go_json(self.wire)


class GoList(list[Any]):
    def __str__(self) -> str:
        return go_json(self)


class GoType(list[str]):
    """Ollama's ``PropertyType``: one type prints as itself, several as Go prints a slice."""

    def __str__(self) -> str:
        return self[0] if len(self) == 1 else "[" + " ".join(self) + "]"


def _plain(v: Any) -> Any:
    if isinstance(v, GoMap):
        return v.wire
    if isinstance(v, GoType):
        return v[0] if len(v) == 1 else list(v)
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _sorted(v: Any) -> Any:
    """A JSON value with every object's keys sorted (Go marshals a map that way)."""
    if isinstance(v, dict):
        return {k: _sorted(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_sorted(x) for x in v]
    return v


def _struct(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A Go struct's JSON: fields in declared order, empty ``omitempty`` fields left out."""
    return {k: v for k, v in pairs if v not in (None, "", [], {})}


def _property(p: dict[str, Any]) -> GoMap:
    kind = p.get("type")
    kind = GoType([kind] if isinstance(kind, str) else list(kind or []))
    props = {k: _property(x) for k, x in sorted((p.get("properties") or {}).items())}
    wire = _struct([
        ("anyOf", [_property(x).wire for x in p.get("anyOf") or []]),
        ("type", _plain(kind) if kind else None),
        ("items", _sorted(p.get("items"))),
        ("description", p.get("description")),
        ("enum", p.get("enum")),
        ("properties", {k: x.wire for k, x in props.items()}),
        ("required", p.get("required")),
    ])  # fmt: skip
    fields = {"Type": kind, "Description": p.get("description") or "", "Enum": p.get("enum"),
              "Items": p.get("items"), "Properties": GoMap(props, wire.get("properties", {})),
              "Required": p.get("required")}  # fmt: skip
    return GoMap(fields, wire)


def _tool(t: dict[str, Any]) -> GoMap:
    fn = t.get("function") or {}
    params = fn.get("parameters") or {}
    props = {k: _property(p) for k, p in sorted((params.get("properties") or {}).items())}
    props_map = GoMap(props, {k: p.wire for k, p in props.items()})
    p_wire = {
        **_struct([("type", params.get("type", "object")), ("$defs", params.get("$defs")),
                   ("items", params.get("items")), ("required", params.get("required"))]),
        "properties": props_map.wire,
    }  # fmt: skip
    parameters = GoMap(
        {"Type": params.get("type", "object"), "Required": params.get("required"),
         "Properties": props_map},
        p_wire,
    )  # fmt: skip
    f_wire = {"name": fn.get("name", ""), "description": fn.get("description", ""),
              "parameters": p_wire}  # fmt: skip
    function = GoMap(
        {"Name": fn.get("name", ""), "Description": fn.get("description", ""),
         "Parameters": parameters},
        f_wire,
    )  # fmt: skip
    kind = t.get("type", "function")
    return GoMap({"Type": kind, "Function": function}, {"type": kind, "function": f_wire})


def _message(m: dict[str, Any]) -> dict[str, Any]:
    calls = GoList()
    for i, c in enumerate(m.get("tool_calls") or []):
        fn = c.get("function") or {}
        args = fn.get("arguments") or {}
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                args = {}
        calls.append(
            {"ID": c.get("id", ""), "Function": {"Index": i, "Name": fn.get("name", ""),
                                                 "Arguments": GoMap(args, _sorted(args))}}
        )  # fmt: skip
    return {
        "Role": m.get("role", ""),
        "Content": str(m.get("content") or ""),
        "Thinking": m.get("thinking") or "",
        "Images": m.get("images") or [],
        "ToolCalls": calls or None,
        "ToolName": m.get("tool_name") or m.get("name") or "",
        "ToolCallID": m.get("tool_call_id") or "",
    }


def values(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The root value ``_go`` of a translated template: Ollama's values for both forms."""
    system: list[str] = []
    merged: list[dict[str, Any]] = []
    for m in messages:
        role, content = m.get("role", ""), str(m.get("content") or "")
        if role == "system":
            system.append(content)
        if merged and merged[-1]["role"] == role and role != "tool":
            merged[-1] = {**merged[-1], "content": merged[-1]["content"] + "\n\n" + content}
        else:
            merged.append({**m, "content": content})
    # the legacy form: one (System, Prompt, Response) per turn, then the last one
    turns: list[dict[str, str]] = []
    cur = {"System": "", "Prompt": "", "Response": ""}
    for m in merged:
        role = m["role"]
        if (role == "system" and (cur["Prompt"] or cur["Response"])) or (
            role == "user" and cur["Response"]
        ):
            turns.append(cur)
            cur = {"System": "", "Prompt": "", "Response": ""}
        key = {"system": "System", "user": "Prompt", "assistant": "Response"}.get(role)
        if key:
            cur[key] = m["content"]
    return {
        "System": "\n\n".join(system),
        "Messages": [_message(m) for m in merged],
        "Tools": GoList(_tool(t) for t in tools) if tools else None,
        "Response": "",
        "Think": False,
        "Turns": turns,
        "Last": cur,
    }


def _pairs(v: Any) -> list[tuple[Any, Any]]:
    if v is None or v is False:
        return []
    if isinstance(v, dict):
        return sorted(v.items())
    if isinstance(v, int):
        return [(i, i) for i in range(v)]
    return list(enumerate(v))


def _print(*args: Any) -> str:
    """Go's ``fmt.Sprint``: a space between operands when neither is a string."""
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += _str(a)
    return out


def _str(a: Any) -> str:
    if a is None:
        return "<nil>"
    if isinstance(a, bool):
        return "true" if a else "false"
    return str(a)


def _printf(fmt: str, *args: Any) -> str:
    """Go's ``fmt.Sprintf`` for the verbs templates use: %s %v %d %q %%."""
    it = iter(args)

    def one(m: re.Match[str]) -> str:
        verb = m.group(1)
        if verb == "%":
            return "%"
        a = next(it, None)
        if verb == "q":
            return json.dumps(_str(a), ensure_ascii=False)
        if verb == "d":
            return str(int(a or 0))
        return _str(a)

    try:
        return re.sub(r"%([svdq%])", one, fmt)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"TEMPLATE: printf {fmt!r}: {exc}") from None


def environment() -> ImmutableSandboxedEnvironment:
    """The Jinja environment a translated template renders in: Go's whitespace as written
    (no block trimming, the final newline kept), loop controls, Go's helper functions."""
    env = ImmutableSandboxedEnvironment(
        keep_trailing_newline=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.globals.update(_pairs=_pairs, _print=_print, _printf=_printf, _json=go_json)
    return env
