"""Sentence embeddings from a GGUF model: token ids in, one unit-length vector per input out.

Inputs are token ids (text is tokenized first) so that the OpenAI API's token-array inputs
and the Ollama API's strings take the same path.  An input longer than the context is an
error (never silently cut) unless the caller asks to truncate, as Ollama's ``truncate`` does.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

from llmatlas.errors import BadInputError, EngineError
from llmatlas.runtime.batching import utf8


class Embedder:
    """A llama.cpp context in embedding mode with mean pooling; calls are serialised.

    Built on llama.cpp's own API rather than ``Llama(embedding=True)`` so that token ids go
    in as they are (OpenAI's token-array inputs) and one batch holds a whole input.
    """

    def __init__(self, path: Path, n_ctx: int = 2048, n_threads: int = 0) -> None:
        import llama_cpp as L
        from llama_cpp import _internals

        from llmatlas.runtime._llama_log import quiet
        from llmatlas.runtime.engines import default_threads

        quiet()
        mparams = L.llama_model_default_params()  # quiet() made these AMX-safe
        try:
            self.model: Any = _internals.LlamaModel(
                path_model=str(path), params=mparams, verbose=False
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise EngineError(f"llama.cpp could not load {Path(path).name}: {exc}") from None
        train = self.model.n_ctx_train()
        self.n_ctx = min(n_ctx, train) if train > 0 else n_ctx
        cparams = L.llama_context_default_params()
        cparams.n_ctx = cparams.n_batch = cparams.n_ubatch = self.n_ctx  # one input, one batch
        cparams.n_seq_max = 1
        cparams.embeddings = True
        cparams.pooling_type = L.LLAMA_POOLING_TYPE_MEAN
        threads = n_threads or default_threads()
        cparams.n_threads = cparams.n_threads_batch = threads
        self.ctx: Any = _internals.LlamaContext(model=self.model, params=cparams, verbose=False)
        self.dim = int(self.model.n_embd())
        self.n_vocab = int(self.model.n_vocab())
        self.batch = L.llama_batch_init(self.n_ctx, 0, 1)
        self._lock = threading.Lock()

    def tokenize(self, text: str) -> list[int]:
        return list(self.model.tokenize(utf8(text), True, False))

    def check_tokens(self, tokens: list[int], truncate: bool = False) -> list[int]:
        """The ids to embed: non-empty, within the vocabulary and the context."""
        if not tokens:
            raise BadInputError("input: an empty input has no embedding")
        bad = [t for t in tokens if not 0 <= t < self.n_vocab]
        if bad:
            raise BadInputError(
                f"input: token id {bad[0]} is outside the vocabulary (0..{self.n_vocab - 1})"
            )
        if len(tokens) > self.n_ctx:
            if not truncate:
                raise BadInputError(
                    f"input is {len(tokens)} tokens; this model embeds at most {self.n_ctx} "
                    "tokens per input; shorten it"
                )
            tokens = tokens[: self.n_ctx]
        return tokens

    def embed(self, inputs: list[list[int]], normalize: bool = True) -> list[list[float]]:
        """One mean-pooled vector per token list (unit length when ``normalize``)."""
        import llama_cpp as L

        out = []
        with self._lock:
            mem = L.llama_get_memory(self.ctx.ctx)
            b = self.batch
            for tokens in inputs:
                for i, tok in enumerate(tokens):
                    b.token[i] = tok
                    b.pos[i] = i
                    b.n_seq_id[i] = 1
                    b.seq_id[i][0] = 0
                    b.logits[i] = True
                b.n_tokens = len(tokens)
                L.llama_memory_clear(mem, True)
                rc = L.llama_decode(self.ctx.ctx, b)
                if rc != 0:
                    raise EngineError(f"llama_decode returned {rc} while embedding")
                ptr = L.llama_get_embeddings_seq(self.ctx.ctx, 0)
                vec = [float(ptr[i]) for i in range(self.dim)]
                out.append(unit(vec) if normalize else vec)
        return out

    def close(self) -> None:
        import llama_cpp as L

        L.llama_batch_free(self.batch)
        self.ctx.close()
        self.model.close()


def unit(vec: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vec)) or 1.0
    return [x / norm for x in vec]
