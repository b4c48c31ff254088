#!/usr/bin/env bash
# Package dist/enclave/ (from packaging/build_bundle.sh) as a .deb:
#   /opt/enclave/                       the PyInstaller bundle
#   /usr/bin/enclave                    -> /opt/enclave/enclave
#   /usr/sbin/enclave-passphrase        stores the appliance passphrase, creates the vault
#   /usr/lib/systemd/system/enclave.service, /usr/lib/sysusers.d/enclave.conf, /etc/default/enclave
#   /usr/share/applications/enclave.desktop and the icon
#
# Usage: packaging/linux/build_deb.sh [cpu|cuda|vulkan]   ->  dist/enclave[-VARIANT]_VERSION_ARCH.deb
# Needs dpkg-deb (and objdump to compute the glibc dependency). No root: --root-owner-group.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/packaging/linux"
VARIANT="${1:-cpu}"
BUNDLE="$ROOT/dist/enclave"
[ -x "$BUNDLE/enclave" ] || { echo "no bundle in $BUNDLE: run packaging/build_bundle.sh first" >&2; exit 1; }

VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/engine/__init__.py")"
ARCH="$(dpkg --print-architecture)"
PACKAGE=enclave
[ "$VARIANT" = cpu ] || PACKAGE="enclave-$VARIANT"
STAGE="$ROOT/build/package/deb/${PACKAGE}_${VERSION}_${ARCH}"
OUT="$ROOT/dist/${PACKAGE}_${VERSION}_${ARCH}.deb"

rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/sbin" \
    "$STAGE/usr/lib/systemd/system" "$STAGE/usr/lib/sysusers.d" "$STAGE/etc/default" \
    "$STAGE/usr/share/applications" "$STAGE/usr/share/icons/hicolor/scalable/apps" \
    "$STAGE/usr/share/icons/hicolor/256x256/apps" "$STAGE/usr/share/doc/$PACKAGE"
cp -a "$BUNDLE" "$STAGE/opt/enclave"
ln -s /opt/enclave/enclave "$STAGE/usr/bin/enclave"
install -m 0755 "$HERE/enclave-passphrase" "$STAGE/usr/sbin/enclave-passphrase"
install -m 0644 "$HERE/enclave.service" "$STAGE/usr/lib/systemd/system/enclave.service"
install -m 0644 "$HERE/sysusers.conf" "$STAGE/usr/lib/sysusers.d/enclave.conf"
install -m 0644 "$HERE/default" "$STAGE/etc/default/enclave"
install -m 0644 "$HERE/enclave.desktop" "$STAGE/usr/share/applications/enclave.desktop"
install -m 0644 "$ROOT/assets/icons/enclave.svg" "$STAGE/usr/share/icons/hicolor/scalable/apps/enclave.svg"
if [ -f "$ROOT/build/package/enclave.png" ]; then
    "$ROOT/build/package/venv-$VARIANT/bin/python" - "$ROOT/build/package/enclave.png" \
        "$STAGE/usr/share/icons/hicolor/256x256/apps/enclave.png" <<'EOF'
import sys
from PIL import Image
Image.open(sys.argv[1]).resize((256, 256), Image.LANCZOS).save(sys.argv[2])
EOF
fi
install -m 0644 "$HERE/README.Debian" "$STAGE/usr/share/doc/$PACKAGE/README.Debian"
cat > "$STAGE/usr/share/doc/$PACKAGE/copyright" <<EOF
Enclave $VERSION — Apache-2.0.
Bundled third-party software and its licence texts (llama.cpp MIT, Qt/PySide6 LGPL-3.0,
Python PSF, each Python package, the Gemma terms of the demo model): /opt/enclave/_internal/licenses/
EOF
for script in postinst prerm postrm; do install -m 0755 "$HERE/$script" "$STAGE/DEBIAN/$script"; done
echo /etc/default/enclave > "$STAGE/DEBIAN/conffiles"

# The bundle carries its own libraries except glibc's: depend on the newest glibc symbol it uses.
glibc="$(find "$STAGE/opt/enclave" -type f \( -name '*.so*' -o -perm -u+x \) -print0 \
    | xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)"
size_kb="$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)"
conflicts=""
for other in enclave enclave-cuda enclave-vulkan; do
    [ "$other" = "$PACKAGE" ] || conflicts="${conflicts:+$conflicts, }$other"
done
cat > "$STAGE/DEBIAN/control" <<EOF
Package: $PACKAGE
Version: $VERSION
Architecture: $ARCH
Maintainer: Enclave maintainers <enclave@localhost>
Installed-Size: $size_kb
Depends: libc6 (>= $glibc), adduser | systemd, libegl1, libgl1, libfontconfig1, libxkbcommon0, libxkbcommon-x11-0, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-image0, libxcb-render-util0, libxcb-shape0, libxcb-randr0, libxcb-xkb1, libdbus-1-3
Recommends: fonts-noto-cjk
Provides: enclave-runtime
Conflicts: $conflicts
Replaces: $conflicts
Section: misc
Priority: optional
Homepage: https://localhost/enclave
Description: private LLM workstation and on-prem appliance
 Runs GGUF language models locally with llama.cpp, keeps every conversation in an
 encrypted vault, and serves a locked-down OpenAI-compatible API. Includes the desktop
 app, the enclave CLI, and a hardened systemd service for headless appliance mode
 (see /usr/share/doc/$PACKAGE/README.Debian). Bundles its own Python runtime; the
 X11 libraries are those Qt's platform plugin loads (app/system_check.py), and the
 recommended CJK font shows the Chinese interface.
EOF

rm -f "$OUT"
start=$(date +%s)
# zstd: minutes faster than xz on these 500 MB (the demo model barely compresses anyway). Every
# dpkg that can run this bundle reads it (zstd: dpkg 1.21.18+, Ubuntu 21.10+; the bundle needs
# glibc 2.35+ in any case). DEB_COMPRESSION="-Zxz -z6" for the old default.
dpkg-deb --root-owner-group ${DEB_COMPRESSION:--Zzstd -z9} --build "$STAGE" "$OUT" >/dev/null
echo "deb: $OUT ($(du -h "$OUT" | cut -f1), installed $(( size_kb / 1024 )) MiB, libc6 >= $glibc, $(( $(date +%s) - start )) s)"
