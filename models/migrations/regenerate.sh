#!/usr/bin/env bash
# Regenerates the initial migration from the models (only while nothing is deployed).
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -f models/migrations/versions/*.py /tmp/banzhuren-autogen.db
python - <<'PY'
from alembic import command
from models.migrate import alembic_config
cfg = alembic_config("sqlite:////tmp/banzhuren-autogen.db")
command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
PY
rm -f /tmp/banzhuren-autogen.db
