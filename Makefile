# make demo: a few sample commands · make test: the whole suite · make bench: jaccli beside plain JAX · make fuzz: the fuzzer, long
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
JACCLI := $(VENV)/bin/jaccli
STAMP := $(VENV)/.installed-test

.PHONY: demo test bench fuzz clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	$(PY) -m compileall -q jaccli  # an editable install has no .pyc, and PYTHONDONTWRITEBYTECODE may be set
	touch $(STAMP)

demo: $(STAMP)
	@bash samples/demo.sh $(JACCLI)

test: $(STAMP)
	$(PY) -m pytest -q -n auto --dist loadgroup  # one worker a core (JAX compiles are CPU-bound); a module's shared process stays on one worker

fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2000} $(PY) -m pytest -q -p no:cacheprovider tests/test_fuzz.py tests/test_properties.py

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
