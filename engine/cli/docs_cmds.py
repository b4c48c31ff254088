"""`enclave docs add | list | remove | search` and `enclave assistants create | list | remove`."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli.keys_cmds import open_vault
from engine.errors import UserError

if TYPE_CHECKING:
    from engine.documents.library import DocumentLibrary
    from engine.vault import Vault

ACTOR = "cli"


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add the `docs` and `assistants` command groups."""
    docs = subparsers.add_parser("docs", parents=[common], help="document collections to search and chat with")
    actions = docs.add_subparsers(dest="docs_command", metavar="ACTION", required=True)

    add = actions.add_parser("add", parents=[common], help="add files and folders (recursively) to a collection")
    add.add_argument("paths", nargs="+", metavar="PATH")
    add.add_argument("--collection", required=True, metavar="NAME", help="created if it does not exist")
    add.add_argument("--ocr", choices=("auto", "on", "off"), default="auto", help="OCR for scans and images")
    add.add_argument("--subject", metavar="LABEL", help="tag the documents with a data subject")
    add.add_argument("--no-originals", action="store_true", help="a new collection keeps only text, chunks and vectors")
    add.add_argument(
        "--embedder", metavar="MODEL", help="a new collection's embedding model (default: multilingual-e5-small)"
    )
    add.add_argument("--purpose", metavar="TEXT", help="why the collection is kept (the processing record lists it)")
    add.set_defaults(handler=cmd_add)

    listing = actions.add_parser("list", parents=[common], help="list documents")
    listing.add_argument("--collection", metavar="NAME")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_list)

    remove = actions.add_parser("remove", parents=[common], help="crypto-shred a document or a whole collection")
    remove.add_argument("doc_id", nargs="?", metavar="DOC_ID")
    remove.add_argument("--collection", metavar="NAME")
    remove.set_defaults(handler=cmd_remove)

    search = actions.add_parser("search", parents=[common], help="hybrid keyword + semantic search")
    search.add_argument("query")
    search.add_argument("--collection", required=True, metavar="NAME", help="NAME[,NAME…]")
    search.add_argument("--top", type=int, default=5, metavar="K")
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=cmd_search)

    tag = actions.add_parser("tag", parents=[common], help="tag a document with a data subject (or --clear)")
    tag.add_argument("doc_id", metavar="DOC_ID")
    tag.add_argument("subject", nargs="?", metavar="LABEL")
    tag.add_argument("--clear", action="store_true")
    tag.set_defaults(handler=cmd_tag)

    assistants = subparsers.add_parser("assistants", parents=[common], help="models that answer from documents")
    a_actions = assistants.add_subparsers(dest="assistants_command", metavar="ACTION", required=True)
    create = a_actions.add_parser("create", parents=[common], help="define an assistant")
    create.add_argument("name")
    create.add_argument("--model", required=True, metavar="M")
    create.add_argument("--docs", required=True, metavar="N[,N]", help="the collections it answers from")
    create.add_argument("--system", metavar="TEXT", help="its system prompt")
    create.add_argument("--tools", metavar="SERVER.TOOL[,…]",
                        help="MCP tools the engine runs for it over the API (each must be 'always allow')")
    create.add_argument("--tool-choice", choices=("auto", "required"), default="auto",
                        help="required: its first reply must call one of its tools (default: auto)")
    create.set_defaults(handler=cmd_assistant_create)
    a_list = a_actions.add_parser("list", parents=[common], help="list assistants")
    a_list.add_argument("--json", action="store_true")
    a_list.set_defaults(handler=cmd_assistant_list)
    a_remove = a_actions.add_parser("remove", parents=[common], help="remove an assistant")
    a_remove.add_argument("name")
    a_remove.set_defaults(handler=cmd_assistant_remove)


@contextlib.contextmanager
def open_library(args: argparse.Namespace) -> Iterator[tuple[Vault, DocumentLibrary]]:
    """The unlocked vault and a document library over it (closed on exit)."""
    from engine.documents.library import DocumentLibrary  # noqa: F811 (the runtime import)
    from engine.models import ModelRegistry

    with open_vault(args) as vault:
        library = DocumentLibrary(vault, ModelRegistry())
        try:
            yield vault, library
        finally:
            library.close()


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UserError("name at least one collection")
    return names


