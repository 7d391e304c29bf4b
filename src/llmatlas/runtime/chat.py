"""Terminal front-ends of `llmatlas run`: one-shot and an interactive chat loop.

Interactive: tokens stream as they come; ``/bye`` quits, ``/clear`` forgets the
history, ``/help`` lists commands; Ctrl-C stops the current answer, not the
program; Ctrl-D quits.
"""

from __future__ import annotations

import sys
from typing import Any

from llmatlas.runtime.engines import SamplingOptions
from llmatlas.runtime.runner import Runner

HELP = "/bye quit · /clear forget the conversation · /help this text · Ctrl-C stop an answer"


def _stream(
    runner: Runner, messages: list[dict[str, Any]], sampling: SamplingOptions
) -> tuple[str, dict]:
    out = []
    final: dict = {}
    for chunk in runner.chat_stream(messages, sampling):
        if chunk.text:
            sys.stdout.write(chunk.text)
            sys.stdout.flush()
            out.append(chunk.text)
        if chunk.finish_reason:
            final = {
                "finish_reason": chunk.finish_reason,
                **chunk.timings,
                "completion_tokens": chunk.completion_tokens,
            }
    return "".join(out), final


def one_shot(
    runner: Runner,
    prompt: str,
    sampling: SamplingOptions,
    system: str | None,
    verbose: bool = False,
) -> None:
    messages = [{"role": "system", "content": system}] if system and runner.chat.is_chat else []
    messages.append({"role": "user", "content": prompt})
    _, final = _stream(runner, messages, sampling)
    sys.stdout.write("\n")
    if verbose and final:
        sys.stderr.write(
            f"[{final.get('completion_tokens', 0)} tokens, "
            f"{final.get('decode_tps', 0):.1f} tok/s, TTFT {final.get('ttft_s', 0) * 1000:.0f} ms]\n"
        )


def interactive(runner: Runner, sampling: SamplingOptions, system: str | None) -> None:
    mode = "chat" if runner.chat.is_chat else "completion (base model: it continues your text)"
    print(f"{runner.name} · {mode} · template: {runner.chat.origin}")
    print(HELP)
    history: list[dict[str, Any]] = []
    if system and runner.chat.is_chat:
        history.append({"role": "system", "content": system})
    while True:
        try:
            line = input(">>> ")
        except EOFError:
            print()
            return
        except KeyboardInterrupt:
            print("\n(use /bye or Ctrl-D to quit)")
            continue
        cmd = line.strip()
        if not cmd:
            continue
        if cmd in ("/bye", "/exit", "/quit"):
            return
        if cmd == "/clear":
            history = history[:1] if history and history[0]["role"] == "system" else []
            print("(conversation cleared)")
            continue
        if cmd == "/help":
            print(HELP)
            continue
        turn = (
            [*history, {"role": "user", "content": line}]
            if runner.chat.is_chat
            else [{"role": "user", "content": line}]
        )
        try:
            answer, _ = _stream(runner, turn, sampling)
        except KeyboardInterrupt:
            print("\n(stopped)")
            continue
        print()
        if runner.chat.is_chat:
            history = [*turn, {"role": "assistant", "content": answer}]
