"""Render a :class:`DeployPlan` as exact, runnable commands and files for each target."""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from typing import Any

import yaml

from llmatlas.deploy._plan import VLLM_QUANTIZATION, DeployPlan
from llmatlas.errors import BadInputError
from llmatlas.i18n import _
from llmatlas.sizing import GiB

VLLM_IMAGE = "vllm/vllm-openai:v0.10.0"
TGI_VERSION = "3.3.5"
TGI_IMAGE = f"ghcr.io/huggingface/text-generation-inference:{TGI_VERSION}"
VLLM_PORT = 8000
LLAMA_PORT = 8080
RAY_PORT = 6379
TGI_KV = {"fp8": "fp8_e4m3fn"}
TGI_QUANTIZE = {"AWQ-4BIT": "awq", "GPTQ-4BIT": "gptq", "FP8": "fp8"}


@dataclass
class Step:
    title: str
    commands: list[list[str]]  # argv lists (rendered with shlex.join)
    where: str = ""  # "head", "every worker", ... ("" = this machine)
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Recipe:
    target: str
    plan: DeployPlan
    steps: list[Step]
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def commands(self) -> list[list[str]]:
        return [c for s in self.steps for c in s.commands]

    def shell(self) -> str:
        """The steps as a shell script body (comments say where each runs)."""
        out: list[str] = []
        for s in self.steps:
            where = "  [" + _("on {where}").format(where=s.where) + "]" if s.where else ""
            out.append(f"# {s.title}{where}")
            prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in s.env.items())
            for c in s.commands:
                out.append((prefix + " " if prefix else "") + _join(c))
            out.append("")
        return "\n".join(out).rstrip() + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "plan": self.plan.to_dict(),
            "steps": [
                {
                    "title": s.title,
                    "where": s.where,
                    "env": s.env,
                    "commands": s.commands,
                    "shell": [_join(c) for c in s.commands],
                }
                for s in self.steps
            ],
            "files": self.files,
            "notes": self.notes,
        }


def _quote(tok: str) -> str:
    """shlex.quote, except ``$PWD``-style paths stay expandable (double quotes)."""
    if tok.startswith("$PWD") and not any(c in tok for c in '"`\\'):
        return f'"{tok}"'
    return shlex.quote(tok)


def _join(argv: list[str]) -> str:
    """Shell-quoted, wrapped before each flag when long."""
    line = " ".join(_quote(t) for t in argv)
    if len(line) <= 100:
        return line
    parts: list[str] = []
    for tok in argv:
        q = _quote(tok)
        if tok.startswith("-") and parts:
            parts.append(" \\\n    " + q)
        else:
            parts.append((" " if parts else "") + q)
    return "".join(parts)


def _header(p: DeployPlan, comment: str = "#") -> str:
    lines = [
        _("llmatlas deploy plan for {model} ({quant}, {ctx} tokens):").format(
            model=p.model, quant=p.quant, ctx=f"{p.context:,}"
        )
    ]
    lines += p.summary()
    return "\n".join(f"{comment} {x}" for x in lines) + "\n"


# --- llama.cpp family -------------------------------------------------------------------


def _ngl(p: DeployPlan) -> int:
    """Offload count: all blocks plus the output layer when everything fits."""
    return p.total_layers + 1 if p.gpu_layers >= p.total_layers else p.gpu_layers


def render_llama_cpp(p: DeployPlan) -> Recipe:
    argv = [
        "llama-server",
        "-hf",
        f"{p.gguf_repo}:{p.quant}",
        "-ngl",
        str(_ngl(p)),
        "-c",
        str(p.context * p.parallel_slots),
        "-np",
        str(p.parallel_slots),
    ]
    if p.kv_type != "f16":
        argv += ["--flash-attn", "on", "--cache-type-k", p.kv_type, "--cache-type-v", p.kv_type]
    argv += ["--host", "127.0.0.1", "--port", str(LLAMA_PORT), "--alias", p.model]
    notes = [
        _("-c is the total context: {ctx} tokens x {slots} slot(s)").format(
            ctx=f"{p.context:,}", slots=p.parallel_slots
        ),
        _("--host 127.0.0.1 keeps it local; use 0.0.0.0 plus --api-key to expose it"),
    ]
    if p.kv_type != "f16":
        notes.append(_("a quantized V cache needs flash attention (--flash-attn on)"))
    return Recipe(
        "llama.cpp", p, [Step(_("serve (OpenAI-compatible API on port 8080)"), [argv])], notes=notes
    )


