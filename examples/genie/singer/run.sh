#!/usr/bin/env bash
# Runs tap-rest-api-msdk against genie: every stream, Singer messages on stdout.
#   GENIE_URL=http://127.0.0.1:8000 GENIE_API_KEY=fg_live_… examples/genie/singer/run.sh > out.jsonl
# TAP: the tap's executable (default: .venv-clients/singer/bin/tap-rest-api-msdk, as .ci/run installs it)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
tap="${TAP:-$root/.venv-clients/singer/bin/tap-rest-api-msdk}"
: "${GENIE_URL:=http://127.0.0.1:8000}"
: "${GENIE_API_KEY:?set GENIE_API_KEY to the key genie printed}"
config="$(mktemp -t genie-singer-XXXXXX.json)"
trap 'rm -f "$config"' EXIT
# only ${GENIE_URL} and ${GENIE_API_KEY} are filled in; ${last_run_date} is the tap's own template
python3 - "$here/config.template.json" "$config" <<'PY'
import os, sys
text = open(sys.argv[1]).read()
text = text.replace("${GENIE_URL}", os.environ["GENIE_URL"].rstrip("/"))
text = text.replace("${GENIE_API_KEY}", os.environ["GENIE_API_KEY"])
open(sys.argv[2], "w").write(text)
PY
exec "$tap" --config "$config" ${STATE:+--state "$STATE"}
