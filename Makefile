# Two commands do all set-up on a fresh machine:  make demo   and   make test
# Both create .venv at the repo root if missing and install the project into it.

PYTHON      ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip
# llama-cpp-python ships only as an sdist (~17 min to compile on 2 cores): build it once, reuse the wheel.
WHEEL_CACHE ?= $(HOME)/.cache/appliance/wheels
LLAMA_CPP   := llama-cpp-python==0.3.36
STAMP       := $(VENV)/.installed

.PHONY: demo test install clean wheels bench scrub-model

demo: $(STAMP)
	$(VENV)/bin/appliance demo

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

install: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel

# torch first (the pinned CPU build), so nothing later pulls a CUDA build; DeepSpeed's setup.py imports
# torch, so it is built against the installed one (no build isolation, no JIT ops).
$(STAMP): $(VENV)/bin/python pyproject.toml Makefile
	$(PIP) install --quiet torch==2.13.0
	@mkdir -p $(WHEEL_CACHE)
	@if ! ls $(WHEEL_CACHE)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then \
		echo "building $(LLAMA_CPP) once (portable, ~17 min on 2 cores); cached in $(WHEEL_CACHE)"; \
		CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
			$(PIP) wheel --no-deps --wheel-dir $(WHEEL_CACHE) $(LLAMA_CPP); \
	fi
	DS_BUILD_OPS=0 $(PIP) install --quiet --no-build-isolation deepspeed==0.19.8
	$(PIP) install --quiet --find-links $(WHEEL_CACHE) -e '.[test]'
	@touch $(STAMP)

bench: $(STAMP)
	$(PIP) install --quiet --find-links $(WHEEL_CACHE) -e '.[test,bench]'
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

# the scrubber's default learned model, rebuilt from public data (same inputs -> same bytes)
PHYSIONET_DEV ?= ../shared/data/pii-dev/physionet-deid-dev
scrub-model: $(STAMP)
	$(VENV)/bin/appliance scrub train --default --devset $(PHYSIONET_DEV) -o appliance/data/scrub

clean:
	rm -rf $(VENV) build *.egg-info
