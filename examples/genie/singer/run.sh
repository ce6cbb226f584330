#!/usr/bin/env bash
# Runs tap-rest-api-msdk against genie: every stream, Singer messages on stdout.
#   GENIE_URL=http://127.0.0.1:8000 GENIE_API_KEY=fg_live_… examples/genie/singer/run.sh > out.jsonl
# TAP: the tap's executable (default: .venv-clients/singer/bin/tap-rest-api-msdk, as .ci/run installs it)
# STATE: a state file (the value of the last STATE message of the previous run): the run goes
#   on from its bookmarks, GENIE_LOOKBACK_MINUTES (default 15) before them, so that rows that
#   arrived late (genie --chaos late-arrivals: up to 15 minutes) are read too. 0: no lookback.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
tap="${TAP:-$root/.venv-clients/singer/bin/tap-rest-api-msdk}"
: "${GENIE_URL:=http://127.0.0.1:8000}"
: "${GENIE_API_KEY:?set GENIE_API_KEY to the key genie printed}"
: "${GENIE_LOOKBACK_MINUTES:=15}"
export GENIE_LOOKBACK_MINUTES
config="$(mktemp -t genie-singer-XXXXXX.json)"
state="$(mktemp -t genie-singer-state-XXXXXX.json)"
trap 'rm -f "$config" "$state"' EXIT
# only ${GENIE_URL} and ${GENIE_API_KEY} are filled in; ${last_run_date} is the tap's own template
python3 - "$here/config.template.json" "$config" <<'PY'
import os, sys
text = open(sys.argv[1]).read()
text = text.replace("${GENIE_URL}", os.environ["GENIE_URL"].rstrip("/"))
text = text.replace("${GENIE_API_KEY}", os.environ["GENIE_API_KEY"])
open(sys.argv[2], "w").write(text)
PY
set --
if [ -n "${STATE:-}" ]; then
  # the tap has no lookback setting: move each timestamp bookmark back by the lookback
  # (a date bookmark, marketing_spend's, already means its day's first second)
  python3 - "$STATE" "$state" <<'PY'
import datetime as dt, json, os, sys
state = json.load(open(sys.argv[1]))
back = dt.timedelta(minutes=float(os.environ["GENIE_LOOKBACK_MINUTES"]))
for bookmark in state.get("bookmarks", {}).values():
    value = bookmark.get("replication_key_value")
    if isinstance(value, str) and len(value) > 10:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00")) - back
        bookmark["replication_key_value"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
json.dump(state, open(sys.argv[2], "w"))
PY
  set -- --state "$state"
fi
# not exec: the trap removes the config (it holds the key) when the tap is done
"$tap" --config "$config" "$@"
