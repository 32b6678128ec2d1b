#!/usr/bin/env bash
# slow.sh - replays issue #10's attack: many slow (half-sent) connections against `forewarn serve`
# and `forewarn agent` at once, on loopback, under a small descriptor limit, and reports what
# staff and the probes saw.
#
#   benches/slow.sh                                  # target/release/forewarn if built, else debug
#   BIN=/path/to/old/forewarn benches/slow.sh        # the same against another build
#   CONNS=1000 SOURCES=20 NOFILE=600 DUR=30 benches/slow.sh
#
# 1. Writes a configuration in a temp dir: an HTTP check (every 1 s) against a loopback target and
#    an agent check (every 2 s) against the agent under attack; no [web] limits, so both builds
#    take it and each uses its own defaults. A staff user.
# 2. Starts the agent and serve, each under `ulimit -n NOFILE` (soft = hard, like a unit with
#    LimitNOFILE=NOFILE), lets the checks settle.
# 3. For DUR seconds keeps CONNS slow connections open against each (spread over SOURCES loopback
#    addresses 127.0.1.x; each sends a request line and one header line, then one more header
#    line every 4 s, and reconnects when closed), while every 2 s a staff login (POST /login from
#    127.0.0.1) and an agent /v1/health are timed.
# 4. Prints: peak RSS (VmHWM) and the most descriptors held by each (sampled every 2 s), how
#    many connections the attacker made and how many of them the server closed, staff logins
#    that worked and their latency, agent answers, check results during the attack by status,
#    and incidents (ops alerts) and tickets (customer mail) opened during it.
#
# Touches only 127.0.0.0/8. Needs python3 and curl. Stops everything it started.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z ${BIN:-} ]]; then
    BIN=$ROOT/target/release/forewarn
    [[ -x $BIN ]] || BIN=$ROOT/target/debug/forewarn
fi
CONNS=${CONNS:-1000}
SOURCES=${SOURCES:-1}
NOFILE=${NOFILE:-600}
DUR=${DUR:-30}
SETTLE=${SETTLE:-8}

