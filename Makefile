# The two set-up commands of the README, for people who have make.
PY ?= python3
VENV := .venv

.PHONY: demo test quick lint clean bundle bundle-test
demo:
	$(PY) -m venv $(VENV) && $(VENV)/bin/pip install -q -e . && $(VENV)/bin/nianbao demo demo-output

test:
	$(PY) -m venv $(VENV) && $(VENV)/bin/pip install -q -e '.[test]' && $(VENV)/bin/python -m pytest

# The everyday run: no fuzzing, no browser, no LibreOffice (CI runs everything).
quick:
	$(VENV)/bin/python -m pytest -q -m "not slow and not browser and not libreoffice"

# Offline install bundles (Windows x86-64, Linux x86-64/aarch64) into dist/offline; needs the package index.
bundle:
	$(VENV)/bin/python scripts/offline_bundle.py -o dist/offline

bundle-test:
	$(VENV)/bin/python -m pytest -q -m bundle --durations=5

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) demo-output test-output
