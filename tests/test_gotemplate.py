"""Ollama's Modelfile TEMPLATE (Go's text/template) translated to Jinja: rendered prompts
checked against what Ollama's rules give (expected strings written out by hand), and the
constructs outside the subset refused with their name.  No model."""

from __future__ import annotations

from typing import Any

import pytest

from llmatlas.errors import BadInputError
from llmatlas.runtime.templates import check_template, modelfile_format


def render(template: str, msgs: list[tuple[str, str]], **kw: Any) -> str:
    fmt = modelfile_format(template)
    assert fmt.go and fmt.origin == "modelfile (Go template)"
    return fmt.render([{"role": r, "content": c} for r, c in msgs], **kw)


CHATML = (
    "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}\n"
    '{{- range .Messages }}{{ if ne .Role "system" }}<|im_start|>{{ .Role }}\n'
    "{{ .Content }}<|im_end|>\n{{ end }}{{ end }}<|im_start|>assistant\n"
)


def test_chatml_system_joined_and_same_role_messages_merged() -> None:
    # .System joins every system message with a blank line; consecutive messages of one role
    # are merged the same way
    msgs = [
        ("system", "Be brief."),
        ("system", "Use French."),
        ("user", "Hi"),
        ("user", "There"),
        ("assistant", "Salut"),
        ("user", "Bye"),
    ]
    assert render(CHATML, msgs) == (
        "<|im_start|>system\nBe brief.\n\nUse French.<|im_end|>\n"
        "<|im_start|>user\nHi\n\nThere<|im_end|>\n"
        "<|im_start|>assistant\nSalut<|im_end|>\n"
        "<|im_start|>user\nBye<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert modelfile_format(CHATML).turn_stops() == ["<|im_end|>"]


LLAMA3 = (
    "<|begin_of_text|>\n"
    "{{- range $i, $m := .Messages }}\n"
    "{{- $last := eq (len (slice $.Messages $i)) 1 }}"
    "<|start_header_id|>{{ $m.Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>\n"
    '{{- if and $last (not (eq .Role "assistant")) }}'
    "<|start_header_id|>assistant<|end_header_id|>\n\n{{ end }}\n"
    "{{- end }}"
)


def test_llama3_index_variables_slice_len_and_not() -> None:
    msgs = [("user", "Hi"), ("assistant", "Hello"), ("user", "How?")]
    assert render(LLAMA3, msgs) == (
        "<|begin_of_text|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHow?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    # a last assistant message is continued: no new header
    assert render(LLAMA3, [("user", "Hi"), ("assistant", "Hel")]) == (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHel<|eot_id|>"
    )


GEMMA = (
    "{{- range $i, $_ := .Messages }}\n"
    '{{- if eq .Role "user" }}<start_of_turn>user\n'
    '{{ if and $.System (eq $i 1) }}{{ printf "%s\\n\\n" $.System }}{{ end }}'
    "{{ .Content }}<end_of_turn>\n"
    '{{ else if eq .Role "assistant" }}<start_of_turn>model\n{{ .Content }}<end_of_turn>\n'
    "{{ end }}\n"
    "{{- end }}<start_of_turn>model\n"
)


def test_gemma_system_folded_into_first_user_turn_with_else_if_and_printf() -> None:
    msgs = [("system", "Be kind."), ("user", "Hi"), ("assistant", "Hey"), ("user", "Joke?")]
    assert render(GEMMA, msgs) == (
        "<start_of_turn>user\nBe kind.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHey<end_of_turn>\n"
        "<start_of_turn>user\nJoke?<end_of_turn>\n"
        "<start_of_turn>model\n"
    )
    assert render(GEMMA, [("user", "Hi")]) == (
        "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"
    )


def test_mistral_legacy_form_runs_once_per_turn_with_response_appended() -> None:
    # no .Messages and no .Response: Ollama appends {{ .Response }}, executes the template
    # per (System, Prompt, Response) turn, and stops the last turn at the response
    tpl = "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }} [/INST]"
    msgs = [("system", "S"), ("user", "Hi"), ("assistant", "Hello"), ("user", "Q")]
    assert render(tpl, msgs) == "[INST] S\n\nHi [/INST]Hello[INST] Q [/INST]"
    assert render(tpl, [("user", "Hi")]) == "[INST] Hi [/INST]"


def test_legacy_form_cuts_the_last_turn_after_the_response() -> None:
    tpl = (
        "{{ if .System }}<|system|>\n{{ .System }}</s>\n{{ end }}"
        "<|user|>\n{{ .Prompt }}</s>\n<|assistant|>\n{{ .Response }}</s>\n"
    )
    msgs = [("system", "S"), ("user", "A"), ("assistant", "B"), ("user", "C")]
    assert render(tpl, msgs) == (
        "<|system|>\nS</s>\n<|user|>\nA</s>\n<|assistant|>\nB</s>\n<|user|>\nC</s>\n<|assistant|>\n"
    )
    # a system message after a turn starts a new execution with its own .System
    msgs2 = [("user", "A"), ("system", "T"), ("user", "C")]
    assert render(tpl, msgs2) == (
        "<|user|>\nA</s>\n<|assistant|>\n</s>\n<|system|>\nT</s>\n<|user|>\nC</s>\n<|assistant|>\n"
    )


TOOLS = (
    "{{- if .Tools }}Tools: {{ .Tools }}\n"
    "{{ range .Tools }}{{ .Function.Name }}({{ range $n, $p := .Function.Parameters.Properties }}"
    "{{ $n }}: {{ $p.Type }}, {{ end }})\n{{ end }}{{ end }}"
    "{{- range .Messages }}\n"
    '{{- if eq .Role "assistant" }}{{ range .ToolCalls }}'
    "CALL {{ .Function.Name }} {{ .Function.Arguments }}\n{{ end }}"
    '{{- else if eq .Role "tool" }}RESULT {{ .ToolName }}: {{ .Content }}\n'
    "{{- else }}{{ .Role }}: {{ .Content }}\n{{ end }}{{ end }}"
)


def test_tools_and_tool_calls_print_as_ollama_json() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather <now> & later",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "days": {"type": "integer"},
                        "city": {"type": "string", "description": "City"},
                    },
                    "required": ["city"],
                },
            },
        }
    ]
    msgs: list[dict[str, Any]] = [
        {"role": "user", "content": "Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "weather", "arguments": {"z": 1, "city": "P"}}}],
        },
        {"role": "tool", "content": "sunny", "tool_name": "weather"},
    ]
    fmt = modelfile_format(TOOLS)
    assert "tools" in (fmt.template or "")  # chat_messages hands tool messages over unchanged
    assert fmt.render(msgs, tools=tools) == (
        'Tools: [{"type":"function","function":{"name":"weather",'
        '"description":"Weather \\u003cnow\\u003e \\u0026 later","parameters":{"type":"object",'
        '"required":["city"],"properties":{"city":{"type":"string","description":"City"},'
        '"days":{"type":"integer"}}}}}]\n'
        "weather(city: string, days: integer, )\n"
        "user: Paris?\n"
        'CALL weather {"city":"P","z":1}\n'
        "RESULT weather: sunny"  # the {{- else }} after it trims the newline
    )
    assert fmt.render(msgs[:1]) == "user: Paris?\n"  # no tools: the section is left out


