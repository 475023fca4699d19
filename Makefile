# Two commands a newcomer needs (see README.md):
#   make all    set up .venv, build the course corpus if missing, generate music from the pretrained bundles
#   make test   set up .venv the same way and run the whole test suite (notebooks in quick mode)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all setup test corpus demo lab bundles evaluate benchmarks wheelhouse offline-install doctor clean

all: setup corpus demo

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed; set PYTHON=python3.x")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[notebooks,dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name melodylib --display-name "Python (melodylib)" > /dev/null
	touch $(STAMP)

setup: $(STAMP)

test: setup
	$(BIN)/python -m pytest -q

corpus: setup
	$(BIN)/melody_rnn build_corpus

demo: setup
	$(BIN)/melody_rnn demo --output_dir output/demo

lab: setup
	$(BIN)/jupyter lab notebooks/

doctor: setup
	$(BIN)/melody_rnn doctor

clean:
	rm -rf $(VENV) output .pytest_cache
