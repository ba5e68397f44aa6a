#!/bin/sh
# deps.sh: installs the Debian packages that goheap needs to build, test and
# benchmark, and nothing when they are all present (one dpkg-query call, so
# it is fast enough for make to run on every `make test`).
#
# Runs apt-get as root, or through sudo otherwise, without questions
# (DEBIAN_FRONTEND=noninteractive, no standard input needed). apt-get update
# runs only when something is missing. Exits non-zero if a package could not
# be installed. On a system without dpkg it prints what to install and
# leaves the build to fail or succeed on its own.
set -eu

# Why each package is needed: README.md, "Dependencies".
PACKAGES="build-essential pkg-config binutils libatomic-ops-dev libunwind-dev
libcmocka-dev zlib1g-dev libgc-dev golang-go libjemalloc-dev libmimalloc-dev
libgoogle-perftools-dev gnuplot-nox graphviz librsvg2-bin libxml2-utils
curl python3 sqlite3 git perl lua5.4"

# missing prints the packages of $PACKAGES that dpkg does not list as
# installed, separated by spaces.
missing() {
    # shellcheck disable=SC2086 # word splitting of the list is intended
    dpkg-query -W -f='${Package} ${db:Status-Status}\n' $PACKAGES 2>/dev/null |
        awk -v want="$PACKAGES" '
            $2 == "installed" { ok[$1] = 1 }
            END {
                n = split(want, w)
                for (i = 1; i <= n; i++)
                    if (!(w[i] in ok)) {
                        printf "%s%s", sep, w[i]
                        sep = " "
                    }
            }'
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: no dpkg-query, so not a Debian system; make sure these (or" \
        "their equivalents) are installed:" $PACKAGES >&2
    exit 0
fi

todo=$(missing)
[ -z "$todo" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "deps.sh: missing packages: $todo" >&2
    echo "deps.sh: not root and no sudo; install them as root and rerun" >&2
    exit 1
fi

echo "deps.sh: installing: $todo" >&2
apt_get() {
    $as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -q -y -o DPkg::Lock::Timeout=300 "$@" </dev/null
}
apt_get update
# shellcheck disable=SC2086 # word splitting of the list is intended
apt_get install $todo

left=$(missing)
if [ -n "$left" ]; then
    echo "deps.sh: still missing after apt-get install: $left" >&2
    exit 1
fi
