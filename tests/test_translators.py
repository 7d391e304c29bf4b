"""The protocol translators as plain functions: no model, no server."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest

from llmatlas.cli.server_cmds import parse_aliases
from llmatlas.errors import BadInputError
from llmatlas.runtime.deltas import Event, TokenLogprob, ToolCallDelta
from llmatlas.runtime.modelfile import Modelfile, parse_modelfile, render_parameters
from llmatlas.server.gen import ToolPlan, chat_messages, parse_tool_calls, with_tool_calls
from llmatlas.server.ollama import translate as ol
from llmatlas.server.openai import translate as oa
from llmatlas.server.openai.models import ChunkChoice, Usage
from llmatlas.server.wire import OllamaChatRequest, OllamaGenerateRequest, OllamaOptions

NAMES = ["get_weather", "get_time"]


@pytest.mark.parametrize(
    ("text", "calls"),
    [
        ('{"name": "get_weather", "arguments": {"city": "Paris"}}', [("get_weather", "Paris")]),
        (
            '[{"name": "get_weather", "arguments": {"city": "Paris"}},'
            ' {"name": "get_time", "parameters": {"city": "Oslo"}}]',
            [("get_weather", "Paris"), ("get_time", "Oslo")],
        ),
        (
            '<tool_call>{"name": "get_weather", "arguments": {"city": "A"}}</tool_call>\n'
            '<tool_call>{"name": "get_time", "arguments": {"city": "B"}}</tool_call>',
            [("get_weather", "A"), ("get_time", "B")],
        ),
        ('```json\n{"name": "get_time", "arguments": {"city": "C"}}\n```', [("get_time", "C")]),
        (
            '{"function": {"name": "get_time", "arguments": "{\\"city\\": \\"D\\"}"}}',
            [("get_time", "D")],
        ),
        ('The weather is {"name": "get_weather"}', []),
        ('{"name": "rm_rf", "arguments": {}}', []),
        ("Paris is sunny.", []),
    ],
)
def test_parse_tool_calls(text: str, calls: list[tuple[str, str]]) -> None:
    got = parse_tool_calls(text, NAMES)
    assert [(n, json.loads(a)["city"]) for n, a in got] == calls


def test_tools_reach_a_template_without_tool_syntax() -> None:
    tools = [{"type": "function", "function": {"name": "get_time", "parameters": {}}}]
    msgs = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Time in Oslo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_time", "arguments": {"city": "Oslo"}}}],
        },
        {"role": "tool", "content": "12:00", "tool_name": "get_time"},
    ]
    out = chat_messages(msgs, tools, "{{ messages }}")
    assert out[0]["role"] == "system" and "get_time" in out[0]["content"]
    assert out[0]["content"].startswith("Be brief.")
    assert json.loads(out[2]["content"]) == {"name": "get_time", "arguments": {"city": "Oslo"}}
    assert out[3] == {"role": "user", "content": "Result of get_time: 12:00"}
    # a template that writes tools itself gets the messages unchanged
    assert chat_messages(msgs, tools, "{% for t in tools %}{% endfor %}") == msgs


def test_modelfile_parse_and_render() -> None:
    mf = parse_modelfile(
        'FROM llama3.2\n# a comment\nPARAMETER temperature 0.7\nPARAMETER stop "<|a|>"\n'
        'PARAMETER stop "<|b|>"\nPARAMETER num_ctx 2048\n'
        'TEMPLATE """{{ .Prompt }}\nline two"""\nSYSTEM You are Mario.\n'
        'MESSAGE user """Hi"""\n'
    )
    assert mf.from_ == "llama3.2"
    assert mf.parameters == {"temperature": 0.7, "stop": ["<|a|>", "<|b|>"], "num_ctx": 2048}
    assert mf.template == "{{ .Prompt }}\nline two" and mf.system == "You are Mario."
    assert mf.messages == [{"role": "user", "content": "Hi"}]
    text = render_parameters(mf.parameters)
    assert 'stop                           "<|b|>"' in text and "num_ctx" in text


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("PARAMETER temperature 0.1", "FROM is required"),
        ("FROM x\nPARAMETER warmth 3", "unknown parameter"),
        ("FROM x\nPARAMETER num_ctx big", "expected int"),
        ("FROM x\nBOGUS y", "unknown instruction"),
        ('FROM x\nSYSTEM """never closed', "never closes"),
        ("FROM x\nADAPTER ./lora.gguf", "not supported"),
    ],
)
def test_modelfile_errors(text: str, why: str) -> None:
    with pytest.raises(BadInputError, match=why):
        parse_modelfile(text)


