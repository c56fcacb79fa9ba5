# Every target that runs code first makes sure .venv exists and holds the project.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo explore test test-full bench figures lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/repsim demo

# The teaching page on http://127.0.0.1:5006/ (the dev install includes repsim[explore]).
explore: $(STAMP)
	$(VENV)/bin/repsim explore

test: $(STAMP)
	$(PY) -m ruff check sim tests benchmarks scripts
	$(PY) -m pytest -q

# The heavy statistical checks at four times their length (narrower intervals).
test-full: $(STAMP)
	REPSIM_FULL=1 $(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# Every committed figure (results/example, docs/*.png) from the current code; see the script.
figures: $(STAMP)
	$(PY) scripts/figures.py

lint: $(STAMP)
	$(PY) -m ruff check sim tests benchmarks scripts

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