log() { printf '[slow %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
for n in CONNS SOURCES NOFILE DUR SETTLE; do
    [[ ${!n} =~ ^[0-9]+$ && ${!n} -ge 1 ]] || die "$n must be a positive integer"
done
[[ -x $BIN ]] || die "no forewarn binary at $BIN (cargo build --release)"
BIN=$(realpath "$BIN")
command -v python3 >/dev/null || die "python3 is needed"
command -v curl >/dev/null || die "curl is needed"

WORK=$(mktemp -d /tmp/forewarn-slow.XXXXXX)
PIDS=()
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    set +e
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    [[ ${KEEP:-0} == 1 ]] && log "kept $WORK" || rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WEB_PORT=$(free_port)
AGENT_PORT=$(free_port)
TARGET_PORT=$(free_port)
PASSWORD="slow bench password"

cd "$WORK"
mkdir -p checks acct site
echo ok >site/index.html
printf 'slow-staff-token' >staff.token
printf 'slow-agent-token' >agent.token
cat >forewarn.toml <<EOF
database = "sqlite://data/forewarn.db"
listen = "127.0.0.1:$WEB_PORT"
[web]
staff_token = { file = "staff.token" }
EOF
cat >checks/acme.toml <<EOF
[customer]
id = "acme"
name = "Acme"
contacts = ["ops@acme.example"]
[[check]]
id = "acme-www"
interval = "1s"
timeout = "1s"
[check.http]
url = "http://127.0.0.1:$TARGET_PORT/"
[[check]]
id = "acme-disk"
interval = "2s"
timeout = "2s"
[check.agent]
url = "http://127.0.0.1:$AGENT_PORT/"
token = { file = "agent.token" }
disk_warning = 100
disk_critical = 100
inode_warning = 100
inode_critical = 100
forecast = false
EOF
cat >agent.toml <<EOF
listen = "127.0.0.1:$AGENT_PORT"
token = { file = "agent.token" }
sample_interval = "1s"
[[mount]]
path = "$WORK"
[[account]]
name = "acme"
path = "$WORK/acct"
limit = "1GiB"
EOF

# The probes' target: a plain HTTP server on loopback.
python3 -m http.server --bind 127.0.0.1 --directory site "$TARGET_PORT" >/dev/null 2>&1 &
PIDS+=($!)
printf '%s\n' "$PASSWORD" | "$BIN" --config forewarn.toml user add staff --password-stdin >/dev/null
(ulimit -n "$NOFILE" && exec env NO_COLOR=1 "$BIN" agent --agent-config agent.toml) 2>agent.log &
AGENT_PID=$!
PIDS+=($AGENT_PID)
(ulimit -n "$NOFILE" && exec env NO_COLOR=1 "$BIN" --config forewarn.toml serve) 2>serve.log &
SERVE_PID=$!
PIDS+=($SERVE_PID)
for ((i = 0; i < 100; i++)); do
    curl -fsS -o /dev/null "http://127.0.0.1:$WEB_PORT/healthz" 2>/dev/null && break
    sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:$WEB_PORT/healthz" || die "serve did not start: $(tail -5 serve.log)"
log "binary $BIN; serve pid $SERVE_PID on :$WEB_PORT, agent pid $AGENT_PID on :$AGENT_PORT, NOFILE=$NOFILE"
sleep "$SETTLE"

metrics() { curl -fsS --max-time 10 "http://127.0.0.1:$WEB_PORT/metrics" || true; }
results() { # "ok failed" totals of one probe kind from /metrics text on stdin
    awk -v k="$1" '$1 ~ "^forewarn_check_results_total\\{" && $1 ~ "kind=\"" k "\"" {
        if ($1 ~ /status="ok"/) ok += $2; else bad += $2 } END { printf "%d %d", ok, bad }'
}
tickets() {
    curl -fsS --max-time 10 -H "Authorization: Bearer slow-staff-token" \
        "http://127.0.0.1:$WEB_PORT/api/v1/tickets" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
rss_now() { awk '/VmRSS/ { printf "%.1f MB", $2 / 1024 }' "/proc/$1/status"; }
WEB_RSS0=$(rss_now "$SERVE_PID")
AGENT_RSS0=$(rss_now "$AGENT_PID")
M0=$(metrics)
read -r HTTP_OK0 HTTP_BAD0 <<<"$(results http <<<"$M0")"
read -r AGENT_OK0 AGENT_BAD0 <<<"$(results agent <<<"$M0")"
TICKETS0=$(tickets)
INCIDENTS0=$(grep -c "incident opened" serve.log || true)

# ---------------------------------------------------------------- the attacker
cat >attack.py <<'EOF'
import asyncio, sys, time
host, ports, conns, sources, dur = sys.argv[1], [int(p) for p in sys.argv[2].split(",")], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
stats = {p: {"opened": 0, "closed_by_server": 0, "connect_failed": 0, "open": 0, "max_open": 0} for p in ports}
end = time.monotonic() + dur
async def one(port, i):
    st = stats[port]
    src = f"127.0.1.{1 + i % sources}"
    while time.monotonic() < end:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(host, port, local_addr=(src, 0)), 5)
        except Exception:
            st["connect_failed"] += 1
            await asyncio.sleep(0.5)
            continue
        st["opened"] += 1; st["open"] += 1; st["max_open"] = max(st["max_open"], st["open"])
        try:
            w.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
            await w.drain()
            while time.monotonic() < end:
                try:
                    data = await asyncio.wait_for(r.read(1024), 4)
                    if not data:
                        st["closed_by_server"] += 1
                        break
                except asyncio.TimeoutError:
                    w.write(b"X-Slow: a\r\n")  # one more header line, never the end
                    await w.drain()
        except Exception:
            st["closed_by_server"] += 1
        finally:
            st["open"] -= 1
            w.close()
        await asyncio.sleep(0.1)
async def main():
    await asyncio.gather(*(one(p, i) for p in ports for i in range(conns)))
asyncio.run(main())
for p in ports:
    s = stats[p]
    print(p, s["opened"], s["closed_by_server"], s["connect_failed"], s["max_open"])
EOF
log "attack: $CONNS slow connections against each of serve and the agent from $SOURCES address(es), ${DUR}s"
(ulimit -n $((CONNS * 2 + 256)) && exec python3 attack.py 127.0.0.1 "$WEB_PORT,$AGENT_PORT" "$CONNS" "$SOURCES" "$DUR") >attack.out 2>attack.err &
ATTACK_PID=$!
PIDS+=($ATTACK_PID)

