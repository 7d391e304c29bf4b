"""`llmatlas bench`: measured speed and memory, kept in SQLite, fed back to sizing.

Each run happens in a fresh child process so that its peak RSS is the model's
own (the child's ``VmHWM``), not the parent's.  Prefill tok/s is the prompt
tokens over the time to first token; decode tok/s is the tokens after the first
over the time after it.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
from typing import Any

from llmatlas.errors import EngineError
from llmatlas.runtime.db import connect
from llmatlas.settings import get_settings

CHILD = r"""
import json, resource, sys, time
from llama_cpp import Llama
from llmatlas.runtime._llama_log import quiet
quiet()  # errors-only log, and the AMX guard without which decode crashes on AMX CPUs

def peak_rss():
    # VmHWM belongs to this address space (reset by exec); ru_maxrss on Linux also
    # carries the parent's high-water mark across fork+exec, so prefer VmHWM.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

path, n_ctx, threads, n_prompt, n_gen = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
llm = Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, verbose=False)
words = b"the quick brown fox jumps over the lazy dog while a model reads "
# exactly n_prompt tokens: the sentence repeated (a file without a vocabulary, such as a
# synthesised conformance GGUF, gets plain token ids)
toks = llm.tokenize(words, add_bos=False) if llm.n_vocab() and llm._model.vocab_type() else []
toks = toks or [(i * 7919) % (llm.n_vocab() - 16) + 8 for i in range(97)]
prompt = (toks * (n_prompt // len(toks) + 1))[:n_prompt]
t0 = time.perf_counter(); first = None; n = 0
for tok in llm.generate(prompt, temp=0.0, top_k=1, reset=True):
    now = time.perf_counter()
    if first is None:
        first = now
    n += 1
    if n >= n_gen:
        break
end = time.perf_counter()
print(json.dumps({"ttft_s": first - t0, "pp_tps": n_prompt / (first - t0),
                  "tg_tps": (n - 1) / (end - first),
                  "peak_rss_bytes": peak_rss()}))
"""


def machine_id() -> str:
    from llmatlas.hardware import detect

    m = detect(measure=False)
    return f"{m.cpu_model} x{m.physical_cores} / {round(m.ram_bytes / 2**30)} GiB" + (
        f" / {m.gpus[0].name}" if m.gpus else ""
    )


def measure_once(
    path: str, n_ctx: int, threads: int, n_prompt: int, n_gen: int
) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, path, str(n_ctx), str(threads), str(n_prompt), str(n_gen)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise EngineError.translatable("benchmark run failed: {tail}", tail=tail)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def load_calibration(machine: str | None = None) -> dict[str, float] | None:
    s = get_settings()
    if not s.db_path.exists():
        return None
    try:
        conn = connect(s.db_path)
    except Exception:
        return None
    try:
        row = conn.execute(
            "SELECT decode_efficiency, prefill_efficiency FROM calibration WHERE machine=?",
            (machine or machine_id(),),
        ).fetchone()
    finally:
        conn.close()
    return dict(row) if row else None


def run_bench(
    model: str | None,
    runs: int,
    n_prompt: int,
    n_gen: int,
    n_ctx: int,
    threads: int,
    compare_estimate: bool,
) -> dict[str, Any]:
    from llmatlas.runtime.engines import default_threads
    from llmatlas.runtime.store import ModelStore

    store = ModelStore()
    stored = store.resolve(model)
    threads = threads or default_threads()
    if n_prompt + n_gen > n_ctx:
        n_ctx = n_prompt + n_gen
    results = [measure_once(str(stored.path), n_ctx, threads, n_prompt, n_gen) for _ in range(runs)]

    def med(k: str) -> float:
        return statistics.median(r[k] for r in results)

    def spread(k: str) -> float:
        vals = [r[k] for r in results]
        return max(vals) - min(vals)

    machine = machine_id()
    out: dict[str, Any] = {
        "model": stored.name,
        "catalog_id": stored.catalog_id,
        "quant": stored.quant,
        "engine": "llama.cpp",
        "machine": machine,
        "platform": platform.platform(),
        "n_ctx": n_ctx,
        "threads": threads,
        "prompt_tokens": n_prompt,
        "gen_tokens": n_gen,
        "runs": runs,
        "pp_tps": med("pp_tps"),
        "pp_tps_spread": spread("pp_tps"),
        "tg_tps": med("tg_tps"),
        "tg_tps_spread": spread("tg_tps"),
        "ttft_s": med("ttft_s"),
        "peak_rss_bytes": int(max(r["peak_rss_bytes"] for r in results)),
        "gpu_bytes": None,
        "est_tg_tps": None,
        "est_pp_tps": None,
        "est_total_bytes": None,
    }
    entry = store.catalog.data.models.get(stored.catalog_id or "")
    if compare_estimate and entry is not None and entry.architecture is not None and stored.quant:
        from llmatlas.advisor import Target, estimate
        from llmatlas.hardware import detect
        from llmatlas.sizing.speed import DEFAULT_DECODE_EFFICIENCY, DEFAULT_PREFILL_EFFICIENCY

        target = Target.from_machine(detect())
        est = estimate(entry, target, stored.quant, n_ctx, 1, calibration=None)
        filled = n_prompt + n_gen
        from llmatlas.runtime._llama_log import has_amx
        from llmatlas.sizing import estimate_memory, get_format

        mem = estimate_memory(
            entry.architecture,
            get_format(stored.quant),
            n_ctx,
            filled=filled,
            cpu_repack=not has_amx(),  # this process's loads: no repacking where AMX is
        )
        out["est_tg_tps"], out["est_pp_tps"] = est.decode_tps, est.prefill_tps
        out["est_total_bytes"] = mem.peak_rss_bytes
        d0 = DEFAULT_DECODE_EFFICIENCY[target.kind]
        p0 = DEFAULT_PREFILL_EFFICIENCY[target.kind]
        cal = {
            "decode_efficiency": d0 * out["tg_tps"] / est.decode_tps,
            "prefill_efficiency": p0 * out["pp_tps"] / est.prefill_tps,
        }
        out["calibration"] = cal
        conn = store.conn
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO calibration (machine, decode_efficiency, prefill_efficiency)"
                " VALUES (?,?,?)",
                (machine, cal["decode_efficiency"], cal["prefill_efficiency"]),
            )
    with store.conn:
        store.conn.execute(
            "INSERT INTO bench_runs (model, catalog_id, quant, engine, machine, n_ctx, threads, prompt_tokens,"
            " gen_tokens, runs, pp_tps, pp_tps_spread, tg_tps, tg_tps_spread, ttft_s, peak_rss_bytes,"
            " gpu_bytes, est_tg_tps, est_pp_tps, est_total_bytes) VALUES"
            " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                out["model"],
                out["catalog_id"],
                out["quant"],
                "llama.cpp",
                machine,
                n_ctx,
                threads,
                n_prompt,
                n_gen,
                runs,
                out["pp_tps"],
                out["pp_tps_spread"],
                out["tg_tps"],
                out["tg_tps_spread"],
                out["ttft_s"],
                out["peak_rss_bytes"],
                None,
                out["est_tg_tps"],
                out["est_pp_tps"],
                out["est_total_bytes"],
            ),
        )
    return out


def bench_history(limit: int = 100) -> list[dict[str, Any]]:
    conn = connect(get_settings().db_path)
    try:
        rows = conn.execute(
            "SELECT * FROM bench_runs ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [dict(r) for r in rows]
    finally:
        conn.close()
