"""Consume `aladdin stream --out nats://...` from its JetStream stream.

    pip install nats-py
    aladdin stream --start 2025-01-10 --speed 3600 --out nats://127.0.0.1:4222 &
    python examples/stream/nats_consumer.py                              # from the first message
    python examples/stream/nats_consumer.py --subject 'ecommerce.orders.>' --new

The stream (default name ECOMMERCE, subjects ecommerce.>) keeps every message, so a consumer
may start before, during or after `aladdin stream`. Messages are applied in stream order as
upserts (and deletes): after a reconnection aladdin re-sends everything after its last
acknowledged message, so a seq may appear twice; applying them in order still ends in the
source's state. Ctrl-C (or --idle seconds without a message) prints the summary.
"""

import argparse
import asyncio
import collections
import json

import nats
from nats.js.api import ConsumerConfig, DeliverPolicy


def key(table, row):
    if "id" in row:
        return (table, row["id"])
    return (table, row.get("order_id"), row.get("line_number"))


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", default="nats://127.0.0.1:4222")
    p.add_argument("--stream", default="ECOMMERCE", help="aladdin stream --stream")
    p.add_argument("--subject", default="ecommerce.>", help="<prefix>.<table>.<op> filter")
    p.add_argument("--new", action="store_true", help="only messages published from now on")
    p.add_argument("--idle", type=float, default=0, help="stop after this many quiet seconds")
    args = p.parse_args()

    nc = await nats.connect(args.server)
    js = nc.jetstream()
    policy = DeliverPolicy.NEW if args.new else DeliverPolicy.ALL
    sub = await js.subscribe(args.subject, stream=args.stream, ordered_consumer=True,
                             config=ConsumerConfig(deliver_policy=policy))
    state, seen, counts = {}, set(), collections.Counter()
    received = duplicates = 0
    last = None
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=args.idle or 3600)
            except nats.errors.TimeoutError:
                if args.idle:
                    break
                continue
            m = json.loads(msg.data)
            received += 1
            duplicates += m["seq"] in seen
            seen.add(m["seq"])
            if m["op"] == "delete":
                state.pop(key(m["table"], m["row"]), None)
            else:
                state[key(m["table"], m["row"])] = m["row"]
            counts[(m["table"], m["op"])] += 1
            last = m
            if received % 1000 == 0:
                print(f"{received} messages, {len(state)} rows, at {m['ts']} (seq {m['seq']})")
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    finally:
        print(f"{received} messages ({duplicates} duplicates), {len(state)} rows held")
        for (table, op), n in sorted(counts.items()):
            print(f"  {table:<12} {op:<7} {n}")
        if last:
            print(f"last: seq {last['seq']} at {last['ts']}")
        await nc.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
