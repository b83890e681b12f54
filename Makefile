# Task runner. The two commands a new user needs: `make demo` and `make test`.
SHELL := /bin/bash
# Lambda's runtime is python3.13: use it for the venv and for `sam build`.
find_python = $(shell for p in "$$(pyenv prefix $(1) 2>/dev/null)/bin/python" $(HOME)/.pyenv/versions/$(1)*/bin/python \
  "$$(command -v python$(1))"; do "$$p" -c 'import sys; assert sys.version[:5] == "$(1)."' 2>/dev/null && echo "$$p" && break; done)
PY313 ?= $(eval PY313 := $$(call find_python,3.13))$(PY313)
export PATH := $(dir $(PY313)):$(PATH)
# The code must also run on Python 3.11: the unit tests run there too when it is installed.
PY311 ?= $(eval PY311 := $$(call find_python,3.11))$(PY311)
# Big installs (Home Assistant, SAM CLI) are cached outside the checkout; never required.
export BRIDGE_CACHE ?= $(HOME)/.cache/ha-alexa-bridge
VENV := .venv
PY := $(VENV)/bin/python
EVENT ?= events/alexa.json

.PHONY: venv demo invoke setup test test-ha ruff imports docs nginx unit unit-py311 lint build bench profile clean

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.in requirements-dev.txt constraints.txt
	@test -n "$(PY313)" || { echo "Python 3.13 not found: install it (pyenv install 3.13.0) or set PY313=/path/to/python3.13"; exit 1; }
	test -x $(PY) || $(PY313) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

## Run the function locally on EVENT (default: Discovery), against a demo Home Assistant unless HA_URL is set
## (the newest release this machine's own Pythons run: devtools/demo_ha.py says which).
demo invoke: venv
	$(PY) -m devtools.local_invoke $(EVENT)

## From an Amazon developer account, AWS credentials and Home Assistant to a linked Smart Home skill
## (ARGS="--region eu --dry-run ..."; `make setup ARGS=--help` lists them; docs/deploy.md).
setup: venv
	$(PY) -m devtools.setup $(ARGS)

# The Home Assistant releases the integration suite runs against (devtools/ha_install.py RELEASES): the oldest the
# bridge supports and the newest tested. The first runs with the whole suite; CI runs one per job.
HA_TEST_VERSIONS ?= oldest newest

## The whole test suite: unit, template lint, integration against each real Home Assistant. CI runs this.
test: venv ruff imports docs unit-py311 nginx
	BRIDGE_HA_VERSION=$(firstword $(HA_TEST_VERSIONS)) $(PY) -m pytest -q tests
	@for version in $(wordlist 2,99,$(HA_TEST_VERSIONS)); do \
	  $(MAKE) --no-print-directory test-ha BRIDGE_HA_VERSION=$$version || exit 1; done

## The integration suite against one Home Assistant: make test-ha BRIDGE_HA_VERSION=newest (or oldest, or a
## release). Python 3.14 for the newest comes from a Debian root when the machine has none: root only, so
## without root that run is skipped, saying so.
test-ha: venv nginx
	@if [ "$$(id -u)" != 0 ] && ! $(PY) -m devtools.demo_ha python --version "$(BRIDGE_HA_VERSION)"; then \
	  echo "*** SKIPPED: the integration suite against Home Assistant $(BRIDGE_HA_VERSION): no Python for it" \
	    "(above), and only root can make one. Install it, or run make test as root. ***"; \
	else set -x; BRIDGE_HA_VERSION="$(BRIDGE_HA_VERSION)" $(PY) -m pytest -q tests/integration; fi

## Lint the Python code with ruff (rules in pyproject.toml); `make test` runs it first, as it takes a second.
ruff: venv
	$(VENV)/bin/ruff check .

## Check the layering with import-linter (contracts in pyproject.toml): lambda_function -> fast_path -> features
## -> gateway, no feature imports another, the shipped code never imports bench, devtools or the tests.
imports: venv
	$(VENV)/bin/lint-imports

## Build the reference in docs/ (mkdocs.yml) with --strict: a broken link or anchor fails it. `mkdocs serve` shows it.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# The integration tests put a real nginx in front of Home Assistant, as most owners who expose it do.
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -qq nginx-light || (apt-get update -qq && apt-get install -y -qq nginx-light)) >/dev/null; \
	  else echo "nginx is missing: install it (Debian/Ubuntu: sudo apt-get install nginx-light)"; exit 1; fi; }

## Everything but the integration suite: the code's unit tests, the tooling's, the repository's contracts.
unit: venv
	$(PY) -m pytest -q tests/unit tests/tooling tests/contracts

# The code's tests on Python 3.11: the shipped code's and the developer tools'. The benchmark runs on 3.13 only (its
# pictures need matplotlib, whose pinned numpy and contourpy have no 3.11 wheels), and so do its tests; the
# repository's contracts (the template's lint runs the SAM CLI's Python 3.13 venv) run once, in `make test`.
unit-py311:
	@if [ -x "$(PY311)" ]; then \
	  $(MAKE) --no-print-directory .venv311/.installed && \
	  .venv311/bin/python -m pytest -q -p no:cacheprovider tests/unit tests/tooling/devtools; \
	else echo "unit-py311: no Python 3.11 here, skipped"; fi

.venv311/.installed: requirements.in requirements-dev.txt constraints.txt
	test -x .venv311/bin/python || $(PY311) -m venv .venv311
	.venv311/bin/python -m pip install -q -r requirements-dev.txt
	touch $@

lint: venv
	$(PY) -m devtools.sam validate --lint --region us-east-1

build: venv
	$(PY) -m devtools.sam build

bench: venv
	$(PY) -m bench.run

## Import profile of the built artifact's hot path: python -X importtime, medians by package, with the budgets.
profile: build
	$(PY) -m devtools.profile_imports --python $(PY313)

# requirements.txt, what the build installs with --require-hashes: requirements.in compiled by pip-tools (from a
# venv cached beside the SAM CLI's), every dependency pinned with the sha256 of each of its files on the index.
PIP_TOOLS := $(BRIDGE_CACHE)/pip-tools-7.6.2
requirements:
	test -x $(PIP_TOOLS)/bin/pip-compile || { $(PY313) -m venv $(PIP_TOOLS) && \
	  $(PIP_TOOLS)/bin/python -m pip install -q pip-tools==7.6.2; }
	CUSTOM_COMPILE_COMMAND="make requirements" $(PIP_TOOLS)/bin/pip-compile --quiet --generate-hashes \
	  --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links --output-file requirements.txt \
	  requirements.in

clean:
	rm -rf $(VENV) .venv311 .aws-sam

# `sam build` runs this target (template.yaml: BuildMethod makefile) in the checkout (samconfig.toml:
# build_in_source) with ARTIFACTS_DIR set; the script ships only the runtime code, see its docstring.
.PHONY: build-BridgeFunction
build-BridgeFunction:
	$(PY313) devtools/build_function.py "$(ARTIFACTS_DIR)"
