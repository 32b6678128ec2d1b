#!/usr/bin/env bash
# Size and memory of the forewarn-agent binary: stripped size, idle RSS after start, and peak
# RSS while it samples ACCOUNTS accounts (each a directory of FILES small files) every 200 ms,
# first alone, then while answering /v1/usage for all of them over and over.
#
#   cargo build --release -p forewarn-agent
#   bash crates/forewarn-agent/measure.sh target/release/forewarn-agent [ACCOUNTS] [FILES]
#
# Prints the figures the README quotes. Uses a temporary directory and a free port; stops the
# agent it started.
set -euo pipefail
bin=${1:?the forewarn-agent binary}
accounts=${2:-1000}
files=${3:-10}
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

cp "$bin" "$dir/forewarn-agent"
strip "$dir/forewarn-agent"
printf 'stripped size: %s bytes (%s)\n' "$(stat -c %s "$dir/forewarn-agent")" \
    "$(du -h --apparent-size "$dir/forewarn-agent" | cut -f1)"

token=measure-token
echo "$token" > "$dir/agent.token"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
    printf 'listen = "127.0.0.1:%s"\ntoken = { file = "agent.token" }\n' "$port"
    printf 'sample_interval = "200ms"\nhistory = "1h"\n[[mount]]\npath = "%s"\n' "$dir"
    for i in $(seq 1 "$accounts"); do
        a="$dir/home/acct$i"
        mkdir -p "$a/www"
        for f in $(seq 1 "$files"); do head -c 3000 /dev/zero > "$a/www/f$f"; done
        printf '[[account]]\nname = "acct%s"\npath = "%s"\nlimit = "100MiB"\n' "$i" "$a"
    done
} > "$dir/agent.toml"

"$dir/forewarn-agent" --config "$dir/agent.toml" 2>"$dir/agent.log" &
pid=$!
url="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
    curl -sf -o /dev/null -H "Authorization: Bearer $token" "$url/v1/health" && break
    sleep 0.1
done
status() { grep -E "^$1:" "/proc/$pid/status" | awk '{print $2 " " $3}'; }
sleep 1
printf 'idle RSS (VmRSS 1 s after start, %s accounts sampled once): %s\n' "$accounts" "$(status VmRSS)"
# 15 s of sampling every 200 ms with only /v1/health asked: what sampling itself costs.
sleep 15
printf 'after 15 s of sampling alone: VmRSS %s, peak VmHWM %s\n' "$(status VmRSS)" "$(status VmHWM)"
# 15 s of /v1/usage asked 4 at a time: first as the server's probe asks without a forecast
# (`window=0ms`: the latest values only), then every sample kept (a forecast over the whole
# history asks that much).
usage_load() {
    local query=$1 end=$((SECONDS + 15)) n=0 curls
    while [ $SECONDS -lt $end ]; do
        curls=()
        for _ in 1 2 3 4; do
            curl -sf -o /dev/null -H "Authorization: Bearer $token" "$url/v1/usage$query" &
            curls+=($!)
        done
        wait "${curls[@]}" || true
        n=$((n + 4))
    done
    bytes=$(curl -sf -H "Authorization: Bearer $token" "$url/v1/usage$query" | wc -c)
    printf '15 s more with /v1/usage%s (%s requests, the last body %s bytes): VmRSS %s, peak VmHWM %s\n' \
        "$query" "$n" "$bytes" "$(status VmRSS)" "$(status VmHWM)"
}
usage_load "?window=0ms"
usage_load ""
