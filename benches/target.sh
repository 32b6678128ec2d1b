#!/usr/bin/env bash
# target.sh - a private nginx for `forewarn bench` (and for peers.sh-style comparisons).
#
#   http://127.0.0.1:18080/    -> 200 "ok\n"      (/nginx_status: stub_status)
#   https://127.0.0.1:18443/   -> 200 "ok\n"      self-signed ECDSA P-256 certificate for 127.0.0.1
#
# One nginx worker, access log off, nginx's default keep-alive and TLS settings: the same shape
# as the target in ../shared/bench/peers.sh, so figures are comparable with blackbox_exporter's.
#
# Runs in the foreground until TERM/INT or until TARGET_MAX_S seconds have passed (a backstop),
# then stops nginx and removes its temp dir. When it is up it prints "target ready" on stderr
# and, when READY_FILE is set, writes the nginx worker's pid there (and the master's on line 2).
# Touches only 127.0.0.1. Installs nginx with apt-get if it is missing (needs root).
set -euo pipefail
export LC_ALL=C

HTTP_PORT=${HTTP_PORT:-18080}
HTTPS_PORT=${HTTPS_PORT:-18443}
TARGET_MAX_S=${TARGET_MAX_S:-3600}
READY_FILE=${READY_FILE:-}

log() { printf '[target %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $TARGET_MAX_S =~ ^[0-9]+$ && $TARGET_MAX_S -ge 1 ]] || die "TARGET_MAX_S must be a positive integer"

if ! command -v nginx >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1 ||
    ! command -v curl >/dev/null 2>&1; then
    [[ $(id -u) -eq 0 ]] || die "nginx, openssl and curl are needed (run as root to install them)"
    log "installing nginx openssl curl"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get install -y -q --no-install-recommends nginx openssl curl ||
        { timeout 300 apt-get update -q && timeout 600 apt-get install -y -q --no-install-recommends nginx openssl curl; }
fi

for port in "$HTTP_PORT" "$HTTPS_PORT"; do
    if ss -Hltn "sport = :$port" | grep -q .; then die "port $port is already in use"; fi
done

WORK=$(mktemp -d /tmp/forewarn-target.XXXXXX)
NGINX_PID=
stop() {
    local rc=$? i
    trap - EXIT INT TERM
    set +e
    if [[ -n $NGINX_PID ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
        # TERM to the master: it stops its worker itself (fast shutdown).
        kill -TERM "$NGINX_PID" 2>/dev/null
        for ((i = 0; i < 50; i++)); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NGINX_PID" 2>/dev/null
        wait "$NGINX_PID" 2>/dev/null
        log "nginx stopped"
    fi
    rm -rf "$WORK"
    if [[ -n $READY_FILE ]]; then rm -f "$READY_FILE"; fi
    exit "$rc"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$WORK/tmp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" 2>"$WORK/openssl.log" ||
    { cat "$WORK/openssl.log" >&2; die "could not make the certificate"; }

cat >"$WORK/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    default_type text/plain;
    client_body_temp_path $WORK/tmp/body;
    proxy_temp_path $WORK/tmp/proxy;
    fastcgi_temp_path $WORK/tmp/fastcgi;
    uwsgi_temp_path $WORK/tmp/uwsgi;
    scgi_temp_path $WORK/tmp/scgi;
    server {
        listen 127.0.0.1:$HTTP_PORT;
        location = /nginx_status { stub_status; }
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:$HTTPS_PORT ssl;
        ssl_certificate $WORK/cert.pem;
        ssl_certificate_key $WORK/key.pem;
        location / { return 200 "ok\n"; }
    }
}
CONF

args=(-p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log")
nginx "${args[@]}" -t 2>"$WORK/test.log" || { cat "$WORK/test.log" >&2; die "nginx -t failed"; }
nginx "${args[@]}" >"$WORK/stdout.log" 2>&1 &
NGINX_PID=$!

up=0
for ((i = 0; i < 100; i++)); do
    if [[ $(curl -s --max-time 2 "http://127.0.0.1:$HTTP_PORT/" 2>/dev/null) == ok &&
        $(curl -sk --max-time 2 "https://127.0.0.1:$HTTPS_PORT/" 2>/dev/null) == ok ]]; then
        up=1
        break
    fi
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.1
done
((up)) || { cat "$WORK/error.log" >&2 || true; die "nginx did not answer ok on both ports"; }
worker=$(pgrep -P "$NGINX_PID" | head -n1 || true)
if [[ -n $READY_FILE ]]; then printf '%s\n%s\n' "$worker" "$NGINX_PID" >"$READY_FILE"; fi
log "target ready: http://127.0.0.1:$HTTP_PORT/ https://127.0.0.1:$HTTPS_PORT/ (nginx $NGINX_PID, worker $worker; stops in ${TARGET_MAX_S}s at the latest)"

# Wait for a signal, nginx's end or the backstop. `sleep & wait` lets a signal in at once.
end=$((SECONDS + TARGET_MAX_S))
while ((SECONDS < end)) && kill -0 "$NGINX_PID" 2>/dev/null; do
    sleep 1 &
    wait $! || true
done
if ! kill -0 "$NGINX_PID" 2>/dev/null; then die "nginx exited on its own"; fi
log "TARGET_MAX_S reached"
