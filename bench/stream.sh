#!/usr/bin/env bash
# `aladdin stream` throughput: messages/s to standard output, RabbitMQ and NATS JetStream at
# --speed 0 (no pacing), with publisher confirms / JetStream acks on (they always are).
#
# usage (from the repository root):
#   bench/stream.sh [FROM [TO]]           # days replayed, default 2025-01-10 2025-01-11
# environment:
#   RUNS=3                                 timed runs per case; the fastest is reported
#   AMQP=amqp://guest:guest@127.0.0.1:5672/%2f   NATS=nats://127.0.0.1:4222
#   WINDOWS="100 1000 10000"               --max-in-flight values tried per broker
#   BASELINE=path/to/another/aladdin       also time that binary's stdout case, side by side,
#                                          and print the ratio (e.g. a build of an older commit)
#   STDOUT_ONLY=1                          skip the brokers
#
# What is measured: the default e-commerce scenario, default tables (events and the changes of
# customers, products, orders, payments, shipments), every record of FROM..TO. Two rates are
# printed per case:
#   wall   messages / wall-clock time of the whole command (start-up, connecting, generating
#          the first day — later days generate on another thread while publishing);
#   stream messages / time from the first message ready to the last one confirmed, as
#          aladdin reports it.
# RabbitMQ: the exchange has one durable queue bound (messages are persistent, so the broker
# writes them to disk before it confirms); the queue is purged between runs and deleted at the
# end. NATS: a JetStream stream with file storage, deleted between runs. The brokers run on the
# same machine as aladdin and share its cores.
set -euo pipefail

FROM=${1:-2025-01-10}
TO=${2:-2025-01-11}
RUNS=${RUNS:-3}
AMQP=${AMQP:-amqp://guest:guest@127.0.0.1:5672/%2f}
NATS=${NATS:-nats://127.0.0.1:4222}
WINDOWS=${WINDOWS:-100 1000 10000}
VENV=target/stream-venv
EXCHANGE=faux-bench
PREFIX=fauxbench
STREAM=FAUXBENCH

if [ ! -f Cargo.toml ] || [ ! -d crates/aladdin ]; then
    echo "run this from the repository root: bench/stream.sh" >&2
    exit 2
fi

echo "== building aladdin (release)" >&2
cargo build --release -p aladdin >&2
BIN=target/release/aladdin
echo "== broker admin client virtualenv ($VENV: pika, nats-py)" >&2
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check pika nats-py >&2
PY=$VENV/bin/python

# admin ACTION: bind (declare exchange + durable queue), purge, drop (queue + exchange),
# nats-drop (the JetStream stream); prints the queue depth / stream size after
admin() {
    "$PY" - "$1" "$AMQP" "$NATS" "$EXCHANGE" "$PREFIX" "$STREAM" <<'EOF'
import asyncio, sys
action, amqp, nats_url, exchange, prefix, stream = sys.argv[1:]
if action.startswith("nats"):
    import nats
    async def main():
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        try:
            info = await js.stream_info(stream)
            print(info.state.messages)
            await js.delete_stream(stream)
        except Exception:
            print(0)
        await nc.close()
    asyncio.run(main())
else:
    import pika
    c = pika.BlockingConnection(pika.URLParameters(amqp))
    ch = c.channel()
    queue = exchange + "-queue"
    if action == "drop":
        ch.queue_delete(queue)
        ch.exchange_delete(exchange)
        print(0)
    else:
        ch.exchange_declare(exchange, exchange_type="topic", durable=True)
        q = ch.queue_declare(queue, durable=True)
        ch.queue_bind(queue, exchange, routing_key=prefix + ".#")
        print(q.method.message_count)
        if action == "purge":
            ch.queue_purge(queue)
    c.close()
EOF
}

# run LABEL ARGS…: RUNS timed runs, reports the fastest
run() {
    local label=$1
    shift
    local best_wall="" best_line="" depth=""
    for _ in $(seq 1 "$RUNS"); do
        case $label in
            rabbitmq*) admin purge >/dev/null ;;
            nats*) admin nats-drop >/dev/null ;;
        esac
        local t0 t1 line
        t0=$EPOCHREALTIME
        line=$("${RUN_BIN:-$BIN}" stream --start "$FROM" --until "$TO" --speed 0 "$@" 2>&1 >/dev/null | tail -1)
        t1=$EPOCHREALTIME
        local wall
        wall=$(echo "$t1 - $t0" | bc -l)
        case $label in
            rabbitmq*) depth=$(admin bind) ;;
            nats*) depth=$(admin nats-drop) ;;
            *) depth="-" ;;
        esac
        if [ -z "$best_wall" ] || [ "$(echo "$wall < $best_wall" | bc -l)" = 1 ]; then
            best_wall=$wall
            best_line=$line
        fi
    done
    local messages stream_rate
    messages=$(echo "$best_line" | sed -E 's/^([0-9,]+) messages.*/\1/' | tr -d ,)
    stream_rate=$(echo "$best_line" | sed -E 's/.*\(([0-9]+) msg\/s\).*/\1/')
    LAST_RATE=$(echo "$messages / $best_wall" | bc -l)
    printf "%-28s %9s messages  wall %6.2f s  %8.0f msg/s  stream %8s msg/s  stored %s\n" \
        "$label" "$messages" "$best_wall" "$LAST_RATE" \
        "$stream_rate" "$depth"
}

echo "== $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), RabbitMQ $(rabbitmqctl version 2>/dev/null || echo '?'), $(nats-server --version 2>/dev/null || echo 'nats-server ?')"
echo "== aladdin stream --speed 0, $FROM..$TO, default tables, best of $RUNS"
admin bind >/dev/null
run "stdout (> /dev/null)" --out -
if [ -n "${BASELINE:-}" ]; then
    ours=$LAST_RATE
    RUN_BIN=$BASELINE run "stdout, baseline" --out -
    printf "== stdout: %.1fx the baseline (%s)\n" "$(echo "$ours / $LAST_RATE" | bc -l)" "$BASELINE"
fi
if [ -n "${STDOUT_ONLY:-}" ]; then
    admin drop >/dev/null
    exit 0
fi
for w in $WINDOWS; do
    run "rabbitmq --max-in-flight $w" --out "$AMQP" --exchange "$EXCHANGE" --prefix "$PREFIX" --max-in-flight "$w"
done
for w in $WINDOWS; do
    run "nats --max-in-flight $w" --out "$NATS" --prefix "$PREFIX" --stream "$STREAM" --max-in-flight "$w"
done
admin drop >/dev/null
admin nats-drop >/dev/null
