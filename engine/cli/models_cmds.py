"""`enclave models list | import | info | verify | remove | default | set`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.cli.policy_cmds import admin_vault
from engine.cli.progress import ProgressBar
from engine.cli.vault_cmds import open_vault
from engine.models import ModelRecord, ModelRegistry
from engine.models.demo import DEMO_NOTE, ensure_demo_model
from engine.models.memory import estimate_memory
from engine.paths import enclave_home
from engine.policy import allowlist
from engine.policy.audit_events import record_or_defer
from engine.runtime.draft_model import set_draft_model
from engine.training.jobs import Training


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add the `models` command group."""
    models = subparsers.add_parser("models", parents=[common], help="manage GGUF models")
    sub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", parents=[common], help="list registered models")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("import", parents=[common], help="import a GGUF file")
    p.add_argument("path", type=Path)
    p.add_argument("--name", help="name to register it under (default: from the file name)")
    p.add_argument("--sha256", help="refuse the file unless it has this SHA-256")
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("info", parents=[common], help="show what a model is")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_info)

    for action, handler, text in (
        ("verify", cmd_verify, "recompute a model's SHA-256"),
        ("remove", cmd_remove, "delete a model's file and record"),
        ("default", cmd_default, "use this model when a request names none"),
    ):
        p = sub.add_parser(action, parents=[common], help=text)
        p.add_argument("name")
        p.set_defaults(handler=handler)

    p = sub.add_parser("set", parents=[common], help="change a model's load or prompt settings")
    p.add_argument("name")
    p.add_argument("--context", type=int, dest="context_size")
    p.add_argument("--threads", type=int)
    p.add_argument("--gpu-layers", help="auto, all, none or a number")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--parallel", type=int, help="sequences decoded together (concurrent requests)")
    p.add_argument("--chat-template", help="builtin name (chatml, gemma, llama3, mistral) or a Jinja file path")
    p.add_argument(
        "--speculation", choices=("lookup", "off"), help="prompt-lookup speculative decoding (default lookup)"
    )
    p.add_argument(
        "--draft-model",
        metavar="DRAFT",
        help="a registered smaller model of the same family that drafts tokens for this one; none: no draft model",
    )
    p.set_defaults(handler=cmd_set)


def _registry() -> ModelRegistry:
    registry = ModelRegistry()
    ensure_demo_model(registry, ProgressBar("Preparing the bundled demo model"))
    registry.complete_facts()
    return registry


def _describe(record: ModelRecord, default: str | None) -> dict[str, object]:
    data = record.to_json()
    data["default"] = record.name == default
    estimate = estimate_memory(record)
    data["memory_when_loaded"] = {
        "total_bytes": estimate.total,
        "weights_bytes": estimate.weights,
        "kv_cache_bytes": estimate.kv_cache,
        "kv_cache_tokens": estimate.cells,
        "saved_conversations_bytes": estimate.saved_conversations,
    }
    if record.settings.draft_model is not None:
        data["draft_model"] = record.settings.draft_model  # (drafts tokens for it: engine.runtime.draft_model)
    if record.adapter is not None:
        data["note"] = f"LoRA adapter (in the vault) on {record.adapter.base}" + (
            "; WITHDRAWN from serving: trained on data of an erased subject" if record.adapter.withdrawn else ""
        )
    elif record.source == "demo":
        data["note"] = DEMO_NOTE
    elif record.is_base_model:
        data["note"] = "No chat template: probably a base model that continues text."
    return data


