#!/usr/bin/env bash
# login_flood.sh - replays issue #10's sign-in flood against a real `forewarn serve` and prints
# what it costs: memory before / during / after, how many clients got 401 and 429, and whether
# a real staff sign-in from another address gets through during and after the flood (and how
# fast).
#
#   benches/login_flood.sh                               # target/debug/forewarn, 200 clients
#   BIN=target/release/forewarn CLIENTS=200 ROUNDS=3 benches/login_flood.sh
#   ADDRESS_LIMIT=100000 benches/login_flood.sh          # every attempt meets the hash pool
#   SOURCES=200 benches/login_flood.sh                   # each client from its own address
#   BIN=/tmp/forewarn-before LOGIN_TABLE=0 CLIENTS=16 benches/login_flood.sh   # an old binary
#
# Knobs (environment):
#   BIN            the forewarn binary (default target/debug/forewarn)
#   CLIENTS        parallel clients per round, each one POST /login as an unknown user (200)
#   ROUNDS         floods one after the other, each with fresh names (1)
#   SOURCES        distinct source addresses the clients come from, 127.0.1.1 … (1: 127.0.0.1)
#   PORT           loopback port of the server (18480)
#   ADDRESS_LIMIT  [web.login] address_lockout_after (default: forewarn's default, 20)
#   LOGIN_TABLE    0: write no [web.login] table (for a binary that does not know it)
#   KEEP=1         keep the work directory (config, database, serve.log)
#
# The flood comes from 127.0.0.1 (or SOURCES addresses 127.0.1.1 …, as a botnet would); the
# real staff member ("ann") signs in from 127.0.0.2, once
# half a second into each round and once after it. Memory is read from /proc/<pid>/status:
# VmRSS (now) and VmHWM (peak since start); "peak during" is the highest VmRSS sampled every
# 50 ms while the flood runs. Everything runs on loopback and is stopped at the end.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/target/debug/forewarn}
CLIENTS=${CLIENTS:-200}
ROUNDS=${ROUNDS:-1}
SOURCES=${SOURCES:-1}
PORT=${PORT:-18480}
ADDRESS_LIMIT=${ADDRESS_LIMIT:-}
LOGIN_TABLE=${LOGIN_TABLE:-1}
KEEP=${KEEP:-0}
PASSWORD="ann's long staff password"