def test_ollama_options_and_system_defaults() -> None:
    mf = Modelfile("m", {"temperature": 0.1, "num_ctx": 512, "stop": ["x"]}, None, "Arr.")
    merged = ol.options_with_defaults(OllamaOptions(temperature=0.9), mf.parameters)
    assert merged.temperature == 0.9 and merged.num_ctx == 512 and merged.stop == ["x"]
    assert ol.with_system([{"role": "user", "content": "hi"}], mf)[0] == {
        "role": "system",
        "content": "Arr.",
    }
    own = [{"role": "system", "content": "mine"}]
    assert ol.with_system(own, mf) == own


def test_ollama_errors_and_paths() -> None:
    assert ol.error_body("boom") == {"error": "boom"}
    assert ol.is_ollama_path("/api/chat") and not ol.is_ollama_path("/api/atlas/models")
    assert not ol.is_ollama_path("/v1/models")
    assert ol.tool_calls([("f", '{"a": 1}'), ("g", "{}")]) == [
        {"function": {"name": "f", "arguments": {"a": 1}}},
        {"function": {"index": 1, "name": "g", "arguments": {}}},
    ]


def test_embedding_inputs_every_form() -> None:
    def tok(s: str) -> list[int]:
        return [len(w) for w in s.split()]

    assert oa.embedding_inputs("ab c", tok) == [[2, 1]]
    assert oa.embedding_inputs(["a", "bb"], tok) == [[1], [2]]
    assert oa.embedding_inputs([5, 6, 7], tok) == [[5, 6, 7]]
    assert oa.embedding_inputs([[5], [6, 7]], tok) == [[5], [6, 7]]
    for bad in ([], [""], [[]]):
        with pytest.raises(BadInputError):
            oa.embedding_inputs(bad, tok)  # type: ignore[arg-type]


def test_base64_embedding_is_little_endian_float32() -> None:
    enc = oa.encode_embedding([1.0, -0.5], "base64")
    assert isinstance(enc, str)
    assert struct.unpack("<2f", base64.b64decode(enc)) == (1.0, -0.5)
    body = oa.embedding_response("m", [[0.25]], 3).model_dump()
    assert body["data"][0]["embedding"] == [0.25] and body["usage"]["prompt_tokens"] == 3


def _lp(piece: str, lp: float) -> TokenLogprob:
    return TokenLogprob(1, piece.encode(), lp, ((1, piece.encode(), lp), (2, b"x", -9.0)))


def test_logprobs_shapes() -> None:
    chat = oa.chat_logprobs([_lp("Hi", -0.1)])
    assert chat["content"][0]["token"] == "Hi" and chat["content"][0]["bytes"] == [72, 105]
    assert [t["token"] for t in chat["content"][0]["top_logprobs"]] == ["Hi", "x"]
    legacy = oa.completion_logprobs([_lp("Hi", -0.1), _lp(" you", -0.2)], offset=5)
    assert legacy["tokens"] == ["Hi", " you"] and legacy["text_offset"] == [5, 7]
    assert legacy["top_logprobs"][1] == {" you": -0.2, "x": -9.0}


def _dumped(items: list[Any]) -> list[dict[str, Any]]:
    return [i.model_dump() for i in items]


def test_stream_of_parallel_calls_in_auto_mode() -> None:
    cs = oa.ChoiceStream(0, ToolPlan("auto", names=NAMES), logprobs=False)
    assert cs.start().model_dump()["delta"] == {"role": "assistant", "content": None}
    assert cs.feed('[{"name": "get_time", "arguments": {"city": "A"}},', []) == []
    assert cs.feed(' {"name": "get_weather", "arguments": {"city": "B"}}]', []) == []
    out = _dumped(cs.finish("stop"))
    calls = [c["delta"]["tool_calls"][0] for c in out[:-1]]
    assert [(c["index"], c["function"]["name"]) for c in calls] == [
        (0, "get_time"),
        (1, "get_weather"),
    ]
    assert all(c["id"].startswith("call-") for c in calls)
    assert out[-1]["finish_reason"] == "tool_calls"


