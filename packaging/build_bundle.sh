#!/usr/bin/env bash
# Build the one-folder bundle dist/enclave/ (dist/Enclave.app on macOS) with PyInstaller.
#
# Usage: packaging/build_bundle.sh [cpu|cuda|vulkan|metal]     (default: cpu; metal on macOS)
#
# 1. the distribution llama-cpp-python wheel (packaging/build_llama_wheel.sh, cached),
# 2. a build venv (build/package/venv-<variant>) with that wheel, this project and its [demo,package]
#    extras — never the developer venv, whose llama.cpp is tuned for the build machine,
# 3. licence notices and the app icon into build/package/,
# 4. PyInstaller with packaging/enclave.spec,
# 5. prints the bundle's size and its start-up time (`enclave --version`, best of 3).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
case "$(uname -s)" in
    Darwin) DEFAULT_VARIANT=metal ;;
    *) DEFAULT_VARIANT=cpu ;;
esac
VARIANT="${1:-$DEFAULT_VARIANT}"
PYTHON="${PYTHON:-python3}"
BUILD="$ROOT/build/package"
VENV="$BUILD/venv-$VARIANT"
DIST="$ROOT/dist"
case "$(uname -s)" in
    MINGW*|MSYS*|CYGWIN*) VPY="$VENV/Scripts/python.exe"; EXE="$DIST/enclave/enclave.exe" ;;
    *) VPY="$VENV/bin/python"; EXE="$DIST/enclave/enclave" ;;
esac
mkdir -p "$BUILD"

# 1. llama.cpp for distribution (minutes to an hour the first time; cached afterwards).
wheel="$(PYTHON="$PYTHON" "$ROOT/packaging/build_llama_wheel.sh" "$VARIANT" | tail -n1)"
wheel_dir="$(dirname "$wheel")"

# 2. The build venv. The wheel is force-installed when it changed, since every build of one
#    llama-cpp-python version carries the same version number.
[ -x "$VPY" ] || "$PYTHON" -m venv "$VENV"
pip_quiet() { "$VPY" -m pip "$@" 2> >(grep -v "is ignored: it is neither" >&2); }
if [ "$(cat "$VENV/.llama-wheel" 2>/dev/null)" != "$wheel" ]; then
    pip_quiet install --quiet --force-reinstall --no-deps "$wheel"
    echo "$wheel" > "$VENV/.llama-wheel"
fi
pip_quiet install --quiet "$wheel" "$ROOT[demo,package]"

# 3. Notices that do not come from installed distributions: llama.cpp's own licence (the wheel
#    carries only the bindings' one) and what was built; and the icon for Windows/macOS.
rm -rf "$BUILD/notices" && mkdir -p "$BUILD/notices"
sdist="$(ls "${ENCLAVE_BUILD_CACHE:-$HOME/.cache/enclave-build}"/src/llama_cpp_python-*.tar.gz | head -n1)"
top="$(basename "$sdist" .tar.gz)"
tar -xzOf "$sdist" "$top/vendor/llama.cpp/LICENSE" > "$BUILD/notices/llama.cpp-LICENSE"
tar -xzOf "$sdist" "$top/vendor/llama.cpp/licenses/LICENSE-jsonhpp" > "$BUILD/notices/llama.cpp-LICENSE-jsonhpp" || true
cp "$wheel_dir/build-info.json" "$BUILD/notices/llama.cpp-build-info.json"
QT_QPA_PLATFORM=offscreen "$VPY" - "$ROOT/assets/icons/enclave.svg" "$BUILD/enclave.png" <<'EOF'
import sys
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer
app = QGuiApplication([])
image = QImage(512, 512, QImage.Format.Format_ARGB32)
image.fill(Qt.GlobalColor.transparent)
painter = QPainter(image)
QSvgRenderer(sys.argv[1]).render(painter)
painter.end()
image.save(sys.argv[2])
EOF
# Inno Setup wants an .ico (PyInstaller converts the PNG itself for the executables).
"$VPY" -c "import sys; from PIL import Image; Image.open(sys.argv[1]).save(sys.argv[2], sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])" \
    "$BUILD/enclave.png" "$BUILD/enclave.ico"

# 4. The bundle.
start=$(date +%s)
nice -n 10 "$VPY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$BUILD/pyinstaller" "$ROOT/packaging/enclave.spec"
echo "pyinstaller: $(( $(date +%s) - start )) s"

# 5. What the README quotes: size on disk and time to a working `enclave --version`.
if [ -d "$DIST/Enclave.app" ]; then
    EXE="$DIST/Enclave.app/Contents/MacOS/enclave"
    du -sh "$DIST/Enclave.app" | awk '{print "bundle size: " $1 " (Enclave.app)"}'
else
    du -sh "$DIST/enclave" | awk '{print "bundle size: " $1 " (dist/enclave)"}'
fi
"$EXE" --version
"$VPY" - "$EXE" <<'EOF'
import subprocess, sys, time
runs = []
for _ in range(3):
    t = time.perf_counter()
    subprocess.run([sys.argv[1], "--version"], check=True, capture_output=True)
    runs.append(time.perf_counter() - t)
print(f"start-up time (enclave --version): {min(runs):.2f} s best of 3, {max(runs):.2f} s worst")
EOF