log() { printf '[flood %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ -x $BIN ]] || die "no binary at $BIN (cargo build, or set BIN)"
for n in CLIENTS ROUNDS PORT SOURCES; do
    [[ ${!n} =~ ^[0-9]+$ && ${!n} -ge 1 ]] || die "$n must be a positive integer"
done
((SOURCES <= 250)) || die "SOURCES: at most 250 (127.0.1.1 … 127.0.1.250)"
command -v curl >/dev/null || die "curl is needed"

WORK=$(mktemp -d /tmp/forewarn-login-flood.XXXXXX)
SERVE_PID=
SAMPLER_PID=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n $SAMPLER_PID ]] && kill "$SAMPLER_PID" 2>/dev/null || true
    if [[ -n $SERVE_PID ]]; then
        kill "$SERVE_PID" 2>/dev/null || true
        wait "$SERVE_PID" 2>/dev/null || true
    fi
    if [[ $KEEP == 1 ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT INT TERM

mkdir -p "$WORK/checks"
openssl rand -hex 24 >"$WORK/staff.token" 2>/dev/null || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/staff.token"
{
    printf 'database = "sqlite://data/forewarn.db"\nlisten = "127.0.0.1:%s"\n' "$PORT"
    printf '[web]\nstaff_token = { file = "staff.token" }\n'
    if [[ $LOGIN_TABLE == 1 && -n $ADDRESS_LIMIT ]]; then
        printf '[web.login]\naddress_lockout_after = %s\n' "$ADDRESS_LIMIT"
    fi
} >"$WORK/forewarn.toml"
printf '%s\n' "$PASSWORD" | "$BIN" --config "$WORK/forewarn.toml" user add ann --password-stdin >/dev/null

RUST_LOG=error "$BIN" --config "$WORK/forewarn.toml" serve 2>"$WORK/serve.log" &
SERVE_PID=$!
BASE=http://127.0.0.1:$PORT
for _ in $(seq 300); do
    curl -s -o /dev/null "$BASE/healthz" && break
    kill -0 "$SERVE_PID" 2>/dev/null || die "serve exited: $(tail -5 "$WORK/serve.log")"
    sleep 0.1
done
curl -s -o /dev/null "$BASE/healthz" || die "serve did not answer on $BASE"

# kB of a /proc/<pid>/status field.
mem_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$SERVE_PID/status"; }
mb() { awk "BEGIN { printf \"%.0f\", $1 / 1024 }"; }
# A real sign-in of ann from 127.0.0.2: "<status> <seconds>".
real_login() {
    curl -s -o /dev/null --interface 127.0.0.2 --max-time 120 \
        -w '%{http_code} %{time_total}' \
        --data-urlencode name=ann --data-urlencode "password=$PASSWORD" "$BASE/login" || echo "000 -"
}

log "forewarn serve pid $SERVE_PID on $BASE ($BIN), $CLIENTS clients x $ROUNDS round(s)"
RSS_START=$(mem_kb VmRSS)
HWM_START=$(mem_kb VmHWM)
printf '%-6s %6s %6s %6s %8s %9s %8s %8s  %-16s %-16s\n' \
    round 401 429 other "rss_MB" "peak_MB" "after_MB" "hwm_MB" "real(during)" "real(after)"
for round in $(seq "$ROUNDS"); do
    # Sample VmRSS every 50 ms while the flood runs.
    : >"$WORK/rss.$round"
    (
        while kill -0 "$SERVE_PID" 2>/dev/null; do
            awk '$1 == "VmRSS:" { print $2 }' "/proc/$SERVE_PID/status" >>"$WORK/rss.$round"
            sleep 0.05
        done
    ) &
    SAMPLER_PID=$!
    BEFORE=$(mem_kb VmRSS)
    started=$(date +%s.%N)
    for i in $(seq "$CLIENTS"); do
        if ((SOURCES == 1)); then echo "$i 127.0.0.1"; else echo "$i 127.0.1.$(((i - 1) % SOURCES + 1))"; fi
    done | xargs -P "$CLIENTS" -n 2 sh -c 'curl -s -o /dev/null --max-time 300 --interface "$3" \
        -w "%{http_code}\n" --data-urlencode "name=$0-nobody$2" \
        --data-urlencode "password=guess guess guess" "$1/login"' "r$round" "$BASE" \
        >"$WORK/codes.$round" &
    FLOOD_PID=$!
    sleep 0.5
    DURING=$(real_login)
    wait "$FLOOD_PID" || true
    ended=$(date +%s.%N)
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=
    sleep 2
    AFTER_LOGIN=$(real_login)
    AFTER=$(mem_kb VmRSS)
    PEAK=$(sort -n "$WORK/rss.$round" | tail -1)
    c401=$(grep -c '^401$' "$WORK/codes.$round" || true)
    c429=$(grep -c '^429$' "$WORK/codes.$round" || true)
    other=$((CLIENTS - c401 - c429))
    printf '%-6s %6s %6s %6s %8s %9s %8s %8s  %-16s %-16s\n' \
        "$round" "$c401" "$c429" "$other" "$(mb "$BEFORE")" "$(mb "${PEAK:-0}")" "$(mb "$AFTER")" \
        "$(mb "$(mem_kb VmHWM)")" "$DURING" "$AFTER_LOGIN"
    log "round $round: flood took $(awk "BEGIN { printf \"%.1f\", $ended - $started }") s"
    if ((other > 0)); then
        log "round $round: other answers: $(grep -v '^40[19]$\|^429$' "$WORK/codes.$round" | sort | uniq -c | tr '\n' ' ')"
    fi
done
log "start: VmRSS $(mb "$RSS_START") MB, VmHWM $(mb "$HWM_START") MB; end: VmRSS $(mb "$(mem_kb VmRSS)") MB, VmHWM $(mb "$(mem_kb VmHWM)") MB"
if curl -s "$BASE/metrics" | grep -q '^forewarn_login_'; then
    curl -s "$BASE/metrics" | grep '^forewarn_login_' >&2
fi
