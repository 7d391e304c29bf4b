"""Pictures of the lineage forest: Mermaid, Graphviz DOT, SVG and PNG.

SVG and PNG share one layout: each tree laid out left to right by depth, leaves
stacked top to bottom, a parent centred on its children.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

Node = dict[str, Any]
COL_W, ROW_H, BOX_H, PAD = 260, 28, 20, 12


def _walk(forest: list[Node]) -> list[tuple[Node, Node | None]]:
    out: list[tuple[Node, Node | None]] = []

    def rec(n: Node, parent: Node | None) -> None:
        out.append((n, parent))
        for c in n["children"]:
            rec(c, n)

    for root in forest:
        rec(root, None)
    return out


def _safe(s: str) -> str:
    return "n_" + "".join(ch if ch.isalnum() else "_" for ch in s)


def to_mermaid(forest: list[Node]) -> str:
    lines = ["graph LR"]
    for n, parent in _walk(forest):
        lines.append(f'  {_safe(n["id"])}["{n["id"]}"]')
        if parent is not None:
            lines.append(f"  {_safe(parent['id'])} -->|{n['relation']}| {_safe(n['id'])}")
    return "\n".join(dict.fromkeys(lines)) + "\n"


def to_dot(forest: list[Node]) -> str:
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for n, parent in _walk(forest):
        lines.append(f'  "{n["id"]}";')
        if parent is not None:
            lines.append(f'  "{parent["id"]}" -> "{n["id"]}" [label="{n["relation"]}"];')
    lines.append("}")
    return "\n".join(dict.fromkeys(lines)) + "\n"


@dataclass
class _Box:
    node: Node
    x: int
    y: float
    parent: _Box | None


def layout(forest: list[Node]) -> tuple[list[_Box], int, int]:
    boxes: list[_Box] = []
    next_row = [0]
    max_depth = [0]

    def rec(n: Node, depth: int, parent: _Box | None) -> float:
        max_depth[0] = max(max_depth[0], depth)
        box = _Box(n, PAD + depth * COL_W, 0.0, parent)
        boxes.append(box)
        if not n["children"]:
            box.y = PAD + next_row[0] * ROW_H
            next_row[0] += 1
        else:
            ys = [rec(c, depth + 1, box) for c in n["children"]]
            box.y = (ys[0] + ys[-1]) / 2
        return box.y

    for root in forest:
        rec(root, 0, None)
        next_row[0] += 1  # gap between trees
    width = PAD * 2 + (max_depth[0] + 1) * COL_W
    height = PAD * 2 + next_row[0] * ROW_H
    return boxes, width, height


def to_svg(forest: list[Node]) -> str:
    boxes, w, h = layout(forest)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    bw = COL_W - 40
    for b in boxes:
        if b.parent:
            p = b.parent
            parts.append(
                f'<path d="M{p.x + bw},{p.y + BOX_H / 2} C{p.x + bw + 20},{p.y + BOX_H / 2} '
                f'{b.x - 20},{b.y + BOX_H / 2} {b.x},{b.y + BOX_H / 2}" '
                f'fill="none" stroke="#888"/>'
            )
    for b in boxes:
        label = html.escape(b.node["id"])
        rel = html.escape(b.node.get("relation") or "")
        parts.append(
            f'<g><title>{label} ({rel})</title><rect x="{b.x}" y="{b.y}" width="{bw}" '
            f'height="{BOX_H}" rx="4" fill="#eef3fb" stroke="#4a6fa5"/>'
            f'<text x="{b.x + 6}" y="{b.y + 14}">{label}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def to_png(forest: list[Node]) -> bytes:
    from io import BytesIO

    from PIL import Image, ImageDraw

    boxes, w, h = layout(forest)
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    bw = COL_W - 40
    for b in boxes:
        if b.parent:
            p = b.parent
            d.line(
                [(p.x + bw, p.y + BOX_H / 2), (b.x - 10, b.y + BOX_H / 2), (b.x, b.y + BOX_H / 2)],
                fill=(136, 136, 136),
                width=1,
            )
    for b in boxes:
        d.rounded_rectangle(
            [b.x, b.y, b.x + bw, b.y + BOX_H],
            radius=4,
            fill=(238, 243, 251),
            outline=(74, 111, 165),
        )
        d.text((b.x + 6, b.y + 4), b.node["id"], fill=(0, 0, 0))
    buf = BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def render_tree(forest: list[Node], fmt: str) -> str | bytes:
    if fmt == "png":
        return to_png(forest)
    text_renderers = {"mermaid": to_mermaid, "dot": to_dot, "svg": to_svg}
    return text_renderers[fmt](forest)
