"""LoRA training with PyTorch and PEFT, and the adapter written in llama.cpp's GGUF LoRA format.

The stack was chosen by measuring (README, "Fine-tuning"): PEFT is the field's standard, trains a LoRA
on a quantized GGUF base (transformers dequantizes it on load) on the CPU or a GPU, and its optimizer
state can be saved for a resume. llama.cpp's own training API only does full fine-tuning of F32 models.

Everything here works in memory: examples arrive as token lists, checkpoints and the finished adapter
leave as bytes, for the caller to seal into the vault. Nothing derived from the data touches a file.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import gguf
import numpy as np
import torch
from peft import LoraConfig, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
from transformers import AutoModelForCausalLM
from transformers.utils import logging as hf_logging

from engine.errors import UserError
from engine.training.dataset import Example

# Linear layers a LoRA adapts, by their name in transformers' models (attention and MLP).
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# Architectures whose GGUF conversion permutes the Q and K rows for llama.cpp's RoPE: transformers undoes
# it on load, so an adapter's B matrices for Q and K must be permuted back (convert_hf_to_gguf.py).
PERMUTED_QK = frozenset({"llama", "mistral"})
IGNORE = -100  # label of a token the loss skips (prompt tokens)


@dataclass(frozen=True)
class Hyperparameters:
    """What a training job varies; recorded with the adapter."""

    epochs: int = 3
    rank: int = 8
    alpha: int = 16
    lr: float = 2e-4
    seed: int = 0
    checkpoint_every: int = 25  # steps between checkpoints sealed into the vault

    def validated(self) -> Hyperparameters:
        """Self, or a UserError naming the first value out of range."""
        if not 1 <= self.epochs <= 100:
            raise UserError("epochs must be between 1 and 100")
        if not 1 <= self.rank <= 256:
            raise UserError("rank must be between 1 and 256")
        if not 0 < self.alpha <= 1024:
            raise UserError("alpha must be between 0 and 1024")
        if not (0 < self.lr <= 1.0 and math.isfinite(self.lr)):
            raise UserError("learning rate must be in (0, 1]")
        if not 1 <= self.checkpoint_every <= 100_000:
            raise UserError("checkpoint interval must be between 1 and 100000 steps")
        return self


def pick_device() -> str:
    """A CUDA GPU where PyTorch sees one, else the CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def _arch_enum(architecture: str) -> gguf.MODEL_ARCH:
    for arch, name in gguf.MODEL_ARCH_NAMES.items():
        if name == architecture:
            return arch
    raise UserError(f"training does not support the {architecture!r} architecture")


