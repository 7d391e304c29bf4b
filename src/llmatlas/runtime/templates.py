"""Chat templates: the model's own (GGUF ``tokenizer.chat_template``, Jinja2 in a sandbox)
or a family default from the catalog; base models run in completion mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2.exceptions import TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from llmatlas.errors import BadInputError
from llmatlas.runtime import gotemplate
from llmatlas.runtime.engines import SamplingOptions

# Family defaults, used only when an instruct model's GGUF carries no template.
FAMILY_TEMPLATES: dict[str, str] = {
    "gemma": (
        "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'assistant' %}{% set r = 'model' %}"
        "{% else %}{% set r = 'user' %}{% endif %}<start_of_turn>{{ r }}\n{{ m['content'] }}<end_of_turn>\n"
        "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    ),
    "llama-3": (
        "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
        "{{ m['content'] }}<|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
    ),
    "llama": (
        "{% for m in messages %}{% if m['role'] == 'user' %}{{ bos_token }}[INST] {{ m['content'] }} [/INST]"
        "{% elif m['role'] == 'system' %}<<SYS>>\n{{ m['content'] }}\n<</SYS>>\n\n"
        "{% else %} {{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
    ),
    "chatml": (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    ),
}
FAMILY_TO_TEMPLATE = {
    "gemma": "gemma",
    "llama-3": "llama-3",
    "llama": "llama",
    "mistral": "llama",
    "qwen": "chatml",
    "yi": "chatml",
    "internlm": "chatml",
    "smollm": "chatml",
    "olmo": "chatml",
}
STOP_MARKERS = ("<end_of_turn>", "<|eot_id|>", "<|im_end|>", "</s>", "<|end|>", "<|endoftext|>")


@dataclass(frozen=True)
class ChatFormat:
    """How to turn messages into a prompt.  ``template`` None means completion mode."""

    template: str | None
    origin: str  # "gguf", "family default (gemma)", "none (base model)"
    bos_token: str = ""
    eos_token: str = ""
    go: bool = False  # translated from an Ollama (Go) template: renders over Ollama's values

    @property
    def is_chat(self) -> bool:
        return self.template is not None

    def with_turn_stops(self, sampling: SamplingOptions) -> SamplingOptions:
        """Add the template's end-of-turn markers to the stop sequences (chat mode only)."""
        if self.template is None:
            return sampling
        marks = self.turn_stops()
        return sampling.model_copy(update={"stop": list(dict.fromkeys([*sampling.stop, *marks]))})

    def turn_stops(self) -> list[str]:
        """The end-of-turn markers this template writes (none in completion mode)."""
        if self.template is None:
            return []
        return [m for m in ("<end_of_turn>", "<|eot_id|>", "<|im_end|>") if m in self.template]

    def render(
        self,
        messages: list[dict[str, Any]],
        add_generation_prompt: bool = True,
        tools: list[dict[str, Any]] | None = None,
    ) -> str:
        if self.template is None:
            # completion mode: a base model continues plain text
            return "\n\n".join(str(m.get("content") or "") for m in messages)
        if self.go:
            try:
                tpl = gotemplate.environment().from_string(self.template)
                return tpl.render(_go=gotemplate.values(messages, tools))
            except TemplateError as exc:
                raise BadInputError(f"the chat template rejected these messages: {exc}") from None
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

        def raise_exception(msg: str) -> None:
            raise TemplateError(msg)

        env.globals["raise_exception"] = raise_exception
        try:
            tpl = env.from_string(self.template)
            return tpl.render(
                messages=messages,
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                tools=tools,
            )
        except TemplateError as exc:
            raise BadInputError(f"the chat template rejected these messages: {exc}") from None


def chat_format(
    metadata: dict[str, Any],
    family: str | None,
    instruct: bool | None,
    bos: str = "",
    eos: str = "",
) -> ChatFormat:
    tpl = metadata.get("tokenizer.chat_template")
    if tpl:
        return ChatFormat(tpl, "gguf", bos, eos)
    if instruct and family and family in FAMILY_TO_TEMPLATE:
        key = FAMILY_TO_TEMPLATE[family]
        return ChatFormat(FAMILY_TEMPLATES[key], f"family default ({key})", bos, eos)
    return ChatFormat(None, "none (base model: completion mode)", bos, eos)


def modelfile_format(template: str, bos: str = "", eos: str = "") -> ChatFormat:
    """A Modelfile's TEMPLATE as a chat format: Jinja as written, or Ollama's Go template
    translated to Jinja."""
    if gotemplate.is_go_template(template):
        return ChatFormat(gotemplate.translate(template), "modelfile (Go template)", bos, eos, True)
    return ChatFormat(template, "modelfile", bos, eos)


def check_template(text: str) -> None:
    """A Modelfile TEMPLATE must be a Jinja chat template (as GGUF files carry) or a Go
    template in the subset Ollama's templates use; refuse anything else when the model is
    created rather than at its first chat."""
    if gotemplate.is_go_template(text):
        text = gotemplate.translate(text)  # raises, naming a construct it cannot translate
    try:
        ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).parse(text)
    except TemplateSyntaxError as exc:
        raise BadInputError(
            f"TEMPLATE: Jinja syntax error on line {exc.lineno}: {exc.message}"
        ) from None