def test_stream_text_that_only_looks_like_a_call() -> None:
    cs = oa.ChoiceStream(1, ToolPlan("auto", names=NAMES), logprobs=True)
    assert cs.feed("{not json", [_lp("{", -1.0)]) == []
    out = _dumped(cs.finish("length"))
    assert out[0]["delta"] == {"content": "{not json"}
    assert out[-1]["delta"] == {"content": None} and out[0]["logprobs"] is not None
    assert out[-1]["finish_reason"] == "length" and out[-1]["index"] == 1


def test_forced_call_streams_arguments() -> None:
    cs = oa.ChoiceStream(0, ToolPlan("forced", name="get_time", names=NAMES), logprobs=False)
    out = _dumped(cs.feed('{"city":', []) + cs.feed(' "Oslo"}', []) + cs.finish("stop"))
    args = "".join(c["delta"]["tool_calls"][0]["function"]["arguments"] for c in out[:-1])
    assert json.loads(args) == {"city": "Oslo"} and out[-1]["finish_reason"] == "tool_calls"


def test_whole_choice_with_calls() -> None:
    c = oa.chat_choice(
        0, '{"name": "get_time", "arguments": {}}', "stop", ToolPlan("auto", names=NAMES), None
    ).model_dump()
    assert c["finish_reason"] == "tool_calls" and c["message"]["content"] is None
    assert c["message"]["tool_calls"][0]["function"] == {"name": "get_time", "arguments": "{}"}
    plain = oa.chat_choice(0, "hello", "length", ToolPlan("none"), []).model_dump()
    assert plain["message"]["content"] == "hello" and plain["logprobs"] == {
        "content": [],
        "refusal": None,
    }


def test_prompt_inputs_and_fingerprint() -> None:
    assert oa.prompt_inputs("a") == ["a"]
    assert oa.prompt_inputs([1, 2]) == [[1, 2]]
    assert oa.prompt_inputs([[1], [2, 3]]) == [[1], [2, 3]]
    with pytest.raises(BadInputError):
        oa.prompt_inputs([])
    assert oa.system_fingerprint("ab" * 32) == "fp_abababababab"


def test_aliases_flag() -> None:
    assert parse_aliases(["gpt-4o=gemma-3-270m", " a = b "]) == {"gpt-4o": "gemma-3-270m", "a": "b"}
    for bad in ("nomodel", "=x", "x="):
        with pytest.raises(BadInputError, match="NAME=MODEL"):
            parse_aliases([bad])


def test_responses_request_becomes_chat() -> None:
    from llmatlas.server.openai import responses as rs

    req = rs.ResponsesRequest.model_validate(
        {
            "model": "m",
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
                {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "w", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            ],
            "tools": [{"type": "function", "name": "w", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "w"},
            "max_output_tokens": 7,
            "text": {"format": {"type": "json_object"}},
        }
    )
    chat = rs.to_chat_request(req)
    roles = [m.role for m in chat.messages]
    assert roles == ["system", "user", "assistant", "tool"]
    assert [c.id for c in chat.messages[2].tool_calls or []] == ["c1", "c2"]
    assert chat.tool_choice == {"type": "function", "function": {"name": "w"}}
    assert (
        chat.max_tokens == 7 and chat.response_format and chat.response_format.type == "json_object"
    )
    with pytest.raises(BadInputError, match="previous_response_id"):
        rs.to_chat_request(req.model_copy(update={"previous_response_id": "resp_1"}))
    with pytest.raises(BadInputError, match="input_image"):
        rs.to_chat_messages(
            rs.ResponsesRequest(
                model="m", input=[{"role": "user", "content": [{"type": "input_image"}]}]
            )
        )


def test_responses_stream_events() -> None:
    from llmatlas.server.openai import responses as rs

    req = rs.ResponsesRequest(model="m", input="hi")
    s = rs.ResponseStream(req, "resp_1", 0)
    events = s.start()
    for item in (
        {"delta": {"content": "Hel"}},
        {"delta": {"content": "lo"}},
        {
            "delta": {
                "tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": ""}}]
            }
        },
        {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}},
        {"delta": {}, "finish_reason": "tool_calls"},
    ):
        events += s.feed(ChunkChoice.model_validate({"index": 0, **item}))
    events += s.end(Usage.of(1, 2))
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    final = events[-1]["response"]
    assert events[-1]["type"] == "response.completed" and final["usage"]["output_tokens"] == 2
    assert [o["type"] for o in final["output"]] == ["message", "function_call"]
    assert final["output"][0]["content"][0]["text"] == "Hello"
    assert final["output"][1]["arguments"] == "{}" and final["output"][1]["call_id"] == "c"
    assert "response.output_text.done" in [e["type"] for e in events]
    # the output items are typed: the final object reads back into the model (extra fields
    # forbidden), and the OpenAPI schema names both item kinds
    back = rs.m.Response.model_validate(final)
    assert [type(o).__name__ for o in back.output] == ["OutputMessage", "FunctionCallItem"]
    schema = json.dumps(rs.m.Response.model_json_schema())
    assert "FunctionCallItem" in schema and "OutputText" in schema


