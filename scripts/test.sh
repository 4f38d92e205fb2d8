#!/usr/bin/env bash
# Install everything the tests need (etcd, kube-apiserver, the package with its dev
# extras), run the linters and the whole test suite on Python 3.11, then the tests that
# need no API server on every other supported Python found on this machine (3.12, 3.13:
# on PATH or under pyenv); NEBULA_FULL_MATRIX=1 runs the whole suite there too (each
# takes as long as the 3.11 run). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-control-plane.sh
# The KMS plugin's PKCS#11 tests keep their KEK in a SoftHSM2 token (Debian's softhsm2).
if ! command -v softhsm2-util >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends softhsm2 >/dev/null
fi

# venv_for PYTHON DIR: a virtual environment in DIR with the package and its dev tools.
venv_for() {
  "$1" -m venv "$2"
  "$2/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 \
    | grep -v '^WARNING: Location' || true
  # The manifest tests validate 1.20 output offline; kubernetes-validate 1.29+ dropped
  # those schemas, so the last release bundling them sits beside the venv's own.
  "$2/bin/python" -m pip install -q --disable-pip-version-check --no-deps --upgrade \
    --target "$2/kubernetes-validate-1.28" 'kubernetes-validate==1.28.3' 2>&1 \
    | grep -v '^WARNING: Location' || true
}

# find_python VERSION: an interpreter of that version that runs, or nothing.
find_python() {
  local candidate
  for candidate in "python$1" "${PYENV_ROOT:-$(cd ~ && pwd)/.pyenv}/versions/$1".*/bin/"python$1"; do
    if "$candidate" -c 'import sys' >/dev/null 2>&1; then
      command -v "$candidate"
      return
    fi
  done
}

main_python=$(find_python 3.11)
[ -n "$main_python" ] || main_python=python3
venv_for "$main_python" .venv

.venv/bin/ruff check src tests bench examples scripts
.venv/bin/ruff format --check src tests bench examples scripts
.venv/bin/mypy
.venv/bin/lint-imports
PATH="$PWD/.venv/bin:$PATH" .venv/bin/pytest "$@"

for version in 3.12 3.13; do
  python=$(find_python "$version")
  if [ -z "$python" ]; then
    echo "# Python $version not found; skipped"
    continue
  fi
  venv_for "$python" ".venv-$version"
  # The API-server tests exercise our code the same way on every Python: once, on 3.11,
  # keeps CI well inside its time limit while the rest still runs on each version.
  only=(-m "not kubernetes")
  [ "${NEBULA_FULL_MATRIX:-0}" = 1 ] && only=()
  echo "# the test suite on Python $version ($python)${only:+, without the API-server tests}"
  PATH="$PWD/.venv-$version/bin:$PATH" ".venv-$version/bin/pytest" -p no:cacheprovider \
    "${only[@]}" "$@"
done
