#!/usr/bin/env bash
# What the tests need on a fresh Debian/Ubuntu machine, installed or started when missing
# (run as root; idempotent, quick when everything is there). `.ci/run` calls it first; the
# README's test command is `tests/setup.sh && cargo test`.
# - PostgreSQL on 127.0.0.1:5432 (trust auth, database `test`): the store tests run against it
#   as well as SQLite;
# - Chromium and python3's websocket-client: the browser tests (tests/browser/driver.py);
# - Dovecot: the IMAP fetch tests (tests/support/imap.rs starts a throw-away one);
# - promtool (Debian's prometheus package): tests/metrics_promtool.rs.
set -euo pipefail
log() { printf '[setup %(%H:%M:%S)T] %s\n' -1 "$*"; }

# PostgreSQL on 127.0.0.1:5432 (trust auth, database `test`): start it when it is down.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    log "PostgreSQL is down; starting it"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 || { log "PostgreSQL did not come up"; exit 1; }
# Headless Chromium and the DevTools client for the browser test (tests/browser.rs).
if ! command -v chromium >/dev/null 2>&1; then
    log "installing chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q chromium >/dev/null
fi
# Dovecot for the IMAP fetch tests (tests/support/imap.rs starts a throw-away one).
if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then
    log "installing dovecot-imapd"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q dovecot-imapd >/dev/null
fi
# promtool (Debian's prometheus package) for tests/metrics_promtool.rs: /metrics and the example
# alert rules must pass `promtool check metrics` / `promtool check rules`.
if ! command -v promtool >/dev/null 2>&1; then
    log "installing prometheus (promtool)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends prometheus >/dev/null
fi
# websocket-client for the browser driver: Debian's package, else pip (a Debian python refuses
# a system-wide pip install without --break-system-packages).
if ! python3 -c 'import websocket' 2>/dev/null; then
    log "installing python3-websocket"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-websocket >/dev/null 2>&1 \
        || python3 -m pip install -q websocket-client \
        || python3 -m pip install -q --break-system-packages websocket-client
fi
log "ready: PostgreSQL, chromium, dovecot, promtool, websocket-client"