def cmd_list(args: argparse.Namespace) -> int:
    """Print the registered models."""
    registry = _registry()
    default = registry.default_name()
    records = registry.list(include_withdrawn=True)
    if args.json:
        print(json.dumps([_describe(r, default) for r in records], indent=2))
        return 0
    if not records:
        print("No models yet. Import one: enclave models import FILE.gguf")
        return 0
    print(f"{'':2}{'NAME':<28} {'ARCH':<10} {'SIZE':>6} {'QUANT':<8} {'CTX':>7} {'FILE':>9}")
    for r in records:
        mark = "* " if r.name == default else "  "
        adapted = ""
        if r.adapter is not None:
            adapted = f"  adapter on {r.adapter.base}" + ("  [WITHDRAWN]" if r.adapter.withdrawn else "")
        if r.settings.draft_model is not None:
            adapted += f"  draft model {r.settings.draft_model}"
        print(
            f"{mark}{r.name:<28} {r.facts.architecture:<10} {r.facts.size_label:>6} "
            f"{r.facts.quantization:<8} {r.facts.context_length:>7} {r.file_size / 1e6:>7.1f}MB{adapted}"
        )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import a GGUF file with a progress bar (checked against the model allowlist, audited)."""
    with admin_vault(args) as vault:
        guard = allowlist.import_guard(vault, actor="cli", name=args.name) if vault is not None else None
        record = ModelRegistry().import_file(
            args.path,
            args.name,
            progress=ProgressBar(f"Importing {args.path.name}"),
            expected_sha256=args.sha256,
            approve=guard,
        )
        details = {"name": record.name, "sha256": record.sha256}
        record_or_defer(enclave_home(), vault, "model_import", actor="cli", details=details)
    print(f"Imported {record.name} ({record.facts.size_label} {record.facts.quantization}), sha256 {record.sha256}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """Print what a model is, from its own header."""
    registry = _registry()
    model = registry.get(args.name)
    data = _describe(model, registry.default_name())
    if model.adapter is not None:  # provenance and evaluation are personal-data derived: in the vault
        with open_vault(args) as vault:
            training = Training(vault, registry, actor="cli").info(args.name)
        data.update(
            {k: training[k] for k in ("base_model", "base_sha256", "adapter_sha256", "dataset_sha256", "evaluation")}
        )
        data["training"] = training
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    facts = data.pop("facts")
    memory = data.pop("memory_when_loaded")
    assert isinstance(facts, dict) and isinstance(memory, dict)
    hidden = ("settings", "training", "evaluation", "adapter")
    for key, value in {**facts, **{k: v for k, v in data.items() if k not in hidden}}.items():
        print(f"{key.replace('_', ' '):>20}: {value}")
    print(
        f"{'memory when loaded':>20}: up to about {memory['total_bytes'] / 1e6:,.0f} MB, of which a KV cache of "
        f"{memory['kv_cache_bytes'] / 1e6:,.0f} MB for {memory['kv_cache_tokens']:,} tokens "
        f"(context × parallel requests) and {memory['saved_conversations_bytes'] / 1e6:,.0f} MB for "
        "conversations waiting in RAM"
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Recompute the SHA-256 and compare it with the registry."""
    record = ModelRegistry().verify(args.name, ProgressBar(f"Verifying {args.name}"))
    print(f"{record.name}: OK (sha256 {record.sha256})")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Delete a model (audited)."""
    registry = ModelRegistry()
    if registry.get(args.name).adapter is not None:  # the adapter and its record are in the vault
        with open_vault(args) as vault:
            Training(vault, registry, actor="cli").remove(args.name)
        print(f"Removed {args.name} with its adapter and training record")
        return 0
    with admin_vault(args) as vault:
        registry.remove(args.name)
        record_or_defer(enclave_home(), vault, "model_remove", actor="cli", details={"name": args.name})
    print(f"Removed {args.name}")
    return 0


def cmd_default(args: argparse.Namespace) -> int:
    """Set the default model (audited)."""
    with admin_vault(args) as vault:
        ModelRegistry().set_default(args.name)
        record_or_defer(enclave_home(), vault, "model_default", actor="cli", details={"name": args.name})
    print(f"Default model: {args.name}")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    """Change per-model settings."""
    changes: dict[str, object] = {}
    for key in ("context_size", "threads", "batch_size", "parallel", "speculation"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    if args.gpu_layers is not None:
        changes["gpu_layers"] = int(args.gpu_layers) if args.gpu_layers.isdigit() else args.gpu_layers
    if args.chat_template is not None:
        path = Path(args.chat_template)
        changes["chat_template"] = path.read_text(encoding="utf-8") if path.is_file() else args.chat_template
    registry = ModelRegistry()
    if args.draft_model is not None:  # checked against the model's vocabulary first
        set_draft_model(registry, args.name, args.draft_model)
    record = registry.update_settings(args.name, **changes)
    print(json.dumps(record.to_json()["settings"], indent=2))
    return 0
