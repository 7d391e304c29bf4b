"""Continuous batching on one llama.cpp context with several sequences.

One worker thread owns the context.  Each step it builds one ``llama_batch``:
prompt chunks of newly admitted requests (chunked prefill, up to ``n_batch``
tokens) plus one token for every request that is decoding, runs a single
``llama_decode``, then samples each sequence with its own sampler chain (its
temperature, top-k/p, min-p, penalties, seed, grammar).  Requests join and
leave between steps; a cancelled request (client gone) frees its slot at once.
Requests beyond the slots wait in a bounded queue; beyond that, ``QueueFull``.
"""

from __future__ import annotations

import codecs
import ctypes
import functools
import heapq
import itertools
import math
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import llama_cpp as L
import numpy as np
from llama_cpp import _internals

from llmatlas.errors import AtlasError, BadInputError, EngineError, OverloadedError
from llmatlas.runtime.deltas import Event, TokenLogprob
from llmatlas.runtime.engines import SamplingOptions, default_threads

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def utf8(text: str) -> bytes:
    """``text`` in UTF-8.  JSON may carry half of a surrogate pair ("\\ud83d" alone), which
    Python decodes but UTF-8 cannot hold: it becomes U+FFFD, as Go's encoding/json (Ollama)
    and the WHATWG TextEncoder replace it, not a 500."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


class QueueFull(OverloadedError):
    """More requests than slots + queue (the server admits fewer before this is reached)."""


# Retry-After bounds: whole seconds (RFC 9110 section 10.2.3), at least 1, and no promise
# beyond 10 minutes (max_tokens is an upper bound: long waits are mostly overestimates).
RETRY_AFTER_MIN_S = 1
RETRY_AFTER_MAX_S = 600
# Seconds per scheduler step before one has been measured in this process (a small model
# on a CPU; replaced by the measured figure after the first step).
DEFAULT_STEP_S = 0.05


def slot_free_steps(active_left: list[int], queued: list[int], n_slots: int) -> list[int]:
    """When each slot is free again, in steps: the running requests end after
    ``active_left`` more steps each, the ``queued`` ones (steps each, in order) take the
    first slot that frees."""
    free = sorted(active_left)[:n_slots] + [0] * max(0, n_slots - len(active_left))
    heapq.heapify(free)
    for steps in queued:
        heapq.heappush(free, heapq.heappop(free) + steps)
    return free


def start_wait_steps(active_left: list[int], queued: list[int], n_slots: int) -> int:
    """Steps until a request sent now would get a slot (the first free after the queue)."""
    return min(slot_free_steps(active_left, queued, n_slots))


def retry_after_s(wait_s: float) -> int:
    """A Retry-After value: whole seconds, rounded up, within the floor and cap."""
    return max(RETRY_AFTER_MIN_S, min(RETRY_AFTER_MAX_S, math.ceil(wait_s)))


_ids = itertools.count(1)


@dataclass
class GenRequest:
    prompt_tokens: list[int]
    sampling: SamplingOptions
    emit: Callable[[Event], None]
    id: int = field(default_factory=lambda: next(_ids))
    created: float = field(default_factory=time.perf_counter)
    cancelled: threading.Event = field(default_factory=threading.Event)
    # scheduler state
    slot: int = -1
    n_fed: int = 0  # prompt tokens already in the KV cache
    n_past: int = 0
    generated: int = 0
    last_token: int = -1
    sampler: Any = None
    decoder: Any = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )
    held: str = ""  # text withheld because it may start a stop sequence
    t_first: float | None = None
    output_ids: list[int] = field(default_factory=list)
    pending_logprobs: list[TokenLogprob] = field(default_factory=list)

    def cancel(self) -> None:
        self.cancelled.set()


@dataclass
class SchedulerStats:
    steps: int = 0
    tokens_generated: int = 0
    prompt_tokens: int = 0
    batch_sizes: deque[int] = field(default_factory=lambda: deque(maxlen=256))
    last_batch: int = 0
    step_s: float | None = None  # moving average of one step's wall time, measured here


class BatchScheduler:
    """Owns one llama.cpp model + context; serves many concurrent generations."""

    def __init__(
        self,
        model_path: Path,
        n_slots: int = 8,
        n_ctx_per_slot: int = 4096,
        n_threads: int = 0,
        n_batch: int = 512,
        queue_max: int = 64,
        n_gpu_layers: int = 0,
    ) -> None:
        if n_slots < 1 or n_ctx_per_slot < 64:
            raise BadInputError("need at least one slot and 64 tokens of context per slot")
        self.path = Path(model_path)
        self.n_slots = n_slots
        self.n_batch = n_batch
        self.queue_max = queue_max
        from llmatlas.runtime._llama_log import quiet

        quiet()
        mparams = L.llama_model_default_params()
        mparams.n_gpu_layers = n_gpu_layers
        try:
            self.model = _internals.LlamaModel(
                path_model=str(self.path), params=mparams, verbose=False
            )
        except ValueError as exc:
            raise EngineError(f"llama.cpp could not load {self.path.name}: {exc}") from None
        train = self.model.n_ctx_train()
        self.n_ctx_per_slot = min(n_ctx_per_slot, train) if train > 0 else n_ctx_per_slot
        cparams = L.llama_context_default_params()
        cparams.n_ctx = self.n_ctx_per_slot * n_slots
        cparams.n_batch = n_batch
        cparams.n_ubatch = n_batch
        cparams.n_seq_max = n_slots
        threads = n_threads or default_threads()
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.kv_unified = True
        cparams.swa_full = True
        self.ctx = _internals.LlamaContext(model=self.model, params=cparams, verbose=False)
        self.vocab = L.llama_model_get_vocab(self.model.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        self.batch = L.llama_batch_init(max(n_batch, n_slots), 0, 1)
        self.mem = L.llama_get_memory(self.ctx.ctx)
        self.metadata: dict[str, str] = self.model.metadata()
        self.waiting: deque[GenRequest] = deque()
        self.active: dict[int, GenRequest] = {}
        self.free_slots = list(range(n_slots))
        self.stats = SchedulerStats()
        self._cv = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="llmatlas-batcher", daemon=True)
        self._thread.start()

    # -- public API (any thread) ----------------------------------------------------
    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return self.model.tokenize(utf8(text), add_special, True)

    @functools.cached_property
    def max_piece_bytes(self) -> int:
        """The longest token's text in bytes: a prompt longer than ``n * max_piece_bytes`` bytes
        has more than ``n`` tokens, which is known without tokenizing it."""
        return max(len(self._piece(t)) for t in range(self.n_vocab)) or 1

    def detokenize(self, tokens: list[int]) -> str:
        return self.model.detokenize(tokens, special=False).decode("utf-8", errors="replace")

    @property
    def queue_depth(self) -> int:
        return len(self.waiting)

    @property
    def active_count(self) -> int:
        return len(self.active)

    def submit(self, req: GenRequest) -> None:
        n = len(req.prompt_tokens)
        if n == 0:
            raise BadInputError("the prompt is empty")
        if n >= self.n_ctx_per_slot:
            raise BadInputError(
                f"the prompt is {n} tokens; this server's context is {self.n_ctx_per_slot} tokens per "
                f"request (prompt + completion); shorten the prompt"
            )
        with self._cv:
            # slots + queue_max live requests; cancelled ones not yet reaped do not count
            everyone = [*tuple(self.active.values()), *tuple(self.waiting)]
            live = sum(not r.cancelled.is_set() for r in everyone)
            if live >= self.n_slots + self.queue_max:
                err = QueueFull(
                    f"server busy: {self.active_count} generating, {len(self.waiting)} queued"
                )
                err.retry_after = self._retry_after()
                raise err
            self.waiting.append(req)
            self._cv.notify()

    def retry_after(self) -> int:
        """Seconds until a request sent now would start generating (see :meth:`_retry_after`)."""
        with self._cv:
            return self._retry_after()

    def drain_after(self) -> int:
        """Seconds until every request running or queued now has ended (same estimate)."""
        with self._cv:
            return self._retry_after(drain=True)

    def _retry_after(self, drain: bool = False) -> int:
        """From the requests ahead: each running one ends after its remaining ``max_tokens``
        (an upper bound: most stop earlier), each queued one after its prompt's prefill
        chunks plus its ``max_tokens``; times this model's measured seconds per step.  Waiting
        for a slot rather than for the first request to end: a retry at the first end would
        find the queue as full again for all clients but one.  ``drain``: until the last
        ends instead.  Caller holds ``_cv``."""
        live = [r for r in self.active.values() if not r.cancelled.is_set()]
        left = [
            max(1, r.sampling.max_tokens - r.generated)
            + math.ceil(max(0, len(r.prompt_tokens) - r.n_fed) / self.n_batch)
            for r in live
        ]
        queued = [
            math.ceil(len(r.prompt_tokens) / self.n_batch) + r.sampling.max_tokens
            for r in self.waiting
            if not r.cancelled.is_set()
        ]
        free = slot_free_steps(left, queued, self.n_slots)
        steps = max(free) if drain else min(free)
        return retry_after_s(steps * (self.stats.step_s or DEFAULT_STEP_S))

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=30)
        for r in list(self.active.values()) + list(self.waiting):
            r.emit(Event(finish_reason="cancelled", error="server shutting down"))
        for r in list(self.active.values()):
            self._release(r)
        L.llama_batch_free(self.batch)
        self.ctx.close()
        self.model.close()

    # -- worker ---------------------------------------------------------------------
    def check_grammar(self, grammar: str) -> None:
        """A 400 for GBNF llama.cpp cannot parse, before the request is queued."""
        g = L.llama_sampler_init_grammar(self.vocab, utf8(grammar), b"root")
        if not g:
            raise BadInputError("grammar: llama.cpp cannot parse this GBNF (its rule `root` first)")
        L.llama_sampler_free(g)

    def _make_sampler(self, s: SamplingOptions) -> Any:
        params = L.llama_sampler_chain_default_params()
        chain = L.llama_sampler_chain_init(params)
        if s.grammar:
            g = L.llama_sampler_init_grammar(self.vocab, utf8(s.grammar), b"root")
            if not g:
                L.llama_sampler_free(chain)
                raise BadInputError("invalid grammar for structured output")
            L.llama_sampler_chain_add(chain, g)
        if s.repeat_penalty != 1.0:
            L.llama_sampler_chain_add(
                chain, L.llama_sampler_init_penalties(self.n_vocab, 64, s.repeat_penalty, 0.0, 0.0)
            )
        if s.temperature <= 0:
            L.llama_sampler_chain_add(chain, L.llama_sampler_init_greedy())
            return chain
        if s.top_k > 0:
            L.llama_sampler_chain_add(chain, L.llama_sampler_init_top_k(s.top_k))
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_top_p(s.top_p, 1))
        if s.min_p > 0:
            L.llama_sampler_chain_add(chain, L.llama_sampler_init_min_p(s.min_p, 1))
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_temp(s.temperature))
        seed = s.seed if s.seed is not None else L.LLAMA_DEFAULT_SEED
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        return chain

    def _admit(self) -> None:
        while self.waiting and self.free_slots:
            r = self.waiting.popleft()
            if r.cancelled.is_set():
                r.emit(Event(finish_reason="cancelled"))
                continue
            try:
                r.sampler = self._make_sampler(r.sampling)
            except Exception as exc:  # one bad request must not stop the scheduler
                msg = str(exc) if isinstance(exc, AtlasError) else f"engine error: {exc}"
                r.emit(Event(finish_reason="error", error=msg))
                continue
            r.slot = self.free_slots.pop(0)
            L.llama_memory_seq_rm(self.mem, r.slot, -1, -1)
            self.active[r.id] = r
            self.stats.prompt_tokens += len(r.prompt_tokens)

    def _release(self, r: GenRequest) -> None:
        self.active.pop(r.id, None)
        if r.slot >= 0:
            L.llama_memory_seq_rm(self.mem, r.slot, -1, -1)
            self.free_slots.append(r.slot)
            self.free_slots.sort()
            r.slot = -1
        if r.sampler is not None:
            L.llama_sampler_free(r.sampler)
            r.sampler = None

    def _add(self, i: int, token: int, pos: int, seq: int, logits: bool) -> None:
        b = self.batch
        b.token[i] = token
        b.pos[i] = pos
        b.n_seq_id[i] = 1
        b.seq_id[i][0] = seq
        b.logits[i] = logits

    def _loop(self) -> None:
        while True:
            try:
                if not self._iteration():
                    return
            except Exception as exc:  # never let the worker die: fail what is in flight
                for r in list(self.active.values()):
                    self._release(r)
                    r.emit(Event(finish_reason="error", error=f"engine error: {exc}"))

    def _iteration(self) -> bool:
        """One scheduling round; False when the scheduler is stopping."""
        with self._cv:
            while not self._stop and not self.waiting and not self.active:
                self._cv.wait()
            if self._stop:
                return False
            for r in [r for r in self.active.values() if r.cancelled.is_set()]:
                self._release(r)
                r.emit(Event(finish_reason="cancelled"))
            self._admit()
        if self.active:
            self._step()
        return True

    def _step(self) -> None:
        n = 0
        rows: list[tuple[GenRequest, int]] = []
        decoding = [r for r in self.active.values() if r.n_fed >= len(r.prompt_tokens)]
        for r in decoding:
            self._add(n, r.last_token, r.n_past, r.slot, True)
            rows.append((r, n))
            n += 1
        for r in self.active.values():
            if r.n_fed >= len(r.prompt_tokens):
                continue
            room = max(self.n_batch, self.n_slots) - n
            if room <= 0:
                break
            chunk = r.prompt_tokens[r.n_fed : r.n_fed + room]
            for j, tok in enumerate(chunk):
                last = r.n_fed + j == len(r.prompt_tokens) - 1
                self._add(n, tok, r.n_fed + j, r.slot, last)
                if last:
                    rows.append((r, n))
                n += 1
            r.n_fed += len(chunk)
            r.n_past = r.n_fed
        if n == 0:
            return
        self.batch.n_tokens = n
        t0 = time.perf_counter()
        rc = L.llama_decode(self.ctx.ctx, self.batch)
        if rc != 0:
            raise EngineError(f"llama_decode returned {rc} (context full?)")
        self.stats.steps += 1
        self.stats.last_batch = len(rows)
        self.stats.batch_sizes.append(len(rows))
        now = time.perf_counter()
        for r, idx in rows:
            if r.cancelled.is_set():
                continue
            if self._greedy(r.sampling):
                # argmax straight from the logits row: the sampler chain would first copy
                # all vocab entries into a candidates array (a visible cost at 262k vocab)
                ptr = L.llama_get_logits_ith(self.ctx.ctx, idx)
                tok = int(np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).argmax())
            else:
                tok = L.llama_sampler_sample(r.sampler, self.ctx.ctx, idx)
            r.last_token = tok
            if r.t_first is None:
                r.t_first = now
            if L.llama_vocab_is_eog(self.vocab, tok):
                self._finish(r, "stop")
                continue
            if r.sampling.logprobs is not None:
                r.pending_logprobs.append(self._logprob(idx, tok, r.sampling.logprobs))
            r.output_ids.append(tok)
            r.generated += 1
            r.n_past += 1 if r.generated > 1 else 0
            self.stats.tokens_generated += 1
            piece = self._piece(tok)
            text = r.decoder.decode(piece)
            done = self._emit_text(r, text, tok)
            if done:
                continue
            if r.generated >= r.sampling.max_tokens or r.n_past + 1 >= self.n_ctx_per_slot:
                self._finish(r, "length")
        took = time.perf_counter() - t0
        prev = self.stats.step_s
        self.stats.step_s = took if prev is None else 0.8 * prev + 0.2 * took

    def _logprob(self, idx: int, tok: int, top: int) -> TokenLogprob:
        """Log-softmax of the logits row ``idx`` at ``tok``, and the ``top`` best tokens."""
        ptr = L.llama_get_logits_ith(self.ctx.ctx, idx)
        row = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).astype(np.float64)
        peak = row.max()
        lse = peak + np.log(np.exp(row - peak).sum())
        best: tuple[tuple[int, bytes, float], ...] = ()
        if top:
            ids = np.argpartition(-row, top)[:top]
            ids = ids[np.argsort(-row[ids])]
            best = tuple((int(i), self._piece(int(i)), float(row[i] - lse)) for i in ids)
        return TokenLogprob(tok, self._piece(tok), float(row[tok] - lse), best)

    @staticmethod
    def _greedy(s: SamplingOptions) -> bool:
        return s.temperature <= 0 and not s.grammar and s.repeat_penalty == 1.0

    def _piece(self, tok: int) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = L.llama_token_to_piece(self.vocab, tok, buf, 64, 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = L.llama_token_to_piece(self.vocab, tok, buf, -n, 0, False)
        return buf.raw[:n]

    def _emit_text(self, r: GenRequest, text: str, tok: int) -> bool:
        """Send text, holding back a tail that may begin a stop sequence; True when stopped."""
        stops = r.sampling.stop
        r.held += text
        if stops:
            for s in stops:
                k = r.held.find(s)
                if k >= 0:
                    if k:
                        r.emit(Event(text=r.held[:k], token_id=tok, logprobs=self._take_lp(r)))
                    r.held = ""
                    self._finish(r, "stop")
                    return True
            keep = 0
            for s in stops:
                for m in range(min(len(s) - 1, len(r.held)), 0, -1):
                    if r.held.endswith(s[:m]):
                        keep = max(keep, m)
                        break
            out, r.held = (r.held[:-keep], r.held[-keep:]) if keep else (r.held, "")
        else:
            out, r.held = r.held, ""
        if out:
            r.emit(Event(text=out, token_id=tok, logprobs=self._take_lp(r)))
        return False

    @staticmethod
    def _take_lp(r: GenRequest) -> list[TokenLogprob]:
        out, r.pending_logprobs = r.pending_logprobs, []
        return out

    def _finish(self, r: GenRequest, reason: str) -> None:
        tail = r.held + r.decoder.decode(b"", final=True)
        r.held = ""
        ttft = (r.t_first - r.created) if r.t_first else None
        self._release(r)
        r.emit(
            Event(
                text=tail,
                finish_reason=reason,
                prompt_tokens=len(r.prompt_tokens),
                completion_tokens=r.generated,
                ttft_s=ttft,
                logprobs=self._take_lp(r),
                output_ids=list(r.output_ids),
            )
        )


def collect(
    sched: BatchScheduler, prompt: str, sampling: SamplingOptions, timeout: float = 600
) -> tuple[str, Event]:
    """Blocking helper: run one request to completion (tests, CLI)."""
    q: queue.Queue[Event] = queue.Queue()
    req = GenRequest(sched.tokenize(prompt), sampling, q.put)
    sched.submit(req)
    parts = []
    while True:
        ev = q.get(timeout=timeout)
        parts.append(ev.text)
        if ev.finish_reason:
            return "".join(parts), ev
