#!/usr/bin/env python3
"""The configured catalog that `source-declarative-manifest read --catalog` wants, made from
the output of `source-declarative-manifest discover` (read on standard input): every
discovered stream, incremental on its cursor (`updated_at`, or the resource's time column),
deduplicated on its primary key. Standard library only.

    source-declarative-manifest discover --config config.json \\
      | python3 examples/genie/airbyte/configured_catalog.py > catalog.json

Name streams as arguments to keep only those: `... configured_catalog.py orders order_items`.
"""
import json
import sys


def main() -> int:
    wanted = set(sys.argv[1:])
    catalog = None
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue  # the CDK logs as text too
        if isinstance(message, dict) and message.get("type") == "CATALOG":
            catalog = message["catalog"]
    if catalog is None:
        print("no CATALOG message on standard input: pipe `discover` into this", file=sys.stderr)
        return 1
    streams = [s for s in catalog["streams"] if not wanted or s["name"] in wanted]
    unknown = wanted - {s["name"] for s in streams}
    if unknown:
        print(f"unknown streams: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    configured = [
        {
            "stream": s,
            "sync_mode": "incremental",
            "destination_sync_mode": "append_dedup",
            "cursor_field": s.get("default_cursor_field", []),
            "primary_key": s.get("source_defined_primary_key", []),
        }
        for s in streams
    ]
    json.dump({"streams": configured}, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