def test_a_request_the_native_model_refuses_is_a_client_error() -> None:
    """Found by the schemathesis fuzz: values that passed one wire model but not the one it is
    translated into were 500s."""
    from pydantic import ValidationError

    from llmatlas.server.openai.responses import ResponsesRequest, to_chat_request
    from llmatlas.server.wire import OllamaOptions

    with pytest.raises(ValidationError):
        OllamaOptions(repeat_penalty=1.9e31)
    with pytest.raises(ValidationError):
        ResponsesRequest.model_validate({"model": "m", "input": "hi", "max_output_tokens": 10**16})
    long_name = ResponsesRequest.model_validate({"model": "m" * 300, "input": "hi"})
    with pytest.raises(BadInputError, match=r"^model: "):
        to_chat_request(long_name)


# ------------------------------------------- one Ollama reply over local and upstream events
def _run(evs: list[Event], tools: ToolPlan) -> list[Event]:
    async def source() -> AsyncIterator[Event]:
        for ev in evs:
            yield ev

    async def collect() -> list[Event]:
        return [ev async for ev in with_tool_calls(source(), tools)]

    return asyncio.run(collect())


def test_local_text_calls_become_tool_call_deltas() -> None:
    auto = ToolPlan("auto", names=NAMES)
    out = _run(
        [
            Event(text='{"name": "get_time", '),
            Event(text='"arguments": {"city": "Oslo"}}'),
            Event(finish_reason="stop", prompt_tokens=9, completion_tokens=12),
        ],
        auto,
    )
    assert len(out) == 1 and not out[0].text and out[0].completion_tokens == 12
    assert out[0].tool_calls == [ToolCallDelta(0, None, "get_time", '{"city": "Oslo"}')]
    # text that only looks like a call is released as text, before the finish
    out = _run([Event(text="Hi "), Event(text="{x"), Event(text="}", finish_reason="length")], auto)
    assert [e.text for e in out] == ["Hi ", "{x}"] and not out[-1].tool_calls
    forced = ToolPlan("forced", name="get_time", names=NAMES)
    out = _run([Event(text='{"city": "A"}'), Event(finish_reason="stop")], forced)
    assert out[0].tool_calls[0].name == "get_time" and out[0].tool_calls[0].arguments


def test_ollama_reply_from_events() -> None:
    chat = ol.Reply("m", chat=True, t0=0.0)
    line = chat.line(Event(text="Hel"))
    assert line is not None and line.pop("created_at").endswith("Z")
    assert line == {"model": "m", "message": {"role": "assistant", "content": "Hel"}, "done": False}
    chat.line(Event(text="lo"))
    assert chat.line(Event(tool_calls=[ToolCallDelta(0, "c1", "get_time", '{"ci')])) is None
    chat.line(Event(tool_calls=[ToolCallDelta(0, None, "", 'ty": "A"}')]))
    done = chat.done(Event(finish_reason="tool_calls", prompt_tokens=5), whole=True)
    assert done["message"] == {
        "role": "assistant",
        "content": "Hello",
        "tool_calls": [{"function": {"name": "get_time", "arguments": {"city": "A"}}}],
    }
    assert done["done_reason"] == "stop" and done["done"] is True
    assert done["eval_count"] == 2 and done["prompt_eval_count"] == 5  # no usage: pieces
    gen = ol.Reply("m", chat=False, t0=0.0, context=[1, 2])
    gen.line(Event(text="x"))
    last = gen.done(Event(finish_reason="length", completion_tokens=3, output_ids=[7]), False)
    assert last["response"] == "" and last["context"] == [1, 2, 7] and last["eval_count"] == 3
    assert ol.Reply("m", chat=False, t0=0.0).done(Event(), True)["context"] == []


