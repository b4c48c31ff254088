"""Write SHA256SUMS for release artifacts, in `sha256sum` format (check with `sha256sum -c SHA256SUMS`).

    python packaging/checksums.py dist/SHA256SUMS dist/enclave_0.1.0_amd64.deb dist/enclave-….cdx.json
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 1
    out, files = Path(argv[0]), [Path(a) for a in argv[1:]]
    # Names relative to the sums file, so `sha256sum -c` works from its folder.
    lines = [f"{sha256(f)}  {f.resolve().relative_to(out.parent.resolve()).as_posix()}\n" for f in sorted(files)]
    out.write_text("".join(lines))
    print(f"checksums: {out} ({len(lines)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