LOGIN_MS=() LOGIN_FAIL=0 HEALTH_MS=() HEALTH_FAIL=0 WEB_FDS=0 AGENT_FDS=0
START=$SECONDS
sleep 2
while kill -0 "$ATTACK_PID" 2>/dev/null && ((SECONDS - START < DUR + 10)); do
    fds=$(ls "/proc/$SERVE_PID/fd" 2>/dev/null | wc -l); ((fds > WEB_FDS)) && WEB_FDS=$fds
    fds=$(ls "/proc/$AGENT_PID/fd" 2>/dev/null | wc -l); ((fds > AGENT_FDS)) && AGENT_FDS=$fds
    out=$(curl -sS -o /dev/null --max-time 10 -w '%{http_code} %{time_total}' \
        --data-urlencode "name=staff" --data-urlencode "password=$PASSWORD" \
        "http://127.0.0.1:$WEB_PORT/login" 2>/dev/null || true)
    if [[ $out == 303\ * ]]; then LOGIN_MS+=("$(awk '{ printf "%.0f", $2 * 1000 }' <<<"$out")"); else ((LOGIN_FAIL += 1)); fi
    out=$(curl -sS -o /dev/null --max-time 10 -w '%{http_code} %{time_total}' \
        -H "Authorization: Bearer slow-agent-token" "http://127.0.0.1:$AGENT_PORT/v1/health" 2>/dev/null || true)
    if [[ $out == 200\ * ]]; then HEALTH_MS+=("$(awk '{ printf "%.0f", $2 * 1000 }' <<<"$out")"); else ((HEALTH_FAIL += 1)); fi
    sleep 2
done
wait "$ATTACK_PID" || true
sleep 1

M1=$(metrics)
read -r HTTP_OK1 HTTP_BAD1 <<<"$(results http <<<"$M1")"
read -r AGENT_OK1 AGENT_BAD1 <<<"$(results agent <<<"$M1")"
TICKETS1=$(tickets)
INCIDENTS1=$(grep -c "incident opened" serve.log || true)
rss() { awk '/VmHWM/ { printf "%.1f MB", $2 / 1024 }' "/proc/$1/status"; }
stat() { # count min median max of the numbers given
    if (($# == 0)); then echo "0 ok"; return; fi
    printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { printf "%d ok, %d / %d / %d ms (min / median / max)", NR, a[1], a[int((NR + 1) / 2)], a[NR] }'
}
read -r _ WEB_OPENED WEB_CLOSED _ _ < <(grep "^$WEB_PORT " attack.out)
read -r _ AG_OPENED AG_CLOSED _ _ < <(grep "^$AGENT_PORT " attack.out)

cat <<EOF

binary: $BIN
attack: $CONNS slow connections each against serve and the agent, ${DUR}s, from $SOURCES source address(es); NOFILE=$NOFILE
                          serve                          agent
RSS before the attack     $WEB_RSS0                        $AGENT_RSS0
peak RSS (VmHWM)          $(rss "$SERVE_PID")                        $(rss "$AGENT_PID")
most descriptors held     $WEB_FDS                            $AGENT_FDS
attacker connects made    $WEB_OPENED                          $AG_OPENED
  of those closed by it   $WEB_CLOSED                          $AG_CLOSED
staff login (127.0.0.1)   $(stat "${LOGIN_MS[@]}"), $LOGIN_FAIL failed
agent /v1/health          $(stat "${HEALTH_MS[@]}"), $HEALTH_FAIL failed
probes during the attack  http: $((HTTP_OK1 - HTTP_OK0)) ok, $((HTTP_BAD1 - HTTP_BAD0)) not ok; agent: $((AGENT_OK1 - AGENT_OK0)) ok, $((AGENT_BAD1 - AGENT_BAD0)) not ok
incidents / tickets       $((INCIDENTS1 - INCIDENTS0)) opened / $((TICKETS1 - TICKETS0)) opened
EOF
grep -h "connection limits\|connection refused\|incident opened\|could not open a ticket" serve.log agent.log | head -6 | cut -c1-240 >&2 || true
