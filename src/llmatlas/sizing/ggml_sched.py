"""ggml's backend scheduler, replayed: each device's compute buffer in a multi-device run.

With its layers on several devices, llama.cpp hands the worst-case graph to
``ggml_backend_sched`` (``ggml/src/ggml-backend.cpp``, llama-cpp-python 0.3.36's llama.cpp),
which

1. assigns every node a device (``ggml_backend_sched_split_graph``): pass 1, the device of
   a tensor's own buffer (weights, KV cache and views of them), graph inputs to the CPU (the
   last backend), an op to the device of its first weight (RoPE and flash attention
   excepted); pass 2, the GPU devices grow down then up over unassigned neighbours (view ops
   skipped, the CPU never grows), then any device; pass 4, views follow their source and
   unassigned sources their reader;
2. cuts the node list into splits where the device changes, and gives each split a copy, in
   its own device's buffer, of every source that lives on another device (one copy per
   tensor and device, reused by later splits on that device);
3. allocates one graph of all splits (``graph_copy``: per split, a dependency marker that
   keeps the source alive until the copy, the copy, then the split's nodes) with one
   allocator per device (:func:`llmatlas.sizing.ggml_alloc.reserve_n`).

With pipeline parallelism (``n_copies`` = ``GGML_SCHED_MAX_COPIES`` = 4: llama.cpp turns it
on when every layer and the output are offloaded to more than one device that supports
async compute and events: CUDA, RPC), every graph input and every split input exists in
``n_copies`` copies, allocated first and never freed.

Assumed, true for the devices modelled here: every device runs every op of the graph, and
no two devices share a buffer type (a device reads only its own buffers).
"""

from __future__ import annotations

from llmatlas.sizing.ggml_alloc import Graph, Tensor, reserve_n

VIEW_OPS = ("view", "reshape", "permute", "transpose")
MAX_COPIES = 4
"""``GGML_SCHED_MAX_COPIES``: input copies per device under pipeline parallelism."""


def schedule(g: Graph, n_backends: int, n_copies: int = 1) -> list[int]:
    """Compute-buffer bytes of each backend (devices in order, the CPU last) for graph ``g``,
    whose weights and caches carry their device in ``Tensor.backend``."""
    cpu = n_backends - 1
    nodes, leafs = g.nodes, g.leafs

    def get(t: Tensor | None) -> int:
        return -1 if t is None else t.sb

    def from_cur(t: Tensor) -> int:
        if t.backend >= 0:  # its own buffer, or a device the graph callback forced
            return t.backend
        vs = t.view_src
        if vs is not None and vs.external:
            return vs.backend
        if t.input:
            return cpu
        if t.op in ("rope", "flash_attn_ext"):
            return -1
        for s in t.src:
            if s.weights:
                return s.backend
        return -1

    # pass 1: pre-allocated tensors, inputs, ops with weights
    for t in leafs:
        t.sb = from_cur(t)
    for t in nodes:
        t.sb = from_cur(t)

    # pass 2: expand GPU devices down and up, then any device down and up
    def expand(order: list[Tensor], skip_cpu: bool) -> None:
        cur = -1
        for t in order:
            if t.op in VIEW_OPS:
                continue
            b = t.sb
            if b != -1:
                cur = -1 if (skip_cpu and b == cpu) else b
            elif cur != -1:
                t.sb = cur

    rev = nodes[::-1]
    expand(nodes, True)
    expand(rev, True)
    expand(nodes, False)
    expand(rev, False)

    def home(t: Tensor) -> int:
        """The device whose buffer type holds ``t`` (``ggml_backend_sched_buffer_supported``)."""
        if t.external:
            return t.backend
        if t.view_src is not None and t.view_src.external:
            return t.view_src.backend
        b = get(t)
        if b == -1 and t.view_src is not None:
            b = get(t.view_src)
        return b

    # pass 3: nodes still unassigned go where most of their inputs are
    for t in nodes:
        if t.op in VIEW_OPS or t.sb != -1:
            continue
        best, best_n = -1, -1
        for b in range(n_backends):
            n = sum(1 for s in t.src if (get(s) != -1 or get(s.view_src) != -1) and home(s) == b)
            if n > best_n:
                best, best_n = b, n
        t.sb = best

    # pass 4: views follow their source; unassigned sources their reader
    for t in nodes:
        if t.view_src is not None and t.sb == -1:
            t.sb = get(t.view_src)
        for s in t.src:
            if get(s) == -1:
                s.sb = get(s.view_src) if s.view_src is not None else t.sb
        if t.sb == -1:
            t.sb = 0

    # pass 5: splits, and a copy of every source that lives on another device
    splits: list[tuple[int, int, list[Tensor]]] = []  # (device, first node, inputs)
    copies: dict[tuple[int, int], list[Tensor]] = {}
    i = next((k for k, t in enumerate(nodes) if t.op not in VIEW_OPS), len(nodes))
    cur = nodes[i].sb if i < len(nodes) else 0
    inputs: list[Tensor] = []
    splits.append((cur, 0, inputs))
    for k in range(i, len(nodes)):
        t = nodes[k]
        if t.op in VIEW_OPS:
            continue
        b = t.sb
        new = b != cur
        if not new and inputs:
            new = any(s.weights and home(s) != cur for s in t.src)
        if new:
            cur, inputs = b, []
            splits.append((cur, k, inputs))
        srcs = list(t.src)
        for j, s in enumerate(srcs):
            if home(s) == cur:
                continue
            key = (id(s), cur)
            if key not in copies:
                made = []
                for _ in range(n_copies):
                    c = Tensor("none", s.type, s.ne, s.nb)
                    if n_copies > 1:
                        c.input = c.output = True
                    made.append(c)
                copies[key] = made
                inputs.append(s)
            srcs[j] = copies[key][0]
        t.src = tuple(srcs)

    # pass 6 (pipeline parallel): n_copies of every graph input on its device
    input_copies: list[tuple[Tensor, int]] = []
    if n_copies > 1:
        for t in leafs:
            if not t.input:
                continue
            t.output = True
            input_copies.append((t, t.sb))
            for _ in range(n_copies - 1):
                c = Tensor("none", t.type, t.ne, t.nb, input=True, output=True)
                input_copies.append((c, t.sb))

    # graph_copy: per split its input markers and copies, then its nodes
    g_nodes: list[Tensor] = []
    g_bufs: list[int] = []
    ends = [start for _, start, _ in splits[1:]] + [len(nodes)]
    for (b, start, ins), end in zip(splits, ends, strict=True):
        for s in ins:
            dep = Tensor("none", s.type, s.ne, s.nb, (s,), s.view_src or s, s.view_offs)
            g_nodes += [dep, copies[(id(s), b)][0]]
            g_bufs += [home(s), b]
        for t in nodes[start:end]:
            g_nodes.append(t)
            g_bufs.append(t.sb)
    g_leafs: list[Tensor] = []
    l_bufs: list[int] = []
    if n_copies > 1:
        for c, b in input_copies:
            g_leafs.append(c)
            l_bufs.append(b)
        for b, _, ins in splits:
            for s in ins:
                for c in copies[(id(s), b)]:
                    g_leafs.append(c)
                    l_bufs.append(b)
    for t in leafs:
        g_leafs.append(t)
        l_bufs.append(max(0, t.sb))
    return reserve_n(g_leafs, g_nodes, l_bufs, g_bufs, n_backends)
