# The two set-up commands of the README, for people who have make.
PY ?= python3
VENV := .venv

.PHONY: demo test clean
demo:
	$(PY) -m venv $(VENV) && $(VENV)/bin/pip install -q -e . && $(VENV)/bin/nianbao demo demo-output

test:
	$(PY) -m venv $(VENV) && $(VENV)/bin/pip install -q -e '.[test]' && $(VENV)/bin/python -m pytest

clean:
	rm -rf $(VENV) demo-output test-output
