#!/usr/bin/env bash
# Regenerates the design picture, docs/design/stack.svg, from its committed
# source docs/design/stack.dot (installs graphviz when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/install_missing.sh
install_missing docs.sh graphviz
dot -Tsvg docs/design/stack.dot -o docs/design/stack.svg
echo "wrote docs/design/stack.svg"
