#!/usr/bin/env bash
# `make package` on Linux, and the release workflow's Linux job: bundle, .deb, SBOM, SHA256SUMS.
#
# Usage: packaging/linux/package.sh [cpu|cuda|vulkan]
# Output in dist/: enclave[-VARIANT]_VERSION_ARCH.deb, enclave-VERSION-linux-VARIANT.cdx.json, SHA256SUMS
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VARIANT="${1:-cpu}"
VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/engine/__init__.py")"
ARCH="$(dpkg --print-architecture)"
PACKAGE=enclave
[ "$VARIANT" = cpu ] || PACKAGE="enclave-$VARIANT"
DEB="$ROOT/dist/${PACKAGE}_${VERSION}_${ARCH}.deb"
SBOM="$ROOT/dist/enclave-$VERSION-linux-$VARIANT.cdx.json"
VPY="$ROOT/build/package/venv-$VARIANT/bin/python"

start=$(date +%s)
mkdir -p "$ROOT/build/package"
bash "$ROOT/packaging/build_bundle.sh" "$VARIANT" | tee "$ROOT/build/package/bundle-report.txt"
bash "$ROOT/packaging/linux/build_deb.sh" "$VARIANT"
"$VPY" "$ROOT/packaging/sbom.py" --build-info "$ROOT/build/package/notices/llama.cpp-build-info.json" -o "$SBOM"
(cd "$ROOT/dist" && "$VPY" "$ROOT/packaging/checksums.py" SHA256SUMS "$(basename "$DEB")" "$(basename "$SBOM")")

echo
echo "== package summary =="
grep -E '^(bundle size|start-up time|pyinstaller)' "$ROOT/build/package/bundle-report.txt"
echo "deb: $DEB ($(du -h "$DEB" | cut -f1))"
echo "sbom: $SBOM"
echo "checksums: $ROOT/dist/SHA256SUMS"
echo "total: $(( $(date +%s) - start )) s"
