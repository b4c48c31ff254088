"""Vault throughput: encrypted messages vs. the same rows in plain sqlite-utils, and unlock time.

Both sides use the same PRAGMAs (WAL, synchronous=FULL) and one transaction per message, as the vault
commits each message on its own. `python bench/bench_vault.py [--messages N] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlite_utils import Database  # noqa: E402

from bench.common import machine, median  # noqa: E402
from engine.vault import DEFAULT_KDF, FLOOR, KdfParams, Vault  # noqa: E402
from engine.vault.store import PRAGMAS  # noqa: E402

PASSPHRASE = "bench passphrase"


def _texts(n: int) -> list[str]:
    # Chat-sized messages: 100 to 1,500 characters.
    return [("lorem ipsum dolor sit amet " * (4 + i % 55))[: 100 + (i * 37) % 1400] for i in range(n)]


def bench_plain(folder: Path, texts: list[str]) -> tuple[float, float]:
    """(insert, read) seconds for plain rows."""
    db = Database(folder / "plain.db")
    for pragma in PRAGMAS:
        db.execute(pragma)
    db.table("messages").create(
        {"id": str, "conversation_id": str, "seq": int, "created_at": str, "role": str, "content": str}, pk="id"
    )
    conv = secrets.token_hex(16)
    start = time.perf_counter()
    for seq, text in enumerate(texts, 1):
        # Same statement shape as the vault's own insert, so the ratio shows the cost of encryption.
        with db.atomic():
            db.execute(
                "INSERT INTO messages (id, conversation_id, seq, created_at, role, content) VALUES (?, ?, ?, ?, ?, ?)",
                [secrets.token_hex(16), conv, seq, "t", "user", text],
            )
    insert = time.perf_counter() - start
    start = time.perf_counter()
    rows = list(db.query("SELECT * FROM messages WHERE conversation_id = ? ORDER BY seq", [conv]))
    read = time.perf_counter() - start
    assert len(rows) == len(texts)
    db.close()
    return insert, read


def bench_vault(folder: Path, texts: list[str]) -> tuple[float, float]:
    """(insert, read) seconds for encrypted messages."""
    vault, _ = Vault.init(folder, PASSPHRASE, kdf=FLOOR)
    conv = vault.conversations.create("bench")
    start = time.perf_counter()
    for text in texts:
        vault.conversations.add_message(conv.id, "user", text)
    insert = time.perf_counter() - start
    start = time.perf_counter()
    messages = vault.conversations.messages(conv.id)
    read = time.perf_counter() - start
    assert len(messages) == len(texts)
    vault.close()
    return insert, read


def bench_unlock(folder: Path, kdf: KdfParams, repeats: int) -> float:
    """Median seconds for Vault.unlock (Argon2id dominates)."""
    Vault.init(folder, PASSPHRASE, kdf=kdf)[0].close()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        vault = Vault.unlock(folder, PASSPHRASE)
        times.append(time.perf_counter() - start)
        vault.close()
    return median(times)


def main() -> None:
    """Run and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    texts = _texts(args.messages)
    with tempfile.TemporaryDirectory(prefix="enclave-bench-vault-") as tmp:
        root = Path(tmp)
        for name in ("plain", "vault", "unlock-floor", "unlock-default"):
            (root / name).mkdir()
        plain_insert, plain_read = bench_plain(root / "plain", texts)
        vault_insert, vault_read = bench_vault(root / "vault", texts)
        unlock_floor = bench_unlock(root / "unlock-floor", FLOOR, 3)
        unlock_default = bench_unlock(root / "unlock-default", DEFAULT_KDF, 3)
    n = len(texts)
    result = {
        "messages": n,
        "insert_per_s": {"plain": n / plain_insert, "vault": n / vault_insert, "ratio": plain_insert / vault_insert},
        "read_per_s": {"plain": n / plain_read, "vault": n / vault_read, "ratio": plain_read / vault_read},
        "unlock_s": {"floor_19MiB_t2": unlock_floor, "default_64MiB_t3_p4": unlock_default},
        "machine": machine(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{n} messages, one commit each (WAL, synchronous=FULL)")
    print(f"{'':10}{'plain rows/s':>14}{'vault rows/s':>14}{'vault/plain':>13}")
    for label, key in (("insert", "insert_per_s"), ("read", "read_per_s")):
        row = result[key]
        assert isinstance(row, dict)
        print(f"{label:10}{row['plain']:>14,.0f}{row['vault']:>14,.0f}{row['ratio']:>12.2f}x")
    print(f"unlock: {unlock_floor * 1000:.0f} ms at the KDF floor, {unlock_default * 1000:.0f} ms at the default")
    print(f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores")


if __name__ == "__main__":
    main()