def cmd_add(args: argparse.Namespace) -> int:
    """One line per file, then the total; exit 1 when nothing could be added."""
    with open_library(args) as (_, library):

        def progress(done: int, total: int, name: str) -> None:
            if sys.stderr.isatty() and name:
                sys.stderr.write(f"\r[{done + 1}/{total}] {name[:60]:<60}")
                sys.stderr.flush()

        report = library.add(
            [Path(p) for p in args.paths],
            args.collection,
            ocr=args.ocr,
            actor=ACTOR,
            subject=args.subject,
            keep_originals=False if args.no_originals else None,
            embedder=args.embedder,
            purpose=args.purpose,
            progress=progress,
        )
        if sys.stderr.isatty():
            sys.stderr.write("\r" + " " * 80 + "\r")
        for item in report.files:
            print(f"{item.status:<9} {item.path}: {item.message}")
        print(report.summary())
    return 0 if report.ok else 1


def cmd_list(args: argparse.Namespace) -> int:
    """Documents, as a table or JSON."""
    with open_library(args) as (_, library):
        rows = library.documents(args.collection)
    if args.json:
        data = [
            {
                "id": d.id,
                "document": d.name,
                "collection": c.name,
                "pages": d.pages,
                "chunks": d.chunks,
                "bytes": d.size,
                "format": d.format,
                "subject": d.subject,
                "ocr": d.ocr,
                "added_at": d.created_at,
            }
            for d, c in rows
        ]
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no documents")
        return 0
    for d, c in rows:
        pages = f"{d.pages} p." if d.pages else "-"
        print(f"{d.id}  {c.name:<20} {pages:>7} {d.chunks:>5} chunks  {d.name}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Remove one document by id, or a collection with all its documents."""
    if (args.doc_id is None) == (args.collection is None):
        raise UserError("give either a DOC_ID or --collection NAME")
    with open_library(args) as (_, library):
        if args.doc_id is not None:
            doc = library.remove(args.doc_id, actor=ACTOR)
            print(f"removed {doc.name} ({doc.id})")
        else:
            count = library.remove_collection(args.collection, actor=ACTOR)
            print(f"removed collection {args.collection} and its {count} document(s)")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Hits in rank order."""
    with open_library(args) as (_, library):
        library.start_loading()
        library.wait_ready()
        hits = library.search(args.query, _names(args.collection), top=args.top, actor=ACTOR)
    if args.json:
        print(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("no matches")
    for rank, hit in enumerate(hits, start=1):
        where = hit.document + (f", page {hit.page}" if hit.page else "")
        text = " ".join(hit.text.split())
        print(f"{rank}. {where}  (score {hit.score:.4f})\n   {text[:300]}")
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    """Set or clear a document's data subject."""
    from engine.policy import subjects

    if args.clear == (args.subject is not None):
        raise UserError("give a subject LABEL or --clear")
    with open_vault(args) as vault:
        doc = subjects.tag_documents(vault, [args.doc_id], None if args.clear else args.subject, actor=ACTOR)[0]
    print(f"{doc.name}: subject {doc.subject or '(none)'}")
    return 0


def cmd_assistant_create(args: argparse.Namespace) -> int:
    """Define an assistant."""
    from engine.documents import assistants
    from engine.models import ModelRegistry

    with open_vault(args) as vault:
        known = {m.name for m in ModelRegistry().list()}
        made = assistants.create(
            vault,
            args.name,
            model=args.model,
            collections=_names(args.docs),
            known_models=known,
            system=args.system,
            tools=_names(args.tools) if args.tools else None,
            tool_choice=args.tool_choice,
            actor=ACTOR,
        )
    tools = f", tools {', '.join(made.tools)}" if made.tools else ""
    print(f"assistant {made.name}: {made.model} answering from {', '.join(made.collections)}{tools}")
    return 0


def cmd_assistant_list(args: argparse.Namespace) -> int:
    """Assistants as a table or JSON."""
    from engine.documents import assistants

    with open_vault(args) as vault:
        found = assistants.list_assistants(vault)
    if args.json:
        print(json.dumps([a.to_json() for a in found], ensure_ascii=False, indent=2))
    elif not found:
        print("no assistants")
    for a in [] if args.json else found:
        tools = f"  tools: {', '.join(a.tools)}" if a.tools else ""
        print(f"{a.name:<24} {a.model:<24} {', '.join(a.collections)}{tools}")
    return 0


def cmd_assistant_remove(args: argparse.Namespace) -> int:
    """Remove an assistant."""
    from engine.documents import assistants

    with open_vault(args) as vault:
        assistants.remove(vault, args.name, actor=ACTOR)
    print(f"removed assistant {args.name}")
    return 0
