"""ggml's graph allocator, replayed: the compute buffer llama.cpp reserves is its peak.

llama.cpp sizes its compute buffer by handing the worst-case graph (one ubatch, every
token an output) to ggml's graph allocator (``ggml/src/ggml-alloc.c``): tensors are
placed in one address space in graph order, best fit among the free blocks, a tensor's
memory is released when its last reader has run, and some ops write into their input's
memory.  The buffer is the highest address ever used — not the largest set of live
tensors, because freed holes are reused only by tensors that fit them.

This module is a model of that allocator (same rules, same order), over a graph of
tensor shapes; :mod:`llmatlas.sizing.llama_graph` builds the graphs llama.cpp builds.
Pure Python, no llama.cpp: a 80-layer graph takes milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llmatlas.sizing.graph_memo import TYPES  # ggml types: (block elements, block bytes)

# the type a matrix multiply converts its f32 activations to (ggml-cpu's ``vec_dot_type``)
VEC_DOT = {"f32": "f32", "f16": "f16", "bf16": "bf16", "q8_0": "q8_0", "q4_0": "q8_0"}
VEC_DOT |= {"q4_1": "q8_1", "q5_0": "q8_0", "q5_1": "q8_1"}
_VEC_DOT_TYPES = {**TYPES, "q8_1": (32, 36)}

ALIGNMENT = 32
"""ggml's CPU buffer alignment (``TENSOR_ALIGNMENT``)."""

# ops whose output may take an input's memory (ggml_op_can_inplace)
INPLACE = {"scale", "add", "add_id", "add1", "sub", "mul", "div", "sqr", "sqrt", "log", "unary"}
INPLACE |= {"rope", "rms_norm", "clamp", "soft_max", "fill", "diag_mask_inf"}


def row_size(type_: str, n: int) -> int:
    blck, size = TYPES[type_]
    return n // blck * size


@dataclass(eq=False, slots=True)
class Tensor:
    """A ggml tensor as the allocator sees it: shape, strides, sources, view base (and,
    while :func:`reserve` runs, its bookkeeping: readers left, views left, placement)."""

    op: str
    type: str
    ne: tuple[int, int, int, int]
    nb: tuple[int, int, int, int]
    src: tuple[Tensor, ...] = ()
    view_src: Tensor | None = None
    view_offs: int = 0
    external: bool = False  # weights, KV cache: in their own buffers
    weights: bool = False  # a model weight (its buffer's usage is WEIGHTS; the KV cache's is not)
    backend: int = -1  # external: the device whose buffer holds it; else a forced device
    input: bool = False
    output: bool = False
    name: str = ""
    n_children: int = 0
    n_views: int = 0
    allocated: bool = False
    offset: int = 0
    buf: int = 0  # the buffer (device) it was placed in
    sb: int = -1  # the device the scheduler assigned it (ggml_sched.schedule)

    @property
    def nbytes(self) -> int:
        if 0 in self.ne:
            return 0
        blck = TYPES[self.type][0]
        if blck == 1:
            n = TYPES[self.type][1]
            for i in range(4):
                n += (self.ne[i] - 1) * self.nb[i]
            return n
        n = row_size(self.type, self.ne[0])
        for i in range(1, 4):
            n += (self.ne[i] - 1) * self.nb[i]
        return n

    @property
    def is_view(self) -> bool:
        return self.view_src is not None

    def same_layout(self, o: Tensor) -> bool:
        return self.type == o.type and self.ne == o.ne and self.nb == o.nb


