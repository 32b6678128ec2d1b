#!/usr/bin/env bash
# run.sh - forewarn's prober benchmark, end to end, next to blackbox_exporter's figures.
#
#   benches/run.sh                       # peers (blackbox) + HTTP + HTTPS + 100k-checks cases
#   PEERS=0 CASES="http" benches/run.sh  # just forewarn's HTTP cases
#
# 1. `cargo build --release` (SKIP_BUILD=1 to skip).
# 2. PEERS=1: runs ../shared/bench/peers.sh (blackbox_exporter, phases C and D at BB_CONNS
#    in flight) just before ours, on the same kind of target, for the CPU-per-probe ratio.
# 3. Starts benches/target.sh (private nginx on 127.0.0.1:18080 / :18443).
# 4. Runs `forewarn bench` for each case, REPEAT times, each under a hard timeout:
#      http   HTTP_CHECKS checks (list) every 1 s for DUR       new TCP connection per check
#      https  HTTPS_CHECKS checks (list) every 1 s for DUR      full TLS handshake per check
#      big    100,000 HTTP checks every 60 s for BIG_DUR, store none, then store sqlite
# 5. Prints one table (also written to $RESULTS_DIR/summary.txt), stops everything.
#
# Figures per run: checks/s (results / wall time), forewarn CPU ms per check (user+sys of the
# bench process / results: scheduler, probes and, with --store sqlite, the store writer),
# nginx CPU ms per check, box idle % (all CPUs), p50/p99/max schedule lag, peak RSS, failures,
# and the 1-min load average just before the run (a busy box makes rates and lag unreliable;
# CPU per check is robust).
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release/forewarn
CASES=${CASES:-http https big}
HTTP_CHECKS=${HTTP_CHECKS:-4000 6000 8000}
HTTPS_CHECKS=${HTTPS_CHECKS:-1500 2500}
DUR=${DUR:-30}                      # seconds per http/https run
BIG_CHECKS=${BIG_CHECKS:-100000}
BIG_DUR=${BIG_DUR:-130}             # seconds per 100k-checks run (> 2 intervals)
BIG_STORES=${BIG_STORES:-none sqlite}
CONCURRENCY=${CONCURRENCY:-512}
REPEAT=${REPEAT:-2}
PAUSE=${PAUSE:-5}                   # quiet seconds between runs (TIME_WAIT sockets drain)
PEERS=${PEERS:-1}
BB_CONNS=${BB_CONNS:-128}
PEERS_DUR=${PEERS_DUR:-15}
PEERS_SH=${PEERS_SH:-}
SKIP_BUILD=${SKIP_BUILD:-0}
RESULTS_DIR=${RESULTS_DIR:-/tmp/forewarn-bench.$(date +%Y%m%d-%H%M%S)}
HZ=$(getconf CLK_TCK)