def render_ollama(p: DeployPlan) -> Recipe:
    modelfile = _header(p) + (
        f"FROM hf.co/{p.gguf_repo}:{p.quant}\n"
        f"PARAMETER num_ctx {p.context}\n"
        f"PARAMETER num_gpu {_ngl(p)}\n"
    )
    env: dict[str, str] = {}
    if p.parallel_slots > 1:
        env["OLLAMA_NUM_PARALLEL"] = str(p.parallel_slots)
    if p.kv_type != "f16":
        env["OLLAMA_FLASH_ATTENTION"] = "1"
        env["OLLAMA_KV_CACHE_TYPE"] = p.kv_type
    steps = []
    if env:
        steps.append(
            Step(_("start the server with these settings"), [["ollama", "serve"]], env=env)
        )
    steps.append(
        Step(
            _("create the model from the Modelfile"),
            [["ollama", "create", p.model, "-f", "Modelfile"]],
        )
    )
    steps.append(Step(_("chat with it"), [["ollama", "run", p.model]]))
    notes = [_("num_gpu is the number of layers Ollama offloads to the GPU (blocks + output)")]
    if p.parallel_slots > 1:
        notes.append(_("Ollama allocates num_ctx for each of OLLAMA_NUM_PARALLEL requests"))
    return Recipe("ollama", p, steps, files={"Modelfile": modelfile}, notes=notes)


def render_lmstudio(p: DeployPlan) -> Recipe:
    if p.gpu_layers >= p.total_layers and p.gpu_bytes:
        gpu = "max"
    elif not p.gpu_bytes or not p.gpu_layers:
        gpu = "off"
    else:
        gpu = f"{p.gpu_layers / p.total_layers:.2f}"
    get = ["lms", "get", f"https://huggingface.co/{p.gguf_repo}@{p.quant.lower()}"]
    load = [
        "lms",
        "load",
        p.gguf_repo or "",
        "--context-length",
        str(p.context),
        "--gpu",
        gpu,
        "--identifier",
        p.model,
    ]
    notes = [_("--gpu is the fraction of the model offloaded (0-1, off or max)")]
    if p.parallel_slots > 1:
        notes.append(_("lms load has no parallel-slots option; requests are served one at a time"))
    return Recipe(
        "lmstudio",
        p,
        [
            Step(_("download the GGUF"), [get]),
            Step(_("load it with the planned context and offload"), [load]),
            Step(_("serve the OpenAI-compatible API (port 1234)"), [["lms", "server", "start"]]),
        ],
        notes=notes,
    )


# --- vLLM family ------------------------------------------------------------------------


def vllm_args(p: DeployPlan) -> list[str]:
    """Arguments after ``vllm serve`` (the repo first)."""
    args = [
        p.hf_repo,
        "--served-model-name",
        p.model,
        "--tensor-parallel-size",
        str(p.tensor_parallel),
    ]
    if p.pipeline_parallel > 1:
        args += ["--pipeline-parallel-size", str(p.pipeline_parallel)]
    args += [
        "--max-model-len",
        str(p.context),
        "--gpu-memory-utilization",
        "0.9",
        "--max-num-seqs",
        str(p.max_num_seqs),
    ]
    q = VLLM_QUANTIZATION.get(p.quant)
    if q:
        args += ["--quantization", q]
    if p.kv_type == "fp8":
        args += ["--kv-cache-dtype", "fp8"]
    if p.nodes > 1:
        args += ["--distributed-executor-backend", "ray"]
    args += ["--host", "0.0.0.0", "--port", str(VLLM_PORT)]
    return args


def render_vllm(p: DeployPlan) -> Recipe:
    serve = ["vllm", "serve", *vllm_args(p)]
    notes = list(p.notes)
    if p.nodes == 1:
        return Recipe(
            "vllm", p, [Step(_("serve (OpenAI-compatible API on port 8000)"), [serve])], notes=notes
        )
    steps = [
        Step(
            _("same vLLM version, model cache path and HF_TOKEN on every node; pre-download"),
            [["huggingface-cli", "download", p.hf_repo]],
            where=_("every node"),
        ),
        Step(
            _("start the Ray head"),
            [["ray", "start", "--head", f"--port={RAY_PORT}"]],
            where=_("the head node"),
        ),
        Step(
            _("join the cluster (HEAD_IP = the head node's address)"),
            [["ray", "start", f"--address=HEAD_IP:{RAY_PORT}"]],
            where=_("each of the {n} worker node(s)").format(n=p.nodes - 1),
        ),
        Step(
            _("check: {n} GPUs in the cluster").format(n=p.gpus),
            [["ray", "status"]],
            where=_("the head node"),
        ),
        Step(
            _(
                "serve: pipeline parallel {pp} across nodes, tensor parallel {tp} within each"
            ).format(pp=p.pipeline_parallel, tp=p.tensor_parallel),
            [serve],
            where=_("the head node"),
        ),
    ]
    notes.append(
        _(
            "set NCCL_SOCKET_IFNAME/GLOO_SOCKET_IFNAME to the interface linking the nodes "
            "if they have several"
        )
    )
    return Recipe("vllm", p, steps, notes=notes)


