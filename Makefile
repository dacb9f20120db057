# make demo: set up, then train the default recipe (LeNet-5 on MNIST) and summarise it in runs/demo.
# make test: set up, then the fast test suite. make slow: every recipe to its expected metric.
PY := .venv/bin/python

.PHONY: setup demo test slow bench docs lint

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) -m neuralab train lenet5-mnist --out runs/demo-$$(date +%Y%m%d-%H%M%S)

test: setup
	$(PY) -m pytest -q

slow: setup
	$(PY) -m pytest -q -m slow

bench: setup
	$(PY) benchmarks/lenet5_loop.py

docs: setup
	$(PY) scripts/results_table.py

lint: setup
	$(PY) -m ruff check src tests benchmarks scripts
