#!/usr/bin/env bash
# report_flood.sh - the replay of issue #10 item 4: N "report a problem" posts on one customer
# link, all at once, against a real `forewarn serve` on loopback (SQLite, mails written as .eml
# files), then what came of them: answers by status, tickets, mails, time of the burst.
#
#   benches/report_flood.sh                                    # target/debug/forewarn, N=100
#   FOREWARN_BIN=target/release/forewarn N=200 benches/report_flood.sh
#
# Knobs (environment): FOREWARN_BIN, N (posts, default 100), PARALLEL (posts in flight at
# once, default N: the whole burst at once), KEEP=1 keeps the work directory.
# Needs curl, jq and python3 (to pick a free port). Everything runs on 127.0.0.1 and stops
# when the script ends.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${FOREWARN_BIN:-$ROOT/target/debug/forewarn}
N=${N:-100}
PARALLEL=${PARALLEL:-$N}
KEEP=${KEEP:-0}

die() { echo "report_flood: $*" >&2; exit 1; }
[[ -x $BIN ]] || die "no binary at $BIN (cargo build, or set FOREWARN_BIN)"
[[ $N =~ ^[0-9]+$ && $N -ge 1 ]] || die "N must be a positive integer"
[[ $PARALLEL =~ ^[0-9]+$ && $PARALLEL -ge 1 ]] || die "PARALLEL must be a positive integer"
for tool in curl jq python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done

WORK=$(mktemp -d /tmp/forewarn-flood.XXXXXX)
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ $KEEP == 1 ]]; then
        echo "work directory kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/checks" "$WORK/mail"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/link.secret"
cat >"$WORK/forewarn.toml" <<EOF
database = "sqlite://data/forewarn.db"
listen = "127.0.0.1:$PORT"
public_url = "http://127.0.0.1:$PORT/"
[mail]
from = "support@hosting.example"
outbox_dir = "mail"
[web]
secret = { file = "link.secret" }
EOF
cat >"$WORK/checks/acme.toml" <<'EOF'
[customer]
id = "acme"
name = "Acme Ltd"
contacts = ["ops@acme.example"]
language = "en"

[[check]]
id = "acme-www"
name = "Acme shop"
interval = "1h"
timeout = "1s"
[check.http]
url = "http://127.0.0.1:9/"
EOF
fw() { "$BIN" --config "$WORK/forewarn.toml" "$@"; }

LINK=$(fw customer link acme --json 2>/dev/null | jq -r .url)
[[ $LINK == http://127.0.0.1:$PORT/c/checks/* ]] || die "no checks link: $LINK"
fw serve >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "serve exited; see $WORK/serve.log (KEEP=1)"
    sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" || die "serve did not come up"

# The burst: every post at once (PARALLEL at a time), each answer's status into a file.
post() {
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 \
        --data-urlencode "check=acme-www" \
        --data-urlencode "title=Checkout fails" \
        --data-urlencode "text=error 502 when paying (post $1)" \
        "$LINK/report" || true  # a connection the server's per-address cap closed: 000
}
export -f post
export LINK
START=$(date +%s.%N)
seq "$N" | xargs -P "$PARALLEL" -I{} bash -c 'post {}' >"$WORK/statuses"
END=$(date +%s.%N)

# Mails go out through the outbox worker: wait until the folder stops growing (at most 15 s).
last=-1
for _ in $(seq 30); do
    now=$(find "$WORK/mail" -name '*.eml' | wc -l)
    [[ $now -eq $last && $now -gt 0 ]] && break
    last=$now
    sleep 0.5
done
MAILS=$(find "$WORK/mail" -name '*.eml' | wc -l)
TICKETS=$(fw ticket list --customer acme --json 2>/dev/null | jq length)
QUEUED=$(fw outbox list --limit 100000 --json 2>/dev/null | jq length)
TEXTS=$(fw ticket list --customer acme --json 2>/dev/null | jq -r '.[].id' | while read -r id; do
    fw ticket show "$id" --json 2>/dev/null |
        jq '[.timeline[] | select(.actor.type == "customer" and .kind == "public_update")] | length'
done | awk '{ s += $1 } END { print s + 0 }')

count() { grep -c "^$1\$" "$WORK/statuses" || true; }
printf 'binary                 %s\n' "$BIN"
printf 'posts on one link      %d (%d in flight at once) in %.2f s\n' "$N" "$PARALLEL" "$(echo "$END - $START" | bc -l)"
printf 'taken (303)            %d\n' "$(count 303)"
printf 'refused (429)          %d\n' "$(count 429)"
printf 'cut at the connection   %d (000: over the per-address connection cap)\n' "$(count 000)"
printf 'other answers          %d\n' "$(( N - $(count 303) - $(count 429) - $(count 000) ))"
printf 'tickets                %d\n' "$TICKETS"
printf 'reports on tickets     %d\n' "$TEXTS"
printf 'outbox messages        %d\n' "$QUEUED"
printf 'mails written          %d\n' "$MAILS"