def render_tgi(p: DeployPlan) -> Recipe:
    launcher = [
        "--model-id",
        p.hf_repo,
        "--num-shard",
        str(p.tensor_parallel),
        "--max-input-tokens",
        str(p.context - 1),
        "--max-total-tokens",
        str(p.context),
    ]
    q = TGI_QUANTIZE.get(p.quant)
    if q:
        launcher += ["--quantize", q]
    if p.kv_type in TGI_KV:
        launcher += ["--kv-cache-dtype", TGI_KV[p.kv_type]]
    if p.max_num_seqs:
        launcher += ["--max-concurrent-requests", str(max(p.max_num_seqs, 1))]
    docker = [
        "docker",
        "run",
        "--gpus",
        "all",
        "--shm-size",
        "1g",
        "-p",
        "8080:80",
        "-e",
        "HF_TOKEN",
        "-v",
        "$PWD/data:/data",
        TGI_IMAGE,
        *launcher,
    ]
    return Recipe(
        "tgi",
        p,
        [
            Step(_("serve with Docker (API on port 8080)"), [docker]),
            Step(
                _("or, with TGI installed locally"),
                [["text-generation-launcher", *launcher, "--port", "8080"]],
            ),
        ],
        notes=[*p.notes, _("$PWD/data is the weights cache; HF_TOKEN for gated repositories")],
    )


# --- Kubernetes -------------------------------------------------------------------------


def _name(p: DeployPlan) -> str:
    return "".join(c if c.isalnum() else "-" for c in p.model.lower()).strip("-")[:50]


def _pvc_size(p: DeployPlan) -> str:
    return f"{math.ceil(p.checkpoint_bytes * 1.2 / GiB) + 10}Gi"


def _shm(p: DeployPlan) -> str:
    return "16Gi" if p.gpus > 1 else "4Gi"


def _vllm_container(
    p: DeployPlan,
    name: str,
    gpus: int,
    args: list[str] | None = None,
    command: list[str] | None = None,
) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": name,
        "image": VLLM_IMAGE,
        "command": command or ["vllm", "serve"],
        "args": args if args is not None else vllm_args(p),
        "env": [
            {
                "name": "HF_TOKEN",
                "valueFrom": {
                    "secretKeyRef": {"name": "hf-token", "key": "token", "optional": True}
                },
            }
        ],
        "ports": [{"containerPort": VLLM_PORT, "name": "http"}],
        "resources": {
            "requests": {"nvidia.com/gpu": str(gpus)},
            "limits": {"nvidia.com/gpu": str(gpus)},
        },
        "volumeMounts": [
            {"name": "model-cache", "mountPath": "/root/.cache/huggingface"},
            {"name": "dshm", "mountPath": "/dev/shm"},
        ],
    }
    return c


def _probe() -> dict[str, Any]:
    return {
        "httpGet": {"path": "/health", "port": VLLM_PORT},
        "initialDelaySeconds": 60,
        "periodSeconds": 10,
        "failureThreshold": 60,
    }


def _volumes(p: DeployPlan, pvc: bool = True) -> list[dict[str, Any]]:
    cache: dict[str, Any] = (
        {"name": "model-cache", "persistentVolumeClaim": {"claimName": f"{_name(p)}-weights"}}
        if pvc
        else {"name": "model-cache", "emptyDir": {}}
    )
    return [cache, {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": _shm(p)}}]


def _pvc(p: DeployPlan) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": f"{_name(p)}-weights"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": _pvc_size(p)}},
        },
    }


def _service(p: DeployPlan, selector: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": _name(p)},
        "spec": {
            "selector": selector,
            "ports": [{"name": "http", "port": VLLM_PORT, "targetPort": VLLM_PORT}],
        },
    }


def _dump(docs: list[dict[str, Any]], p: DeployPlan) -> str:
    return _header(p) + "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)