def test_ollama_requests_as_openai_bodies() -> None:
    req = OllamaChatRequest.model_validate(
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"function": {"name": "w", "arguments": {"c": "A"}}}],
                },
            ],
            "format": {"type": "object"},
            "options": {"temperature": 0, "num_predict": 8, "repeat_penalty": 1.2, "stop": ["x"]},
        }
    )
    body = ol.openai_chat(req)
    assert body["messages"][1]["tool_calls"][0]["function"] == {
        "name": "w",
        "arguments": '{"c": "A"}',
    }
    assert body["max_tokens"] == 8 and body["temperature"] == 0 and body["stop"] == ["x"]
    assert body["repetition_penalty"] == body["repeat_penalty"] == 1.2
    assert body["response_format"]["json_schema"]["schema"] == {"type": "object"}
    g = OllamaGenerateRequest.model_validate({"model": "m", "prompt": "p", "system": "s"})
    route, body = ol.openai_generate(g)
    assert route == "/chat/completions" and [m["role"] for m in body["messages"]] == [
        "system",
        "user",
    ]
    raw = OllamaGenerateRequest.model_validate({"model": "m", "prompt": "p", "raw": True})
    assert ol.openai_generate(raw) == ("/completions", {"model": "m", "prompt": "p"})
    with pytest.raises(BadInputError, match="format"):
        ol.openai_response_format("yaml")


def test_engine_stream_chunks_as_events() -> None:
    ev, reason, usage = oa.chunk_event(
        {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]}
    )
    assert ev == Event(text="Hi") and reason is None and usage is None
    ev, reason, _ = oa.chunk_event(
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {"index": 1, "id": "c", "function": {"name": "f", "arguments": "{"}}
                        ]
                    },
                    "finish_reason": "tool_calls",
                }
            ]
        }
    )
    assert ev is not None and ev.tool_calls == [ToolCallDelta(1, "c", "f", "{")]
    assert reason == "tool_calls"
    assert oa.chunk_event({"choices": [{"text": "x", "finish_reason": "length"}]})[:2] == (
        Event(text="x"),
        "length",
    )
    assert oa.chunk_event({"choices": [], "usage": {"prompt_tokens": 3}}) == (
        None,
        None,
        {"prompt_tokens": 3},
    )


def test_typed_responses_keep_openai_nulls_and_omit_absent_fields() -> None:
    chunk = oa.chunk("c", "m", 1, "fp_x", [oa.ChoiceStream(0, ToolPlan("none"), False).start()])
    assert json.loads(chunk.model_dump_json()) == {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "system_fingerprint": "fp_x",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": None},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
    }
    last = oa.completion("c", 1, "m", "fp_x", [], oa.usage_of([Event(prompt_tokens=4)]))
    assert last.model_dump()["usage"] == {
        "prompt_tokens": 4,
        "completion_tokens": 0,
        "total_tokens": 4,
    }
    assert (
        "warnings" not in last.model_dump()
        and "usage" not in oa.completion("c", 1, "m", "f", []).model_dump()
    )
    models = oa.model_list([("a", 1), ("b", 2), ("a", 3)]).model_dump()
    assert [d["id"] for d in models["data"]] == ["a", "b"] and models["object"] == "list"


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ('{{ if .System }}{{ template "s" }}{{ end }}{{ .Prompt }}', r"\{\{ template \}\} is not"),
        ("<|user|>{{ .Prompt | html }}<|assistant|>", "Go template construct function 'html'"),
        ("{% for m in messages %}{{ m.content }}{% endfor", "Jinja syntax error on line 1"),
    ],
)
def test_modelfile_templates_are_checked_at_create_time(template: str, why: str) -> None:
    from llmatlas.runtime.templates import check_template
    from llmatlas.server.ollama.routes import modelfile_of
    from llmatlas.server.ollama.wire import CreateRequest

    with pytest.raises(BadInputError, match=why):
        check_template(template)
    req = CreateRequest.model_validate({"model": "x", "from": "gemma-3-270m", "template": template})
    with pytest.raises(BadInputError, match=why):
        modelfile_of(req)
    text = f'FROM gemma-3-270m\nTEMPLATE """{template}"""'
    with pytest.raises(BadInputError, match=why):
        modelfile_of(CreateRequest.model_validate({"model": "x", "modelfile": text}))
    jinja = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
    go = "{{ if .System }}{{ .System }}{{ end }}<|user|>{{ .Prompt }}<|assistant|>"
    for ok in (jinja, go):  # Ollama's Go templates are translated (tests/test_gotemplate.py)
        check_template(ok)
        assert modelfile_of(
            CreateRequest.model_validate({"model": "x", "from": "a", "template": ok})
        )
