#!/usr/bin/env bash
# Install nebula-credential into .venv and run the main job on the local encrypted store:
# store -> get -> list -> delete, in a throw-away store (NEBULA_CREDENTIAL_HOME).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e . 2>&1 | grep -v '^WARNING: Location' || true
nc=.venv/bin/nebula-credential

NEBULA_CREDENTIAL_HOME=$(mktemp -d)
export NEBULA_CREDENTIAL_HOME
trap 'rm -rf "$NEBULA_CREDENTIAL_HOME"' EXIT
echo "# local store in $NEBULA_CREDENTIAL_HOME"

set -x
printf 'gho_demo_access_token\n' | $nc store github --kind oauth2 --scope user:alice \
  --owner alice --tag env=dev --field access_token=- --field client_id=demo-app
printf 's3cr3t\n' | $nc store billing-db --kind database --scope org:acme/team:billing \
  --field host=db.internal --field port=5432 --field username=billing --field password=-
$nc get github
$nc get github --field access_token --reveal
$nc --output json list --scope user:alice
$nc list
$nc delete github
$nc delete github
$nc list