def k8s_docs(p: DeployPlan) -> list[dict[str, Any]]:
    name = _name(p)
    labels = {"app": name}
    if p.nodes == 1:
        container = _vllm_container(p, "vllm", p.gpus)
        container["readinessProbe"] = _probe()
        deploy = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "strategy": {"type": "Recreate"},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [container], "volumes": _volumes(p)},
                },
            },
        }
        return [_pvc(p), deploy, _service(p, labels)]
    # One node is not enough: a LeaderWorkerSet group of `nodes` pods, Ray inside.
    wait = (
        f"until [ \"$(ray status 2>/dev/null | grep -oE '/{p.gpus}\\.0 GPU' | head -1)\" ]; "
        "do sleep 5; done"
    )
    leader_cmd = f"ray start --head --port={RAY_PORT} && {wait} && " + shlex.join(
        ["vllm", "serve", *vllm_args(p)]
    )
    worker_cmd = f"ray start --address=$(LWS_LEADER_ADDRESS):{RAY_PORT} --block"
    leader = _vllm_container(
        p, "vllm-leader", p.tensor_parallel, args=[leader_cmd], command=["/bin/sh", "-c"]
    )
    leader["readinessProbe"] = _probe()
    worker = _vllm_container(
        p, "vllm-worker", p.tensor_parallel, args=[worker_cmd], command=["/bin/sh", "-c"]
    )
    worker.pop("ports")
    lws = {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "leaderWorkerTemplate": {
                "size": p.nodes,
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": {
                    "metadata": {"labels": {"role": "leader"}},
                    "spec": {"containers": [leader], "volumes": _volumes(p, pvc=False)},
                },
                "workerTemplate": {
                    "spec": {"containers": [worker], "volumes": _volumes(p, pvc=False)}
                },
            },
        },
    }
    svc = _service(p, {"leaderworkerset.sigs.k8s.io/name": name, "role": "leader"})
    return [lws, svc]


def render_kubernetes(p: DeployPlan) -> Recipe:
    docs = k8s_docs(p)
    notes = list(p.notes)
    if p.nodes > 1:
        notes.append(
            _(
                "multi-node: LeaderWorkerSet (install the LWS controller) with {n} pods of "
                "{tp} GPUs; weights are cached per pod (emptyDir), use a "
                "ReadWriteMany volume to share them"
            ).format(n=p.nodes, tp=p.tensor_parallel)
        )
    notes.append(
        _(
            "create the token first: kubectl create secret generic hf-token "
            "--from-literal=token=$HF_TOKEN"
        )
    )
    return Recipe(
        "kubernetes",
        p,
        [
            Step(_("apply"), [["kubectl", "apply", "-f", "vllm.yaml"]]),
            Step(
                _("reach the API"),
                [["kubectl", "port-forward", f"svc/{_name(p)}", f"{VLLM_PORT}:{VLLM_PORT}"]],
            ),
        ],
        files={"vllm.yaml": _dump(docs, p)},
        notes=notes,
    )


def kserve_docs(p: DeployPlan) -> list[dict[str, Any]]:
    container = _vllm_container(p, "kserve-container", p.gpus)
    container["readinessProbe"] = _probe()
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": _name(p),
            "annotations": {"serving.kserve.io/deploymentMode": "RawDeployment"},
        },
        "spec": {
            "predictor": {"minReplicas": 1, "containers": [container], "volumes": _volumes(p)}
        },
    }
    return [_pvc(p), isvc]


def render_kserve(p: DeployPlan) -> Recipe:
    return Recipe(
        "kserve",
        p,
        [
            Step(_("apply"), [["kubectl", "apply", "-f", "inferenceservice.yaml"]]),
            Step(_("wait until READY"), [["kubectl", "get", "inferenceservice", _name(p)]]),
        ],
        files={"inferenceservice.yaml": _dump(kserve_docs(p), p)},
        notes=[*p.notes, "a custom vLLM container in a KServe predictor (RawDeployment mode)"],
    )


def render_llmatlas(p: DeployPlan) -> Recipe:
    if p.engine == "vllm":
        if p.nodes > 1:
            raise BadInputError.translatable(
                "this plan needs vLLM across {n} nodes (Ray), which `llmatlas serve "
                "--engine vllm` does not start: use --target vllm or --target kubernetes",
                n=p.nodes,
            )
        argv = ["llmatlas", "serve", p.model, "--engine", "vllm", "--ctx", str(p.context)]
        if p.device:
            argv += ["--device", p.device]
        argv += ["--gpus", str(p.gpus), "--quant", p.quant]
        steps = [
            Step(_("install vLLM beside llmatlas"), [["pip", "install", "vllm"]]),
            Step(_("serve: vLLM underneath, OpenAI + Ollama APIs and the UI in front"), [argv]),
        ]
        notes = [*p.notes, "llmatlas starts `" + _join(["vllm", "serve", *vllm_args(p)]) + "`"]
        return Recipe("llmatlas", p, steps, notes=notes)
    argv = ["llmatlas", "serve", p.model, "--ctx", str(p.context)]
    steps = [
        Step(_("fetch the GGUF"), [["llmatlas", "pull", f"{p.model}:{p.quant}"]]),
        Step(_("serve (OpenAI- and Ollama-compatible API)"), [argv]),
    ]
    return Recipe("llmatlas", p, steps, notes=list(p.notes))


RENDERERS = {
    "ollama": render_ollama,
    "llama.cpp": render_llama_cpp,
    "lmstudio": render_lmstudio,
    "vllm": render_vllm,
    "tgi": render_tgi,
    "kubernetes": render_kubernetes,
    "kserve": render_kserve,
    "llmatlas": render_llmatlas,
}