def _strides(type_: str, ne: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    nb0 = TYPES[type_][1]
    nb1 = row_size(type_, ne[0])
    return (nb0, nb1, nb1 * ne[1], nb1 * ne[1] * ne[2])


def _ne4(ne: tuple[int, ...]) -> tuple[int, int, int, int]:
    t = tuple(ne) + (1,) * (4 - len(ne))
    return (t[0], t[1], t[2], t[3])


class Graph:
    """Builds tensors with ggml's shape rules and orders them the way ggml does
    (``ggml_build_forward_expand``: depth-first, sources left to right)."""

    def __init__(self) -> None:
        self.nodes: list[Tensor] = []
        self.leafs: list[Tensor] = []
        self._seen: set[int] = set()
        self.backend = -1
        """Device of the weights and caches created now (a multi-device replay sets it per layer)."""
        self.layer_backend = -1
        """Device llama.cpp forces a layer's ``norm`` nodes onto (``graph_get_cb``), or -1."""

    # -- creation -------------------------------------------------------------------
    def new(self, type_: str, *ne: int, op: str = "none", src: tuple[Tensor, ...] = ()) -> Tensor:
        n = _ne4(ne)
        return Tensor(op, type_, n, _strides(type_, n), src)

    def weight(self, *ne: int, type_: str = "f16") -> Tensor:
        t = self.cache(*ne, type_=type_)
        t.weights = True
        return t

    def cache(self, *ne: int, type_: str = "f16") -> Tensor:
        """A tensor in a buffer of its own that is not a weight (KV cache, recurrent state)."""
        t = self.new(type_, *ne)
        t.external = True
        t.backend = self.backend
        return t

    def input(self, type_: str, *ne: int, name: str = "") -> Tensor:
        t = self.new(type_, *ne)
        t.input = True
        t.name = name
        return t

    def view(
        self,
        a: Tensor,
        ne: tuple[int, ...],
        nb: tuple[int, ...] | None = None,
        offset: int = 0,
        op: str = "view",
    ) -> Tensor:
        n = _ne4(ne)
        if nb is None:
            strides = _strides(a.type, n)
        else:
            s = tuple(nb) + (0,) * (4 - len(nb))
            strides = (TYPES[a.type][1], s[1], s[2], s[3])
            # fill trailing strides ggml computes from the last given one
            if len(nb) < 4:
                st = list(strides)
                for i in range(len(nb), 4):
                    st[i] = st[i - 1] * n[i - 1]
                strides = (st[0], st[1], st[2], st[3])
        base = a.view_src or a
        return Tensor(op, a.type, n, strides, (a,), base, a.view_offs + offset, external=False)

    def reshape(self, a: Tensor, *ne: int) -> Tensor:
        return self.view(a, ne, op="reshape")

    def permute(self, a: Tensor, *axes: int) -> Tensor:
        ne = [0, 0, 0, 0]
        nb = [0, 0, 0, 0]
        for i, ax in enumerate(axes):
            ne[ax] = a.ne[i]
            nb[ax] = a.nb[i]
        base = a.view_src or a
        return Tensor(
            "permute",
            a.type,
            _ne4(tuple(ne)),
            (nb[0], nb[1], nb[2], nb[3]),
            (a,),
            base,
            a.view_offs,
        )

    def transpose(self, a: Tensor) -> Tensor:
        return self.permute(a, 1, 0, 2, 3)

    def op(self, name: str, type_: str, ne: tuple[int, ...], *src: Tensor | None) -> Tensor:
        return self.new(type_, *ne, op=name, src=tuple(s for s in src if s is not None))

    def same(self, name: str, a: Tensor, *src: Tensor | None) -> Tensor:
        """An elementwise op: the shape of ``a`` (contiguous), f32 unless ``a`` is."""
        return self.op(name, a.type if a.type in ("f32", "f16") else "f32", a.ne, a, *src)

    # -- ops --------------------------------------------------------------------------
    def mul_mat(self, w: Tensor, x: Tensor) -> Tensor:
        return self.op("mul_mat", "f32", (w.ne[1], x.ne[1], x.ne[2], x.ne[3]), w, x)

    def get_rows(self, a: Tensor, idx: Tensor) -> Tensor:
        return self.op("get_rows", "f32", (a.ne[0], idx.ne[0], idx.ne[1], idx.ne[2]), a, idx)

    def cont(self, a: Tensor, *ne: int) -> Tensor:
        return self.op("cont", a.type, ne or a.ne, a)

    def set_rows(self, dst: Tensor, src: Tensor, idx: Tensor) -> Tensor:
        """Rows of ``src`` written into ``dst``: the result is a view of ``dst``."""
        base = dst.view_src or dst
        return Tensor("set_rows", dst.type, dst.ne, dst.nb, (dst, src, idx), base, dst.view_offs)

    def into(self, name: str, dst: Tensor, *src: Tensor) -> Tensor:
        """An op that writes into ``dst`` (``ggml_cpy``, ``ggml_*_inplace``): a view of it."""
        base = dst.view_src or dst
        return Tensor(name, dst.type, dst.ne, dst.nb, src, base, dst.view_offs)

    def cpy(self, a: Tensor, type_: str) -> Tensor:
        return self.op("cpy", type_, a.ne, a)

    # -- ordering ---------------------------------------------------------------------
    def expand(self, t: Tensor) -> None:
        if id(t) in self._seen:
            return
        self._seen.add(id(t))
        for s in t.src:
            self.expand(s)
        if t.op == "none":
            self.leafs.append(t)
        else:
            self.nodes.append(t)


@dataclass
class _Allocator:
    """``ggml_dyn_tallocr``: free blocks sorted by offset, best fit, last block grows."""

    blocks: list[list[int]] = field(default_factory=lambda: [[0, 1 << 62]])
    max_size: int = 0

    def alloc(self, size: int) -> int:
        size = -(-size // ALIGNMENT) * ALIGNMENT
        best, best_size = -1, None
        for i, (_, bsize) in enumerate(self.blocks[:-1]):
            if bsize >= size and (best_size is None or bsize <= best_size):
                best, best_size = i, bsize
        if best == -1:
            best = len(self.blocks) - 1
        b = self.blocks[best]
        addr = b[0]
        b[0] += size
        b[1] -= size
        if b[1] == 0:
            del self.blocks[best]
        self.max_size = max(self.max_size, addr + size)
        return addr

    def free(self, offset: int, size: int) -> None:
        size = -(-size // ALIGNMENT) * ALIGNMENT
        bl = self.blocks
        for i, b in enumerate(bl):
            if b[0] + b[1] == offset:
                b[1] += size
                if i < len(bl) - 1 and b[0] + b[1] == bl[i + 1][0]:
                    b[1] += bl[i + 1][1]
                    del bl[i + 1]
                return
            if offset + size == b[0]:
                b[0] = offset
                b[1] += size
                if i > 0 and bl[i - 1][0] + bl[i - 1][1] == b[0]:
                    bl[i - 1][1] += b[1]
                    del bl[i]
                return
        j = 0
        while j < len(bl) and bl[j][0] < offset:
            j += 1
        bl.insert(j, [offset, size])


def work_size(g: Graph) -> int:
    """Bytes of the CPU backend's work buffer the graph writes (``ggml_graph_plan`` in
    ``ggml-cpu.c``): the largest matrix multiply whose f32 input must first be converted to
    its weight's ``vec_dot_type`` (without flash attention: the softmaxed scores converted to
    the V cache's type for ``kqv``).  The buffer is a plain heap block (``new uint8_t[]``)
    kept across graphs and regrown only when a larger plan needs it, so the pages touched
    are those of the largest conversion; per-thread scratch of a few KiB is left out."""
    peak = 0
    for t in g.nodes:
        if t.op == "mul_mat":
            w, x = t.src[0], t.src[1]
            vec = VEC_DOT.get(w.type, "f16")
            if x.type != vec:
                blck, size = _VEC_DOT_TYPES[vec]
                peak = max(peak, x.ne[0] // blck * size * x.ne[1] * x.ne[2] * x.ne[3])
    return -(-peak // 64) * 64


def reserve(g: Graph) -> int:
    """Bytes ``ggml_gallocr_reserve`` sizes the compute buffer to for graph ``g``
    (``ggml_gallocr_alloc_graph_impl``: leafs, then inputs, then every node in order, its
    sources freed after their last reader)."""
    return reserve_n(g.leafs, g.nodes)[0]


def reserve_n(
    leafs: list[Tensor],
    nodes: list[Tensor],
    leaf_bufs: list[int] | None = None,
    node_bufs: list[int] | None = None,
    n_buffers: int = 1,
) -> list[int]:
    """``ggml_gallocr_reserve_n``: one allocator per buffer (device), each tensor placed in
    the buffer of its leaf/node id (an in-place result in its parent's); the size of each."""
    mems = [_Allocator() for _ in range(n_buffers)]

    def free_extra(parent: Tensor, node: Tensor, offset: int) -> None:
        ps = -(-parent.nbytes // ALIGNMENT) * ALIGNMENT
        ns = -(-node.nbytes // ALIGNMENT) * ALIGNMENT
        if ps > ns:
            mems[parent.buf].free(offset + ns, ps - ns)

    def allocate(t: Tensor, b: int) -> None:
        if t.external or t.allocated or t.view_src is not None:
            return
        t.allocated = True
        if t.op in INPLACE:
            for p in t.src:
                if not p.allocated or p.external:
                    continue
                if p.output or (p.view_src is not None and p.view_src.output):
                    continue
                if not t.same_layout(p):
                    continue
                if p.n_children == 1 and p.n_views == 0:
                    vs = p.view_src
                    if vs is not None:
                        if vs.n_views == 1 and vs.n_children == 0 and p.view_offs == 0:
                            t.offset, t.buf = vs.offset, vs.buf
                            p.allocated = False
                            vs.allocated = False
                            free_extra(vs, t, vs.offset)
                            return
                    else:
                        t.offset, t.buf = p.offset, p.buf
                        p.allocated = False
                        free_extra(p, t, p.offset)
                        return
        t.buf = b
        t.offset = mems[b].alloc(t.nbytes)

    def free(t: Tensor) -> None:
        if not t.output:
            mems[t.buf].free(t.offset, t.nbytes)
            t.allocated = False

    for i, leaf in enumerate(leafs):
        allocate(leaf, leaf_bufs[i] if leaf_bufs else 0)
    for i, node in enumerate(nodes):
        # a GGML_OP_NONE node with a view_src is the scheduler's dependency marker, not a view
        if node.view_src is not None and node.op != "none":
            node.view_src.n_views += 1
        b = node_bufs[i] if node_bufs else 0
        if node.input:
            allocate(node, b)
        for src in node.src:
            src.n_children += 1
            if src.input:
                allocate(src, b)
    for i, node in enumerate(nodes):
        b = node_bufs[i] if node_bufs else 0
        for src in node.src:
            allocate(src, b)
        allocate(node, b)
        for p in node.src:
            p.n_children -= 1
            if p.n_children == 0 and p.n_views == 0:
                vs = p.view_src
                if vs is not None:
                    vs.n_views -= 1
                    if vs.n_views == 0 and vs.n_children == 0 and vs.allocated:
                        free(vs)
                elif p.allocated:
                    free(p)
    return [m.max_size for m in mems]
