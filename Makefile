# dolbom — two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DEBS := espeak-ng libportaudio2
TEST_DEBS := mosquitto postgresql pgbouncer espeak-ng sox libportaudio2 chromium fonts-nanum libzbar0

.PHONY: demo test lint i18n fmt bench venv services clean check-arm64

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dolbom needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,robot,cloud,research,models,en]'
	@touch $@

venv: $(STAMP)

demo: $(STAMP)
	@deploy/dev/ensure-system.sh $(DEMO_DEBS)
	$(BIN)/dolbom sim scenario firmware_sim/scenarios/fall-no-response.toml
	$(BIN)/dolbom demo

services:
	@deploy/dev/ensure-system.sh $(TEST_DEBS)
	@deploy/dev/ensure-services.sh

MYPY_PATHS := protocol device cloud models firmware_sim dolbom benchmarks tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(MYPY_PATHS)

# The app's words (docs/app.md): extract from code and templates, update both catalogues, compile.
i18n: $(STAMP)
	$(BIN)/pybabel extract -F cloud/app/babel.cfg -k message:2 --sort-output --project dolbom \
	  --version 1 --copyright-holder dolbom --msgid-bugs-address "" -o cloud/app/locale/dolbom.pot .
	$(BIN)/pybabel update -i cloud/app/locale/dolbom.pot -d cloud/app/locale -D dolbom --no-fuzzy-matching
	$(BIN)/pybabel compile -d cloud/app/locale -D dolbom

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The same lint as `make lint`, but mypy (a cold cache on a fresh clone: ~40 s of one core) runs
# beside pytest; its output follows the tests' and a mypy error fails the target as before.
# pytest runs in PYTEST_WORKERS processes (pytest-xdist, work stealing): one process left the
# second core mostly idle (load ~1), since most tests wait on brokers, databases, subprocesses
# and browsers. Measured on a quiet machine: 1,046 s in one process, 605 s in two. Each worker
# has its own PostgreSQL scratch database, SQLite template, chromium and temp dirs; the tests on
# the shared Mosquitto use their own client ids, topics and share groups.
PYTEST_WORKERS ?= 2
test: $(STAMP) services
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@log=$$(mktemp); $(BIN)/mypy $(MYPY_PATHS) >$$log 2>&1 & mypy=$$!; \
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a bug in the suite, not a pass" >&2; fi; \
	wait $$mypy; mypy_rc=$$?; echo "mypy $(MYPY_PATHS):"; cat $$log; rm -f $$log; \
	if [ $$mypy_rc -ne 0 ]; then echo "mypy failed (exit $$mypy_rc)" >&2; if [ $$rc -eq 0 ]; then rc=1; fi; fi; \
	exit $$rc

bench: $(STAMP) services
	$(BIN)/python benchmarks/intent_recall.py
	$(BIN)/python benchmarks/gate.py
	$(BIN)/python benchmarks/voice_to_alert.py --both
	$(BIN)/python benchmarks/alerts.py
	$(BIN)/python benchmarks/perception.py
	$(BIN)/python benchmarks/sound.py
	$(BIN)/python benchmarks/dialog.py
	$(BIN)/python benchmarks/research.py
	$(BIN)/python benchmarks/fleet.py
	$(BIN)/python benchmarks/stored_reports.py
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python -m benchmarks.chaos --rounds 100 --seed 14
	$(BIN)/python benchmarks/app.py

# Not part of `make test`: an arm64 Debian rootfs under qemu-user, dolbom[robot] from aarch64
# wheels, transcripts and intents compared with x86, self-tests, a scripted minute (root, slow).
check-arm64: $(STAMP)
	nice -n 10 deploy/pi/check-arm64.sh

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
