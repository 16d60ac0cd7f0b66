# shellcheck shell=bash
# Sourced by scripts/run and scripts/test. Defines REPO_ROOT, VENV and the helpers
# below; `bootstrap` leaves a venv at $VENV with this project installed, without
# changing the caller's cwd.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=$REPO_ROOT/.venv
STAMP=$VENV/.pyhttpd-installed
APT_UPDATED=0

die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Runs a command silently; shows its output only if it fails.
quietly() {
    local out
    if ! out=$("$@" 2>&1); then
        printf '%s\n' "$out" >&2
        return 1
    fi
}

# Installs Debian packages (root only); apt-get update runs at most once per process.
apt_install() {
    [ "$#" -gt 0 ] || return 0
    command -v apt-get >/dev/null || die "apt-get not found; install these packages: $*"
    if [ "$APT_UPDATED" -eq 0 ]; then
        quietly apt-get update -qq || die "apt-get update failed"
        APT_UPDATED=1
    fi
    echo "installing Debian packages: $*" >&2
    # A server package (nginx, haproxy) starts its service on install unless policy-rc.d says
    # no: say no for the length of the install, if nothing says so already.
    local policy=/usr/sbin/policy-rc.d made_policy=0 status=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
    fi
    quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        || status=$?
    [ "$made_policy" -eq 0 ] || rm -f "$policy"
    [ "$status" -eq 0 ] || die "apt-get install $* failed"
}

find_python() {
    PYTHON=$(command -v python3) || die "python3 not found; install Python >= 3.11"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$PYTHON is $("$PYTHON" -V 2>&1); pyhttpd needs Python >= 3.11"
}

make_venv() {
    # Debian ships ensurepip, which venv needs, separately in python3-venv.
    if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
        is_root || die "$PYTHON cannot create venvs: install the Debian package python3-venv"
        apt_install python3-venv
    fi
    local existed=0
    [ -e "$VENV" ] && existed=1
    if ! quietly "$PYTHON" -m venv "$VENV"; then
        # A half-made venv (no pip) would pass for a ready one next time.
        [ "$existed" -eq 1 ] || rm -rf "$VENV"
        die "$PYTHON -m venv $VENV failed"
    fi
}

bootstrap() {
    find_python
    if [ ! -x "$VENV/bin/python" ] || [ ! -x "$VENV/bin/pip" ]; then
        make_venv
        rm -f "$STAMP"
    fi
    if [ ! -e "$STAMP" ] || [ "$REPO_ROOT/pyproject.toml" -nt "$STAMP" ]; then
        quietly env PIP_DISABLE_PIP_VERSION_CHECK=1 \
            "$VENV/bin/python" -m pip install -q -e "$REPO_ROOT[test]" \
            || die "pip install -e '$REPO_ROOT[test]' failed"
        touch "$STAMP"
    fi
}
