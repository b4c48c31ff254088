"""`enclave chat [--model NAME] [--conversation ID] [--new] "PROMPT"`: one turn, streamed to stdout."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from engine.errors import UserError

if TYPE_CHECKING:
    from engine.handle import Engine


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
    p.add_argument(
        "--docs", metavar="NAME[,NAME]", help="answer from these document collections, then list the sources "
        "(a continued conversation answers from the collections saved with it unless --no-docs)"
    )
    p.add_argument("--no-docs", action="store_true", help="answer without documents, even in a conversation "
                   "that has collections saved with it")
    p.set_defaults(handler=cmd_chat)


def _collections(args: argparse.Namespace, engine: Engine) -> list[str]:
    """The collections this turn answers from: --docs, else those saved with the continued conversation
    (as the desktop picks them again on reopening), none with --no-docs."""
    if args.no_docs:
        return []
    if args.docs:
        return [n.strip() for n in str(args.docs).split(",") if n.strip()]
    if args.conversation and engine.vault is not None:
        from engine.errors import NotFoundError

        try:
            return list(engine.vault.conversations.get(args.conversation).collections)
        except NotFoundError:
            return []  # the turn itself says the conversation is unknown
    return []


def cmd_chat(args: argparse.Namespace) -> int:
    """Stream one reply; store the turn in the vault when there is one."""
    # Imported here: llama.cpp is heavy, and `enclave --help` should not wait for it.
    from engine.cli.passphrase import read_passphrase
    from engine.handle import COMMAND_LINE, Engine
    from engine.runtime import GenerationParams

    # A vault is optional: without one the reply is shown but not kept.
    with Engine.open(actor=COMMAND_LINE, passphrase=lambda: read_passphrase(args), vault_required=False) as engine:
        params = GenerationParams(max_tokens=args.max_tokens, temperature=args.temperature, seed=args.seed)
        sources = None
        if args.docs and args.no_docs:
            raise UserError("--docs and --no-docs contradict each other: pick one")
        names = _collections(args, engine)
        if names:
            # The desktop chat's path: sources for this turn only, their citations stored with the reply.
            from engine.documents.answer import ask

            if not args.docs:
                print(f"[answering from {', '.join(names)}, saved with this conversation; --no-docs to ask "
                      "without them]", file=sys.stderr)
            engine.require_vault()
            engine.documents.start_loading()
            asked = ask(engine.documents, engine.chat, args.prompt, names, actor=engine.actor.audit_name,
                        conversation_id=args.conversation, model=args.model, params=params)
            turn, sources = asked.turn, asked.sources
        else:
            turn = engine.chat.send(args.prompt, conversation_id=args.conversation, model=args.model, params=params)
        for chunk in turn:
            sys.stdout.write(chunk.text)
            sys.stdout.flush()
        sys.stdout.write("\n")
        if sources is not None:
            from engine.documents.answer import render_sources

            print(render_sources(sources))
        result = turn.finish()
        if result.conversation_id:
            print(f"[conversation {result.conversation_id}]", file=sys.stderr)
        else:
            print("[not saved: run `enclave init` to keep an encrypted history]", file=sys.stderr)
    return 0
