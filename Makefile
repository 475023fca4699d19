# Two commands a newcomer needs (see README.md):
#   make all    set up .venv, build the course corpus if missing, generate music from the pretrained bundles
#   make test   set up .venv the same way and run the whole test suite (notebooks in quick mode)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all setup test lint format corpus demo lab bundles evaluate doctor wheelhouse offline-install clean

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
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

# ruff: `make lint` checks what `make test` checks; `make format` rewrites the code in the project's style.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

corpus: setup
	$(BIN)/melody_rnn build_corpus --subset full

demo: setup
	$(BIN)/melody_rnn demo --output_dir output/demo

# The pretrained bundles in data/bundles/ were made with `make bundles` (see data/README.md): each
# config trains with evaluation every 500 steps, and its bundle takes the best evaluation's weights.
CONFIGS := basic_rnn mono_rnn lookback_rnn attention_rnn
BUNDLE_STEPS ?= 30000
BUNDLE_HPARAMS ?= batch_size=64
bundles: setup
	$(BIN)/melody_rnn build_corpus --subset full
	for config in $(CONFIGS); do \
	  $(BIN)/melody_rnn train --config=$$config --run_dir=output/runs/$$config --hparams=$(BUNDLE_HPARAMS) \
	    --sequence_example_file=data/corpus/full/$$config/training_melodies.tfrecord \
	    --eval_sequence_example_file=data/corpus/full/$$config/eval_melodies.tfrecord \
	    --num_training_steps=$(BUNDLE_STEPS) --eval_frequency=500 --summary_frequency=50 --seed=1 || exit 1; \
	  $(BIN)/melody_rnn generate --save_generator_bundle --checkpoint_file=output/runs/$$config/best \
	    --bundle_file=data/bundles/$$config.bundle \
	    --bundle_description="$$config, hparams $(BUNDLE_HPARAMS), trained on the course corpus (full subset, training split)" || exit 1; \
	done

evaluate: setup
	$(BIN)/python benchmarks/course_evaluation.py --output_json output/evaluation.json

# Workshops with poor Wi-Fi: `make wheelhouse` (online, once) fills wheelhouse/ with every wheel the
# course needs for this platform and Python; copy the repository with it to a USB stick, then on each
# laptop `make offline-install` sets up .venv from it with no network at all.
WHEELHOUSE ?= wheelhouse
wheelhouse: setup
	$(BIN)/python -m pip download --quiet -d $(WHEELHOUSE) pip "setuptools>=64" wheel
	$(BIN)/python -m pip wheel --quiet -w $(WHEELHOUSE) ".[notebooks,dev]"
	@echo "wheelhouse: $$(ls $(WHEELHOUSE) | wc -l) files in $(WHEELHOUSE)/"

offline-install:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --no-index --find-links $(WHEELHOUSE) --quiet --upgrade pip
	$(BIN)/python -m pip install --no-index --find-links $(WHEELHOUSE) --quiet -e ".[notebooks,dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name melodylib --display-name "Python (melodylib)" > /dev/null
	touch $(STAMP)

lab: setup
	$(BIN)/jupyter lab notebooks/

doctor: setup
	$(BIN)/melody_rnn doctor

clean:
	rm -rf $(VENV) output .pytest_cache