log() { printf '[run %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
fcalc() { awk "BEGIN { printf \"%.${2:-3}f\", ($1) }"; }

for n in DUR BIG_CHECKS BIG_DUR CONCURRENCY REPEAT PAUSE PEERS_DUR; do
    [[ ${!n} =~ ^[0-9]+$ && ${!n} -ge 1 || $n == PAUSE ]] || die "$n must be a positive integer"
done
command -v jq >/dev/null 2>&1 || die "jq is needed (apt-get install jq)"
mkdir -p "$RESULTS_DIR"
log "results in $RESULTS_DIR"

TARGET_PID=
RUN_PID=
cleanup() {
    local rc=$? i
    trap - EXIT INT TERM
    set +e
    for p in $RUN_PID $TARGET_PID; do
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null
            for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$p" 2>/dev/null
        fi
        wait "$p" 2>/dev/null
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- build
if [[ $SKIP_BUILD != 1 ]]; then
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --bin forewarn) >&2
fi
[[ -x $BIN ]] || die "$BIN not built"

# ---------------------------------------------------------------- peers (blackbox_exporter)
BB_HTTP=; BB_HTTPS=; BB_HTTP_RATE=; BB_HTTPS_RATE=
if [[ $PEERS == 1 ]]; then
    if [[ -z $PEERS_SH ]]; then
        for c in "$ROOT/../shared/bench/peers.sh" /work/shared/bench/peers.sh; do
            if [[ -f $c ]]; then PEERS_SH=$c; break; fi
        done
    fi
    [[ -f $PEERS_SH ]] || die "peers.sh not found (set PEERS_SH, or PEERS=0)"
    log "peers: blackbox_exporter at $BB_CONNS in flight, ${PEERS_DUR}s per phase ($PEERS_SH)"
    PHASES="C D" BB_CONNS=$BB_CONNS DUR=$PEERS_DUR RESULTS_DIR="$RESULTS_DIR/peers" \
        timeout -k 10 $((PEERS_DUR * 4 + 300)) bash "$PEERS_SH" >"$RESULTS_DIR/peers.log" 2>&1 ||
        { tail -n 30 "$RESULTS_DIR/peers.log" >&2; die "peers.sh failed"; }
    # phases.tsv: id tool conc wall count rate errors hits driver_cpu nginx_cpu prober_cpu ...
    read -r BB_HTTP BB_HTTP_RATE < <(awk -F'\t' -v id="C$BB_CONNS" \
        '$1 == id && $5 > 0 { printf "%.4f %.0f\n", 1000 * $11 / $5, $6 }' "$RESULTS_DIR/peers/phases.tsv") || true
    read -r BB_HTTPS BB_HTTPS_RATE < <(awk -F'\t' -v id="D$BB_CONNS" \
        '$1 == id && $5 > 0 { printf "%.4f %.0f\n", 1000 * $11 / $5, $6 }' "$RESULTS_DIR/peers/phases.tsv") || true
    log "blackbox: http ${BB_HTTP:-?} ms CPU/probe at ${BB_HTTP_RATE:-?}/s, https ${BB_HTTPS:-?} ms at ${BB_HTTPS_RATE:-?}/s"
    sleep "$PAUSE"
fi

# ---------------------------------------------------------------- target
READY=$RESULTS_DIR/target.ready
READY_FILE=$READY TARGET_MAX_S=7200 bash "$ROOT/benches/target.sh" 2>"$RESULTS_DIR/target.log" &
TARGET_PID=$!
for ((i = 0; i < 300; i++)); do
    [[ -s $READY ]] && break
    kill -0 "$TARGET_PID" 2>/dev/null || { cat "$RESULTS_DIR/target.log" >&2; die "target did not start"; }
    sleep 0.1
done
[[ -s $READY ]] || die "target not ready after 30 s"
NGINX_WORKER=$(head -n1 "$READY")
log "target up (nginx worker $NGINX_WORKER)"

proc_ticks() {   # utime+stime of a pid in clock ticks
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    echo $((${12} + ${13}))
}
idle_ticks() { awk '$1 == "cpu" { print $5 + $6; t = 0; for (i = 2; i <= NF; i++) t += $i; print t }' /proc/stat | paste -sd' '; }

# ---------------------------------------------------------------- cases
TSV=$RESULTS_DIR/runs.tsv
printf 'case\trun\tchecks\tinterval\tstore\tconc\tresults\tfailed\tchecks_per_s\tcpu_ms_per_check\tnginx_ms_per_check\tbox_idle_pct\tothers_pct\tlag_p50_ms\tlag_p99_ms\tlag_max_ms\tpeak_rss_mb\tload1\tcommand\n' >"$TSV"

# bench CASE RUN CHECKS INTERVAL DURATION STORE URL [extra args]
bench() {
    local case=$1 run=$2 checks=$3 interval=$4 dur=$5 store=$6 url=$7 load ng0 ng1 id0 id1 out
    shift 7
    local -a cmd=("$BIN" bench --url "$url" --checks "$checks" --interval "$interval"
        --duration "${dur}s" --concurrency "$CONCURRENCY" --store "$store" --json "$@")
    out="$RESULTS_DIR/$case-$checks-$store-$run"
    load=$(cut -d' ' -f1 /proc/loadavg)
    log "$case #$run: ${cmd[*]#"$ROOT/"}  (load $load)"
    ng0=$(proc_ticks "$NGINX_WORKER")
    read -r id0 < <(idle_ticks)
    timeout -k 10 $((dur + 120)) "${cmd[@]}" >"$out.json" 2>"$out.log" &
    RUN_PID=$!
    wait "$RUN_PID" || { tail -n 20 "$out.log" >&2; die "forewarn bench failed ($out.log)"; }
    RUN_PID=
    ng1=$(proc_ticks "$NGINX_WORKER")
    read -r id1 < <(idle_ticks)
    kill -0 "$NGINX_WORKER" 2>/dev/null || die "the nginx worker is gone"
    jq -r --arg case "$case" --arg run "$run" --arg conc "$CONCURRENCY" --arg load "$load" \
        --arg ng "$(((ng1 - ng0)))" --arg hz "$HZ" --arg id0 "$id0" --arg id1 "$id1" \
        --arg cmd "forewarn bench ${cmd[*]:2}" '
        ($id0 | split(" ") | map(tonumber)) as $a | ($id1 | split(" ") | map(tonumber)) as $b |
        [$case, $run, .checks, .interval_s, .store, $conc, .results, .failed,
         (.checks_per_s | round),
         (.cpu_ms_per_check * 1000 | round / 1000),
         (if .results > 0 then ($ng | tonumber) / ($hz | tonumber) * 1000 / .results * 1000 | round / 1000 else 0 end),
         ((($b[0] - $a[0]) / ($b[1] - $a[1]) * 1000 | round) / 10),
         ((($b[1] - $a[1]) - ($b[0] - $a[0]) - ($ng | tonumber)) / ($hz | tonumber) - .cpu_s) as $others |
           ($others / .duration_s * 1000 | round / 10 | if . < 0 then 0 else . end),
         (.lag_p50_ms * 10 | round / 10), (.lag_p99_ms * 10 | round / 10), (.lag_max_ms * 10 | round / 10),
         (.peak_rss_mb | round), $load, $cmd] | @tsv' "$out.json" >>"$TSV"
    tail -n1 "$TSV" | awk -F'\t' '{ printf "    -> %s checks/s, %s ms CPU/check, lag p99 %s ms, RSS %s MB, failed %s, others %s%% of a core\n", $9, $10, $15, $17, $8, $13 }' >&2
    if grep -q 'checks failed' "$out.log"; then grep 'checks failed' "$out.log" >&2; fi
    sleep "$PAUSE"
}

for case in $CASES; do
    for ((r = 1; r <= REPEAT; r++)); do
        case $case in
            http) for n in $HTTP_CHECKS; do bench http "$r" "$n" 1s "$DUR" none http://127.0.0.1:18080/; done ;;
            https) for n in $HTTPS_CHECKS; do bench https "$r" "$n" 1s "$DUR" none https://127.0.0.1:18443/ --insecure; done ;;
            big) for s in $BIG_STORES; do bench big "$r" "$BIG_CHECKS" 60s "$BIG_DUR" "$s" http://127.0.0.1:18080/; done ;;
            *) die "unknown case $case (http, https, big)" ;;
        esac
    done
