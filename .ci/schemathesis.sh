#!/usr/bin/env bash
# The API against its own description: starts a real `forewarn serve` on loopback with a staff
# token, a customer with a failing and a passing check, a couple of tickets opened through the
# API, then runs schemathesis (a pinned version, in a venv under target/) on
# /api/v1/openapi.json. It fails on a server error, a status code the document does not list,
# a response that breaks its schema or its content type. Bounded: few examples per operation,
# a fixed seed. Usage: bash .ci/schemathesis.sh   (the summary ends the output)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SCHEMATHESIS_VERSION=4.32.5
VENV=${SCHEMATHESIS_VENV:-$ROOT/target/schemathesis-venv}
EXAMPLES=${SCHEMATHESIS_EXAMPLES:-100}
BUDGET_S=${SCHEMATHESIS_MAX_TIME:-}

log() { printf '[schemathesis %(%H:%M:%S)T] %s\n' -1 "$*"; }

if [ ! -x "$VENV/bin/schemathesis" ] \
    || [ "$("$VENV/bin/schemathesis" --version 2>/dev/null | grep -o '[0-9.]*$')" != "$SCHEMATHESIS_VERSION" ]; then
    log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    python3 -m venv "$VENV" || {
        log "installing python3-venv"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null
        python3 -m venv "$VENV"
    }
    "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --locked -q --bin forewarn
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/forewarn

DIR=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$DIR"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
CLOSED=$(free_port)   # nothing listens here: the failing check's target
TOKEN=schemathesis-staff-token-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
BASE=http://127.0.0.1:$PORT

mkdir -p "$DIR/checks"
printf '%s' "$TOKEN" >"$DIR/staff.token"
cat >"$DIR/forewarn.toml" <<TOML
database = "sqlite://data/forewarn.db"
listen = "127.0.0.1:$PORT"
public_url = "$BASE/"
playbooks_dir = "$ROOT/playbooks"
[web]
staff_token = { file = "staff.token" }
TOML
cat >"$DIR/checks/acme.toml" <<TOML
[customer]
id = "acme"
name = "Acme Ltd"
contacts = [{ name = "Jane Doe", email = "ops@acme.example", phone = "+44 20 7946 0018" }]
tier = "gold"
plan = "business"
servers = ["web-01"]

[[check]]
id = "acme-shop"
name = "Acme shop"
server = "web-01"
interval = "1s"
timeout = "1s"
[check.http]
url = "http://127.0.0.1:$CLOSED/"

[[check]]
id = "acme-health"
name = "forewarn itself"
interval = "1s"
timeout = "1s"
[check.http]
url = "$BASE/healthz"

[[maintenance]]
servers = ["web-01"]
cron = "0 3 * * *"
duration = "1h"
reason = "Disk upgrade"
TOML

log "starting forewarn serve on $BASE"
"$BIN" serve --config "$DIR/forewarn.toml" >"$DIR/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DIR/serve.log"; log "forewarn serve died"; exit 1; }
    sleep 0.2
done
curl -fsS "$BASE/healthz" >/dev/null || { cat "$DIR/serve.log"; log "no /healthz"; exit 1; }

# Data for the responses to be checked against: two tickets, results of both checks.
for title in "Mail does not go out" "The shop is slow"; do
    curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d "{\"customer\":\"acme\",\"title\":\"$title\",\"text\":\"Since 9:00.\"}" "$BASE/api/v1/tickets"
done
for _ in $(seq 1 50); do
    curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/checks" | grep -q '"last_run".*"last_run"' && break
    sleep 0.2
done

# Without a budget each phase stops after its examples; with one (SCHEMATHESIS_MAX_TIME=300),
# fuzzing and stateful testing repeat until it is spent. `timeout` bounds the run either way.
BUDGET=()
[ -n "$BUDGET_S" ] && BUDGET=(--max-time "$BUDGET_S")
log "schemathesis $SCHEMATHESIS_VERSION: $EXAMPLES examples per operation${BUDGET_S:+, for ${BUDGET_S}s}"
set +e
# From the temporary directory: schemathesis leaves its example database in .schemathesis/.
(cd "$DIR" && timeout 600 "$VENV/bin/schemathesis" --no-color run "$BASE/api/v1/openapi.json" \
    --header "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
    --max-examples "$EXAMPLES" --seed 14 "${BUDGET[@]}" --workers 1 \
    --request-timeout 10 2>&1)
STATUS=$?
set -e
if [ "$STATUS" -ne 0 ]; then
    log "schemathesis failed ($STATUS); the server's log follows"
    tail -n 50 "$DIR/serve.log"
fi
exit "$STATUS"
