#!/usr/bin/env bash
# Runs tap-rest-api-msdk against genie: every stream, Singer messages on stdout.
#   GENIE_URL=http://127.0.0.1:8000 GENIE_API_KEY=fg_live_… examples/genie/singer/run.sh > out.jsonl
# TAP: the tap's executable (default: .venv-clients/singer/bin/tap-rest-api-msdk, as .ci/run installs it)
# STATE: a state file (the value of the last STATE message of the previous run): the run goes
#   on from its bookmarks, GENIE_LOOKBACK_MINUTES (default 15) before them, so that rows that
#   arrived late (genie --chaos late-arrivals: up to 15 minutes) are read too. 0: no lookback.
# GENIE_STREAMS: a comma-separated subset of the streams (default: all; a key that may not read
#   a resource gets a 403 for its stream, which stops the tap)
# GENIE_PAGE_SIZE: rows per page (default 1000); GENIE_START_DATE: the first updated_at read
#   when there is no bookmark (default the template's 2024-01-01T00:00:00Z)
# To land the records in PostgreSQL, pipe the output into a Singer target, e.g. MeltanoLabs'
# target-postgres with target.template.json (load_method upsert), and keep the last line it
# prints as the next run's STATE; or into load_postgres.py, which saves the state itself
# (README, "Singer" and "Clients that survive `hostile`").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
tap="${TAP:-$root/.venv-clients/singer/bin/tap-rest-api-msdk}"
: "${GENIE_URL:=http://127.0.0.1:8000}"
: "${GENIE_API_KEY:?set GENIE_API_KEY to the key genie printed}"
: "${GENIE_LOOKBACK_MINUTES:=15}"
export GENIE_LOOKBACK_MINUTES GENIE_URL GENIE_API_KEY
config="$(mktemp -t genie-singer-XXXXXX.json)"
state="$(mktemp -t genie-singer-state-XXXXXX.json)"
trap 'rm -f "$config" "$state"' EXIT
# only ${GENIE_URL} and ${GENIE_API_KEY} are filled in; ${last_run_date} is the tap's own template
python3 - "$here/config.template.json" "$config" <<'PY'
import json, os, sys
text = open(sys.argv[1]).read()
text = text.replace("${GENIE_URL}", os.environ["GENIE_URL"].rstrip("/"))
text = text.replace("${GENIE_API_KEY}", os.environ["GENIE_API_KEY"])
config = json.loads(text)
wanted = [s for s in os.environ.get("GENIE_STREAMS", "").split(",") if s]
if wanted:
    known = {s["name"] for s in config["streams"]}
    unknown = sorted(set(wanted) - known)
    if unknown:
        print(f"GENIE_STREAMS: unknown streams {', '.join(unknown)}; "
              f"valid: {', '.join(sorted(known))}", file=sys.stderr)
        sys.exit(2)
    config["streams"] = [s for s in config["streams"] if s["name"] in wanted]
if os.environ.get("GENIE_PAGE_SIZE"):
    size = os.environ["GENIE_PAGE_SIZE"]
    if not size.isdigit() or not 1 <= int(size) <= 1000:
        print(f"GENIE_PAGE_SIZE: {size!r} is not a page size: 1 to 1000 rows", file=sys.stderr)
        sys.exit(2)
    config["params"]["limit"] = int(size)
if os.environ.get("GENIE_START_DATE"):
    config["start_date"] = os.environ["GENIE_START_DATE"]
# each stream's schema from genie's OpenAPI document (the pinned version's shape): without
# one, the tap infers it from a request per stream before it syncs, a request it does not
# retry (genie --chaos fails it: no /openapi.json fault is injected)
import time, urllib.request
doc = None
for attempt in range(5):
    try:
        with urllib.request.urlopen(os.environ["GENIE_URL"].rstrip("/") + "/openapi.json", timeout=30) as r:
            doc = json.load(r)
        break
    except (OSError, ValueError) as e:
        print(f"run.sh: /openapi.json: {e}", file=sys.stderr)
        time.sleep(2**attempt)
if doc is None:
    print("run.sh: no /openapi.json: the tap infers the schemas", file=sys.stderr)
else:
    schemas = doc.get("components", {}).get("schemas", {})
    for stream in config["streams"]:
        props = schemas.get(stream["name"], {}).get("properties")
        if props:
            # no `format`: a date-time replication key would make the tap send its bookmark
            # without a time zone, which genie refuses (400)
            keep = ("type", "items", "properties")
            stream["schema"] = {
                "type": "object",
                "properties": {k: {x: v[x] for x in keep if x in v} for k, v in props.items()},
            }
json.dump(config, open(sys.argv[2], "w"), indent=2)
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
    # the tap hands back the bookmark it was given until a stream finishes: one still at the
    # value moved back last time goes back from where it was then, not a lookback further
    if value is not None and value == bookmark.get("genie_lookback_to"):
        value = bookmark["genie_lookback_from"]
    if isinstance(value, str) and len(value) > 10:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00")) - back
        moved = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        bookmark.update(replication_key_value=moved, genie_lookback_from=value, genie_lookback_to=moved)
json.dump(state, open(sys.argv[2], "w"))
PY
  set -- --state "$state"
fi
# genie's lists come in replication-key order (keyset on updated_at, or the time column), which
# the tap cannot declare: started through the SDK with its streams sorted, the tap's STATE moves
# on as it reads (every 100 records), so a run stopped part way (a 410 cursor_expired, a cut
# body) is run again from where it got to, not from the stream's start. Rows a next page
# repeats (--chaos overlapping-pages) are older, hence no sort check; the target upserts them.
python="$(dirname "$tap")/python"
# not exec: the trap removes the config (it holds the key) when the tap is done
if [ -x "$python" ]; then
  "$python" - --config "$config" "$@" <<'PY'
import sys
from tap_rest_api_msdk.streams import DynamicStream
from tap_rest_api_msdk.tap import TapRestApiMsdk
DynamicStream.is_sorted = property(lambda self: True)
DynamicStream.check_sorted = property(lambda self: False)
DynamicStream.STATE_MSG_FREQUENCY = 100
sys.argv[0] = "tap-rest-api-msdk"
sys.exit(TapRestApiMsdk.cli())
PY
else
  echo "run.sh: no python beside $tap: the tap runs unsorted (a stopped run starts its stream again)" >&2
  "$tap" --config "$config" "$@"
fi