done

# ---------------------------------------------------------------- summary
{
    echo "== forewarn bench, $(date -Is), $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') =="
    echo "target: nginx (1 worker) on 127.0.0.1, same machine; concurrency $CONCURRENCY; every check a new connection"
    echo
    column -t -s $'\t' < <(cut -f1-18 "$TSV")
    echo
    best() {  # best CASE: median-free summary: mean CPU/check and best rate with p99 < 1 s
        awk -F'\t' -v c="$1" 'NR > 1 && $1 == c { n++; cpu += $10; if ($15 < 1000 && $8 == 0 && $9 > r) r = $9 }
            END { if (n) printf "%.4f %d\n", cpu / n, r; else print "- -" }' "$TSV"
    }
    read -r FW_HTTP FW_HTTP_RATE < <(best http)
    read -r FW_HTTPS FW_HTTPS_RATE < <(best https)
    ratio() { if [[ -n $1 && -n $2 && $1 != - && $2 != - ]]; then fcalc "$1 / $2" 2; else echo -; fi; }
    printf '%-6s %14s %14s %8s %18s %18s\n' "" "forewarn ms" "blackbox ms" "ratio" "forewarn best/s" "blackbox/s"
    printf '%-6s %14s %14s %8s %18s %18s\n' "" "CPU/check" "CPU/probe" "(<=0.5)" "(p99 lag < 1 s)" "(at $BB_CONNS)"
    printf '%-6s %14s %14s %8s %18s %18s\n' http "$FW_HTTP" "${BB_HTTP:--}" "$(ratio "$FW_HTTP" "$BB_HTTP")" "$FW_HTTP_RATE" "${BB_HTTP_RATE:--}"
    printf '%-6s %14s %14s %8s %18s %18s\n' https "$FW_HTTPS" "${BB_HTTPS:--}" "$(ratio "$FW_HTTPS" "$BB_HTTPS")" "$FW_HTTPS_RATE" "${BB_HTTPS_RATE:--}"
    awk -F'\t' 'NR > 1 && $1 == "big" { printf "big    %s checks every %ss, store %s: p99 lag %s ms, max %s ms, peak RSS %s MB, failed %s\n", $3, $4, $5, $15, $16, $17, $8 }' "$TSV"
    if [[ $PEERS == 1 ]]; then echo; echo "blackbox_exporter (peers.sh, just before):"; sed -n '/^Summary/,$p' "$RESULTS_DIR/peers/summary.txt" 2>/dev/null | grep -E '^(id|  |C|D|best)' || true; fi
} | tee "$RESULTS_DIR/summary.txt"
log "raw outputs in $RESULTS_DIR"
