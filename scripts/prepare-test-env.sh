#!/bin/sh
# The system programs the test command needs, checked first: `pnpm test` runs this before
# anything else. A missing program is installed through apt when this runs as root on a machine
# with apt-get (a fresh Debian); otherwise the run stops at once with one line saying what to
# install. Nothing is ever downloaded outside the system's package manager (no browser of a test
# tool's own).
#
# Each program is one `need` line at the bottom: the name the tests look for on PATH, the
# variable that may point at another executable, and the Debian package that provides it.
set -eu

missing=''

# need <program> <variable naming another executable, or -> <Debian package>
need() {
  program=$1 variable=$2 package=$3
  if [ "$variable" != - ]; then
    # An explicit path wins and is never replaced by an install: it is the user's choice.
    eval "chosen=\${$variable:-}"
    if [ -n "$chosen" ]; then
      # -x alone passes a directory (Debian's /usr/lib/chromium), which nothing can launch.
      if [ -f "$chosen" ] && [ -x "$chosen" ]; then return 0; fi
      echo "$variable is $chosen, which is not an executable: point it at $program, or unset it to use $program from PATH" >&2
      exit 1
    fi
  fi
  if command -v "$program" >/dev/null 2>&1; then return 0; fi
  missing="$missing $program:$package"
}

install_missing() {
  [ -n "$missing" ] || return 0
  packages='' programs=''
  for entry in $missing; do
    programs="$programs ${entry%%:*}"
    packages="$packages ${entry#*:}"
  done
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "The tests need${programs}: install it (Debian: apt-get install -y${packages}) and run the tests again" >&2
    exit 1
  fi
  echo "installing${packages} for the tests (apt-get)" >&2
  apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
  for program in $programs; do
    if ! command -v "$program" >/dev/null 2>&1; then
      echo "apt-get installed${packages} but $program is still not on PATH" >&2
      exit 1
    fi
  done
}

need chromium CHROMIUM_PATH chromium
need redis-server REDIS_SERVER_PATH redis-server
install_missing
