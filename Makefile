# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# llama-cpp-python compiles llama.cpp from source; pip caches the wheel after the first build.
# Portable x86-64-v3 kernels rather than -march=native: on CPUs with AMX, native builds use llama.cpp's
# AMX kernels, which GCC 12 miscompiles (the tile config is never stored: SIGILL; llama.cpp PR 26954).
# The installers use runtime dispatch with that fixed (packaging/build_llama_wheel.sh).
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON

.PHONY: run test serve bench lint install install-dev package package-test clean

I18N_TS := $(wildcard assets/i18n/*.ts)
I18N_QM := $(I18N_TS:.ts=.qm)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel

# Stamp files keep repeated `make` calls from re-running pip when pyproject.toml has not changed.
$(VENV)/.installed-run: pyproject.toml engine/runtime/_scan.c | $(PY)
	$(PIP) install -q -e '.[demo]'
	touch $@

# Fine-tuning needs PyTorch. PyPI's Linux x86-64 wheels of torch are CUDA builds (2.14.1: a 555 MB wheel
# plus 2.2 GB of nvidia-* wheels, 5.5 GB installed); PyTorch's CPU builds are not on PyPI. Development
# machines of this project carry the CPU build of 2.13.0 where pip finds it (192 MB wheel, 754 MB
# installed), so the pin keeps `make test` off the CUDA download. `make test TORCH=torch` takes PyPI's latest.
TORCH ?= torch==2.13.0

$(VENV)/.installed-dev: pyproject.toml engine/runtime/_scan.c | $(PY)
	$(PIP) install -q '$(TORCH)'
	$(PIP) install -q -e '.[demo,dev,train]'
	touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

run: install $(I18N_QM)
	$(VENV)/bin/enclave gui

test: install-dev $(I18N_QM)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

serve: install
	$(VENV)/bin/enclave serve

bench: install-dev
	$(PIP) install -q -e '.[demo,dev,bench]'
	$(PY) bench/run_all.py

lint: install-dev
	$(VENV)/bin/ruff check engine app tests bench
	$(VENV)/bin/mypy engine
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

# Installers (packaging/): bundle + .deb + SBOM + SHA256SUMS in dist/, then the .deb's smoke test.
# Not part of `make test`: the first run compiles llama.cpp for distribution (all CPU variants, long,
# cached in ~/.cache/enclave-build) and PyInstaller takes minutes.
package:
	packaging/linux/package.sh cpu

# Runs from the build venv, which lacks the dev extras tests/conftest.py imports: --noconftest
# (the smoke tests use none of its fixtures; they build each subprocess's environment themselves).
package-test:
	build/package/venv-cpu/bin/python -m pytest -m package tests/packaging -v -s -p no:cacheprovider --noconftest

# Translations (app/ → assets/i18n): `make i18n` extracts new tr() strings into the .ts sources and
# compiles the .qm catalogues the app loads. Both are committed; tests/gui/test_i18n.py fails when a
# string is untranslated or a .qm is out of step with its .ts.
.PHONY: i18n
i18n: install
	$(VENV)/bin/pyside6-lupdate -no-obsolete -locations none $$(find app -name '*.py' | sort) -ts $(I18N_TS)
	$(MAKE) $(I18N_QM)

assets/i18n/%.qm: assets/i18n/%.ts | $(VENV)/.installed-run
	$(VENV)/bin/pyside6-lrelease -silent $< -qm $@
