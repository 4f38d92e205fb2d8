#!/usr/bin/env bash
# Install everything the tests need (etcd, kube-apiserver, the package with its dev
# extras) and run the linters and the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-control-plane.sh
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true

.venv/bin/ruff check src tests bench examples scripts
.venv/bin/ruff format --check src tests bench examples scripts
.venv/bin/mypy
.venv/bin/lint-imports
PATH="$PWD/.venv/bin:$PATH" .venv/bin/pytest "$@"
