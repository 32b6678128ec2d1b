#!/usr/bin/env bash
# attacks.sh - replays every attack of issue #10 ("Lose nothing and stay up") against the real
# binaries on loopback, one after the other, and prints each replay's figures: peak memory,
# whether staff could still sign in (and how fast), whether probes kept running, and what was
# lost.
#
#   benches/attacks.sh                     # target/debug/forewarn; about 4 minutes
#   BIN=target/release/forewarn benches/attacks.sh
#   ONLY="login slow" benches/attacks.sh   # some of: login slow report store
#
# The replays (each documented in its own script and in benches/README.md):
#   login   benches/login_flood.sh   200 parallel sign-ins of unknown users, 1 and 200 addresses
#   slow    benches/slow.sh          1,000 slow connections against serve and the agent, 30 s
#   report  benches/report_flood.sh  100 "report a problem" posts on one customer link at once
#   store   tests/store_faults.rs    the database's filesystem full; PostgreSQL restarted in the
#                                    middle of an outage (needs root and the local PostgreSQL)
# Everything targets 127.0.0.0/8 only and stops by itself.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/target/debug/forewarn}
ONLY=${ONLY:-login slow report store}

[[ -x $BIN ]] || { echo "attacks: no binary at $BIN (cargo build, or set BIN)" >&2; exit 1; }

section() { printf '\n==== %s ====\n' "$*"; }
wants() { [[ " $ONLY " == *" $1 "* ]]; }

if wants login; then
    section "sign-in flood: 200 clients from one address"
    BIN=$BIN CLIENTS=200 ROUNDS=1 "$ROOT/benches/login_flood.sh"
    section "sign-in flood: 200 clients from 200 addresses"
    BIN=$BIN CLIENTS=200 ROUNDS=1 SOURCES=200 "$ROOT/benches/login_flood.sh"
fi
if wants slow; then
    section "1,000 slow connections against serve and the agent (descriptor limit 600)"
    BIN=$BIN CONNS=1000 SOURCES=20 DUR=30 "$ROOT/benches/slow.sh"
fi
if wants report; then
    section "100 report-a-problem posts on one customer link"
    FOREWARN_BIN=$BIN N=100 "$ROOT/benches/report_flood.sh"
fi
if wants store; then
    section "full disk (SQLite on a tmpfs) and PostgreSQL restart"
    (cd "$ROOT" && cargo test --quiet --test store_faults -- --nocapture 2>&1) |
        grep -E '^SCENARIO|^test result' || true
fi