class LoraTrainer:
    """A base model with a LoRA on its linear layers, an optimizer, and one step at a time."""

    def __init__(
        self,
        base: Path,
        architecture: str,
        hp: Hyperparameters,
        *,
        threads: int | None = None,
        device: str | None = None,  # "cpu" or "cuda"; default: a CUDA GPU where PyTorch sees one
    ) -> None:
        self.hp = hp.validated()
        self.architecture = architecture
        self.device = device or pick_device()
        if threads:
            torch.set_num_threads(threads)
        torch.manual_seed(hp.seed)
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            # transformers draws a progress bar of its own while dequantizing; the caller reports progress.
            with contextlib.redirect_stderr(io.StringIO()):
                model = AutoModelForCausalLM.from_pretrained(
                    str(base.parent), gguf_file=base.name, dtype=torch.float32
                )
        except (ValueError, KeyError, OSError, NotImplementedError) as exc:
            raise UserError(f"cannot load {base.name} for training: {exc}") from None
        present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        targets = [t for t in TARGETS if t in present]
        if not targets:
            raise UserError(f"no linear layers to adapt in the {architecture!r} model")
        self.config = model.config
        self.n_blocks = int(model.config.num_hidden_layers)
        config = LoraConfig(r=hp.rank, lora_alpha=hp.alpha, lora_dropout=0.0, target_modules=targets, bias="none")
        with warnings.catch_warnings():  # transformers' deprecation notes about PEFT's own calls
            warnings.simplefilter("ignore", FutureWarning)
            self.model = get_peft_model(model, config).to(self.device)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=hp.lr)
        self.step = 0

    def _inputs(self, example: Example) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.tensor([example.tokens], dtype=torch.long, device=self.device)
        labels = torch.tensor(
            [[t if learn else IGNORE for t, learn in zip(example.tokens, example.learn, strict=True)]],
            dtype=torch.long,
            device=self.device,
        )
        return ids, labels

    def train_step(self, example: Example) -> float:
        """One optimizer step on one example; returns its loss."""
        self.model.train()
        ids, labels = self._inputs(example)
        loss = self.model(input_ids=ids, labels=labels).loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.step += 1
        return float(loss.detach())

    @torch.no_grad()
    def loss(self, examples: list[Example]) -> float:
        """Mean loss per learned token over `examples` (the held-out split)."""
        self.model.eval()
        total, count = 0.0, 0
        for example in examples:
            ids, labels = self._inputs(example)
            n = max(0, example.trained_tokens - (1 if example.learn[0] else 0))
            if n == 0:
                continue
            total += float(self.model(input_ids=ids, labels=labels).loss) * n
            count += n
        return total / count if count else float("nan")

    @torch.no_grad()
    def base_loss(self, examples: list[Example]) -> float:
        """The same loss with the adapter switched off: the base model's."""
        with self.model.disable_adapter():
            return self.loss(examples)

    def _lora_state(self) -> dict[str, torch.Tensor]:
        state: dict[str, torch.Tensor] = get_peft_model_state_dict(self.model, save_embedding_layers=False)
        return state

    # -- checkpoints ---------------------------------------------------------------------------

    def save_state(self) -> bytes:
        """The adapter weights, optimizer state, step and RNG as bytes (for the vault, never a file)."""
        buffer = io.BytesIO()
        state = {
            "lora": {k: v.detach().cpu() for k, v in self._lora_state().items()},
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "rng": torch.get_rng_state(),
        }
        torch.save(state, buffer)
        return buffer.getvalue()

    def load_state(self, data: bytes) -> None:
        """Continue from `save_state` bytes."""
        state = torch.load(io.BytesIO(data), map_location=self.device, weights_only=True)
        set_peft_model_state_dict(self.model, state["lora"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        torch.set_rng_state(state["rng"].cpu())

    # -- export --------------------------------------------------------------------------------

    def adapter_gguf(self) -> bytes:
        """The adapter in llama.cpp's GGUF LoRA format (what convert_lora_to_gguf.py writes), as bytes."""
        names = gguf.get_tensor_name_map(_arch_enum(self.architecture), self.n_blocks)
        writer = gguf.GGUFWriter(path=None, arch=self.architecture)
        writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(self.hp.alpha))
        pairs: dict[str, dict[str, np.ndarray]] = {}
        for key, value in self._lora_state().items():
            # base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight
            module, which = key.removeprefix("base_model.model.").rsplit(".lora_", 1)
            target = names.get_name(module)
            if target is None:
                raise UserError(f"no llama.cpp tensor for {module}; cannot write the adapter")
            array = value.detach().float().cpu().numpy()
            if which.startswith("B") and self.architecture in PERMUTED_QK:
                array = self._permute_qk(target, array)
            pairs.setdefault(target, {})["lora_a" if which.startswith("A") else "lora_b"] = array
        for target in sorted(pairs):
            writer.add_tensor(f"{target}.weight.lora_a", np.ascontiguousarray(pairs[target]["lora_a"]))
            writer.add_tensor(f"{target}.weight.lora_b", np.ascontiguousarray(pairs[target]["lora_b"]))
        # The writer only writes real files (numpy's tofile): give it one that lives in memory.
        with memory_file() as handle:
            writer.fout = [handle]  # type: ignore[list-item]
            writer.state = gguf.gguf_writer.WriterState.EMPTY
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
            handle.flush()
            handle.seek(0)
            return handle.read()

    def _permute_qk(self, target: str, b: np.ndarray) -> np.ndarray:
        """Apply llama.cpp's Q/K row permutation to a LoRA B matrix (its rows are the weight's rows)."""
        heads = int(self.config.num_attention_heads)
        kv_heads = int(getattr(self.config, "num_key_value_heads", None) or heads)
        if target.endswith("attn_q"):
            n = heads
        elif target.endswith("attn_k"):
            n = kv_heads
        else:
            return b
        return b.reshape(n, 2, b.shape[0] // n // 2, *b.shape[1:]).swapaxes(1, 2).reshape(b.shape)


def memory_file() -> BinaryIO:
    """A read-write file that has no name and lives in memory (memfd); elsewhere an unnamed temporary file."""
    if hasattr(os, "memfd_create"):
        return os.fdopen(os.memfd_create("enclave-adapter", os.MFD_CLOEXEC), "w+b")
    return tempfile.TemporaryFile()


def default_threads() -> int:
    """Threads for training on the CPU: every core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def describe_stack() -> dict[str, Any]:
    """Which stack trained an adapter (recorded with it)."""
    import peft
    import transformers

    return {"torch": torch.__version__, "peft": peft.__version__, "transformers": transformers.__version__}
