"""`enclave chat [--model NAME] [--conversation ID] [--new] "PROMPT"`: one turn, streamed to stdout."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add the `chat` command."""
    p = subparsers.add_parser("chat", parents=[common], help="send one message and stream the reply")
    p.add_argument("prompt")
    p.add_argument("--model", help="model name (default: the default model)")
    p.add_argument("--conversation", metavar="ID", help="continue this conversation")
    p.add_argument("--new", action="store_true", help="start a new conversation (the default)")
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--seed", type=int)
    p.add_argument("--docs", metavar="NAME[,NAME]", help="answer from these document collections, with sources")
    p.set_defaults(handler=cmd_chat)


def cmd_chat(args: argparse.Namespace) -> int:
    """Stream one reply; store the turn in the vault when there is one."""
    # Imported here: llama.cpp is heavy, and `enclave --help` should not wait for it.
    from engine.chat import ChatService
    from engine.models import ModelRegistry
    from engine.models.demo import ensure_demo_model
    from engine.runtime import GenerationParams, Runtime

    registry = ModelRegistry()
    ensure_demo_model(registry)
    registry.complete_facts()
    runtime = Runtime(registry)
    try:
        with ChatService.open_for_cli(args, runtime) as service:
            params = GenerationParams(max_tokens=args.max_tokens, temperature=args.temperature, seed=args.seed)
            hits = _search_docs(service, args) if args.docs else None
            system = None
            if hits is not None:
                from engine.documents.answer import grounded_system_prompt

                system = grounded_system_prompt(hits)
            turn = service.send(
                args.prompt, conversation_id=args.conversation, model=args.model, params=params, system_prompt=system
            )
            for chunk in turn.generation:
                sys.stdout.write(chunk.text)
                sys.stdout.flush()
            sys.stdout.write("\n")
            if hits is not None:
                from engine.documents.answer import render_sources

                print(render_sources(hits) if hits else "Sources: none matched the question")
            result = turn.finish()
            if result.conversation_id:
                print(f"[conversation {result.conversation_id}]", file=sys.stderr)
            else:
                print("[not saved: run `enclave init` to keep an encrypted history]", file=sys.stderr)
    finally:
        runtime.close()
    return 0


def _search_docs(service: object, args: argparse.Namespace) -> list:  # type: ignore[type-arg]
    """The passages of the named collections that best match the question."""
    from engine.chat import ChatService
    from engine.documents.library import DocumentLibrary
    from engine.errors import UserError

    assert isinstance(service, ChatService)
    if service.vault is None:
        raise UserError("documents live in the vault: run `enclave init` and `enclave docs add` first")
    library = DocumentLibrary(service.vault, service.runtime.registry)
    try:
        library.start_loading()
        library.wait_ready()
        names = [n.strip() for n in str(args.docs).split(",") if n.strip()]
        return library.search(args.prompt, names, top=5, actor="cli")
    finally:
        library.close()