def test_with_range_else_break_continue_comments_and_variables() -> None:
    tpl = (
        "{{/* a comment */}}{{ $n := 0 }}"
        '{{- range .Messages }}{{ if eq .Role "system" }}{{ continue }}{{ end }}'
        '{{ if eq .Content "stop" }}{{ break }}{{ end }}{{ $n = .Content }}[{{ .Content }}]'
        "{{ else }}empty{{ end }} last={{ $n }}"
        "{{ with .System }} sys={{ . }}{{ else }} nosys{{ end }}"
    )
    msgs = [("system", "S"), ("user", "a"), ("assistant", "b"), ("user", "stop"), ("user", "x")]
    # "stop" and "x" are merged into one user message ("stop\n\nx"), so no break happens
    assert render(tpl, msgs) == "[a][b][stop\n\nx] last=stop\n\nx sys=S"
    assert render(tpl, [("user", "a"), ("assistant", "stop"), ("user", "b")]) == (
        "[a] last=a nosys"
    )
    assert render("{{ range .Messages }}x{{ else }}empty{{ end }}", []) == "empty"


def test_text_that_looks_like_jinja_stays_text() -> None:
    assert render("{% raw %}{{ .Prompt }}{# #}", [("user", "hi")]) == "{% raw %}hi{# #}"


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ('{{ template "x" . }}', r"construct \{\{ template \}\} is not supported"),
        ('{{ define "x" }}y{{ end }}{{ .Prompt }}', r"\{\{ define \}\}"),
        ("{{ .Prompt | html }}", "function 'html'"),
        ("{{ .Prompt }}{{ call .F }}", "function 'call'"),
        ("{{ currentDate }}{{ .Prompt }}", "function 'currentDate'"),
        ("{{ with .System }}{{ . }}{{ else with .Prompt }}{{ end }}", r"\{\{ else with .Prompt"),
        ("{{ .Prompt }}{{ slice .Messages 0 1 2 }}", "slice with 3 indices"),
        ("{{ if .System }}x", r"syntax error: \{\{ if \}\} without \{\{ end \}\}"),
        ("{{ .Prompt }}{{ end }}", r"syntax error: \{\{ end \}\} without a block"),
        ("{{ if .System }}a{{ else }}b{{ else }}c{{ end }}", r"a second \{\{ else \}\}"),
        ("{{ .Prompt }}{{ break }}", r"\{\{ break \}\} outside range"),
        ("{{ .Prompt ", r"never closed"),
    ],
)
def test_constructs_outside_the_subset_are_named(template: str, named: str) -> None:
    with pytest.raises(BadInputError, match=named):
        check_template(template)
