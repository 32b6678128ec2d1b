#!/usr/bin/env bash
# cluster.sh - checks/s and schedule lag with 1 and with 3 `forewarn serve` instances sharing
# one PostgreSQL (same machine, loopback target).
#
# For each instance count in $INSTANCES it creates a fresh schema, starts the instances (each
# with its own listen port, all reading the same checks), lets the leases settle for $WARMUP
# seconds, then measures $DUR seconds from what the instances wrote to check_result:
#   checks/s      results started in the window / window
#   lag p50/p99   started_at - planned_at over those results (the scheduler's lag, which
#                 includes waiting for a concurrency permit)
#   double runs   (check, planned start) pairs run more than once: must be 0 (one owner a round)
#   cpu ms/check  user+system CPU of all instances together / results
# then stops the instances (TERM) and drops the schema.
#
# Knobs: BIN (default target/release/forewarn), PG_URL (default $FOREWARN_TEST_POSTGRES or
# postgres://postgres@127.0.0.1:5432/test), CHECKS=1000, INTERVAL=1s, DUR=30, WARMUP=12,
# LEASE=6s, INSTANCES="1 3", PORT=18090 (the target). Needs psql and python3. Touches only
# 127.0.0.1 and the schemas it creates.
set -euo pipefail
export LC_ALL=C

BIN=${BIN:-target/release/forewarn}
PG_URL=${PG_URL:-${FOREWARN_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}}
CHECKS=${CHECKS:-1000}
INTERVAL=${INTERVAL:-1s}
DUR=${DUR:-30}
WARMUP=${WARMUP:-12}
LEASE=${LEASE:-6s}
INSTANCES=${INSTANCES:-"1 3"}
PORT=${PORT:-18090}

log() { printf '[cluster-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ -x $BIN ]] || die "$BIN not found: cargo build --release (or set BIN)"
command -v psql >/dev/null || die "psql is needed"
command -v python3 >/dev/null || die "python3 is needed"

WORK=$(mktemp -d /tmp/forewarn-cluster-bench.XXXXXX)
PIDS=()
TARGET_PID=
SCHEMA=
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    set +e
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    [[ -n $TARGET_PID ]] && kill "$TARGET_PID" 2>/dev/null && wait "$TARGET_PID" 2>/dev/null
    [[ -n $SCHEMA ]] && psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The target: answers 200 "ok" to anything, one connection per request, on loopback only.
python3 - "$PORT" <<'PY' &
import asyncio, sys
async def handle(reader, writer):
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n")
        await writer.drain()
    except Exception:
        pass
    writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY
TARGET_PID=$!
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$PORT/" >/dev/null || die "the target did not start"

# The checks, shared by every instance.
mkdir -p "$WORK/checks"
{
    printf '[customer]\nid = "bench"\nname = "Bench"\ncontacts = ["ops@bench.example"]\n'
    for ((i = 0; i < CHECKS; i++)); do
        printf '\n[[check]]\nid = "b%05d"\ninterval = "%s"\ntimeout = "5s"\n[check.http]\nurl = "http://127.0.0.1:%s/b%05d"\n' \
            "$i" "$INTERVAL" "$PORT" "$i"
    done
} >"$WORK/checks/bench.toml"

cpu_ticks() { # user+system clock ticks of the given pids
    local sum=0 p f
    for p in "$@"; do
        read -ra f <"/proc/$p/stat"
        sum=$((sum + f[13] + f[14]))
    done
    echo "$sum"
}

printf '%-10s %8s %10s %10s %10s %12s %12s\n' instances checks checks/s "lag p50" "lag p99" "double runs" "cpu ms/chk"
for n in $INSTANCES; do
    SCHEMA="fw_cluster_bench_$$_$n"
    PGOPTIONS="-c client_min_messages=warning" psql -q "$PG_URL" -c "CREATE SCHEMA $SCHEMA" >/dev/null
    sep='?'; [[ $PG_URL == *\?* ]] && sep='&'
    DB="$PG_URL${sep}options=-csearch_path%3D$SCHEMA"
    PIDS=()
    for ((i = 1; i <= n; i++)); do
        dir="$WORK/$n-$i"
        mkdir -p "$dir"
        port=$((PORT + 10 * n + i))
        cat >"$dir/forewarn.toml" <<EOF
database = "$DB"
listen = "127.0.0.1:$port"
checks_dir = "../checks"
[incidents]
confirm = false
[cluster]
instance = "bench-$i"
lease = "$LEASE"
EOF
        RUST_LOG=warn "$BIN" --config "$dir/forewarn.toml" serve 2>"$dir/serve.log" &
        PIDS+=($!)
    done
    log "$n instance(s) started; settling for ${WARMUP}s"
    sleep "$WARMUP"
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || die "an instance died: see $WORK/$n-*/serve.log"; done
    start_ms=$(date +%s%3N)
    cpu0=$(cpu_ticks "${PIDS[@]}")
    sleep "$DUR"
    cpu1=$(cpu_ticks "${PIDS[@]}")
    end_ms=$(date +%s%3N)
    sleep 2 # the last batches reach the store
    read -r results p50 p99 <<<"$(psql -qAt -F' ' "$DB" -c "
        SELECT count(*),
               coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY started_at_ms - planned_at_ms), 0),
               coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY started_at_ms - planned_at_ms), 0)
        FROM check_result WHERE started_at_ms >= $start_ms AND started_at_ms < $end_ms")"
    doubles=$(psql -qAt "$DB" -c "
        SELECT count(*) FROM (SELECT check_id, planned_at_ms FROM check_result
        WHERE started_at_ms >= $start_ms AND started_at_ms < $end_ms
        GROUP BY check_id, planned_at_ms HAVING count(*) > 1) d")
    hz=$(getconf CLK_TCK)
    awk -v n="$n" -v c="$CHECKS" -v r="$results" -v s="$(((end_ms - start_ms)))" -v p50="$p50" \
        -v p99="$p99" -v d="$doubles" -v cpu="$((cpu1 - cpu0))" -v hz="$hz" 'BEGIN {
        printf "%-10s %8d %10.1f %8.1fms %8.1fms %12d %12.3f\n", n, c, r / (s / 1000), p50, p99, d,
            (r > 0 ? cpu / hz * 1000 / r : 0) }'
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
    psql -q "$PG_URL" -c "DROP SCHEMA $SCHEMA CASCADE" >/dev/null 2>&1
    SCHEMA=
done
