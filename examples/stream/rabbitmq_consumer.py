"""Consume `aladdin stream --out amqp://...` and keep the current state of every row.

    pip install pika
    aladdin stream --start 2025-01-10 --speed 3600 --out amqp://guest:guest@127.0.0.1:5672 &
    python examples/stream/rabbitmq_consumer.py                          # everything
    python examples/stream/rabbitmq_consumer.py --binding 'ecommerce.orders.*'

Each message is {"table", "op", "seq", "ts", "row"}. Applying the messages in arrival order as
upserts (and deletes) gives the source's current state, even after the stream reconnected:
it re-sends everything after its last confirmed message, in order, so a message may arrive
twice (same seq) but never out of place. Duplicates are counted here, not needed for
correctness. Ctrl-C prints the summary.
"""

import argparse
import collections
import json

import pika


def key(table, row):
    """The primary key of a row: `id`, or (order_id, line_number) for order_items."""
    if "id" in row:
        return (table, row["id"])
    return (table, row.get("order_id"), row.get("line_number"))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2f")
    p.add_argument("--exchange", default="faux", help="aladdin stream --exchange")
    p.add_argument("--binding", default="ecommerce.#", help="<prefix>.<table>.<op> pattern")
    p.add_argument("--queue", default="", help="a durable queue that outlives this consumer "
                   "(default: a temporary queue, messages published while away are lost)")
    p.add_argument("--count", type=int, default=0, help="stop after this many messages")
    args = p.parse_args()

    connection = pika.BlockingConnection(pika.URLParameters(args.url))
    channel = connection.channel()
    # declared exactly as aladdin declares it, so either may start first
    channel.exchange_declare(args.exchange, exchange_type="topic", durable=True)
    if args.queue:
        queue = channel.queue_declare(args.queue, durable=True).method.queue
    else:
        queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, args.exchange, routing_key=args.binding)
    channel.basic_qos(prefetch_count=1000)

    state = {}
    seen = set()
    counts = collections.Counter()
    duplicates = 0
    received = 0
    last = None
    try:
        for method, _properties, body in channel.consume(queue, inactivity_timeout=None):
            m = json.loads(body)
            received += 1
            if m["seq"] in seen:
                duplicates += 1
            seen.add(m["seq"])
            if m["op"] == "delete":
                state.pop(key(m["table"], m["row"]), None)
            else:
                state[key(m["table"], m["row"])] = m["row"]
            counts[(m["table"], m["op"])] += 1
            last = m
            channel.basic_ack(method.delivery_tag)
            if received % 1000 == 0:
                print(f"{received} messages, {len(state)} rows, at {m['ts']} (seq {m['seq']})")
            if args.count and received >= args.count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        print(f"{received} messages ({duplicates} duplicates), {len(state)} rows held")
        for (table, op), n in sorted(counts.items()):
            print(f"  {table:<12} {op:<7} {n}")
        if last:
            print(f"last: seq {last['seq']} at {last['ts']}")
        connection.close()


if __name__ == "__main__":
    main()
