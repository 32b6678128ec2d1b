#!/usr/bin/env bash
# Builds the Debian packages forewarn and forewarn-agent from the debug build that `cargo test`
# has made (`cargo deb --profile dev --no-build`: no second, release build in CI), installs them
# with `dpkg -i` (as root; no running systemd needed), runs `systemd-analyze verify` on the
# installed units, validates the installed configuration in /etc/forewarn with the installed
# binaries, installs them once more (an upgrade: the maintainer scripts are idempotent), and
# purges them.
#
#   bash packaging/check.sh          # from .ci/run, after `cargo test`; or by hand, as root
#
# Release packages: `cargo deb -p forewarn` and `cargo deb -p forewarn-agent` (packaging/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[packaging %(%H:%M:%S)T] %s\n' -1 "$*"; }
fail() { log "FAILED: $*"; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (dpkg -i)"
export DEBIAN_FRONTEND=noninteractive
CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    log "installing cargo-deb $CARGO_DEB_VERSION"
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
    log "installing systemd (for systemd-analyze)"
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends systemd >/dev/null
fi

target=${CARGO_TARGET_DIR:-target}
out="$target/debian"
rm -rf "$out"
# A no-op after `cargo test`, which built both binaries (the agent's only when missing).
cargo build --locked --bins --quiet
log "cargo deb (profile dev, no build)"
for pkg in forewarn forewarn-agent; do
    cargo deb --locked --no-build --profile dev --fast -p "$pkg" -o "$out/" >/dev/null
done
debs=("$out"/forewarn_*.deb "$out"/forewarn-agent_*.deb)
for deb in "${debs[@]}"; do
    [ -f "$deb" ] || fail "no package $deb"
    log "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
done

cleanup() { dpkg --purge forewarn forewarn-agent >/dev/null 2>&1 || true; }
trap cleanup EXIT

log "dpkg -i"
dpkg -i "${debs[@]}"

log "what was installed"
for f in /usr/bin/forewarn /usr/bin/forewarn-agent /etc/forewarn/forewarn.toml \
         /etc/forewarn/agent.toml; do
    [ -f "$f" ] || fail "$f is missing"
done
units=()
for u in forewarn forewarn-agent; do
    unit=$(dpkg -L "$u" | grep -E "/systemd/system/$u\.service$" | head -n1)
    [ -n "$unit" ] || fail "package $u has no $u.service"
    units+=("$unit")
    grep -q '^LimitNOFILE=' "$unit" || fail "$unit sets no LimitNOFILE"
done
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "${units[0]}" || fail "${units[0]}: no ExecReload sending SIGHUP"
for user in forewarn forewarn-agent; do
    getent passwd "$user" >/dev/null || fail "no system user $user"
done
[ "$(stat -c '%U %G %a' /var/lib/forewarn)" = "forewarn forewarn 750" ] \
    || fail "/var/lib/forewarn is $(stat -c '%U %G %a' /var/lib/forewarn)"
[ "$(stat -c '%U %G %a' /etc/forewarn/staff.token)" = "root forewarn 640" ] \
    || fail "/etc/forewarn/staff.token is $(stat -c '%U %G %a' /etc/forewarn/staff.token)"
[ "$(stat -c '%U %G %a' /etc/forewarn/agent.token)" = "root forewarn-agent 640" ] \
    || fail "/etc/forewarn/agent.token is $(stat -c '%U %G %a' /etc/forewarn/agent.token)"

log "systemd-analyze verify ${units[*]}"
systemd-analyze verify "${units[@]}"

log "forewarn validate (/etc/forewarn/forewarn.toml)"
/usr/bin/forewarn --config /etc/forewarn/forewarn.toml validate
log "forewarn-agent --check (/etc/forewarn/agent.toml)"
/usr/bin/forewarn-agent --check --config /etc/forewarn/agent.toml

log "dpkg -i again (upgrade): the tokens stay"
staff_before=$(cat /etc/forewarn/staff.token)
dpkg -i "${debs[@]}" >/dev/null
[ "$(cat /etc/forewarn/staff.token)" = "$staff_before" ] || fail "the upgrade replaced the staff token"
/usr/bin/forewarn --config /etc/forewarn/forewarn.toml validate >/dev/null

log "dpkg --purge"
trap - EXIT
dpkg --purge forewarn forewarn-agent >/dev/null
[ ! -e /etc/forewarn/staff.token ] && [ ! -e /etc/forewarn/agent.token ] \
    || fail "purge left a token in /etc/forewarn"
[ ! -e /usr/bin/forewarn-agent ] || fail "purge left /usr/bin/forewarn-agent"
log "ok"
