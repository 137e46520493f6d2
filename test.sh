#!/usr/bin/env bash
# Runs every test the way CI does: go vet, then go test -race on every
# package. The tests run in a D-Bus session of their own, with a
# gnome-keyring whose files and sockets live in a temporary directory, so
# they use a real Secret Service without touching the user's own keyring.
# Extra arguments go to go test: ./test.sh -run TestBudgetRefusal
#
# Under CI=true the keyring is required (SLUICE_REQUIRE_KEYRING=1) and the
# end-to-end tests fail rather than skip when Node or the SDKs are missing.
set -euo pipefail
cd "$(dirname "$0")"

go vet ./...

# Every test below runs under -race, whose instrumentation makes every
# frame larger: the test that a request's handler stays within its stack
# (gateway's TestHandlerStack, which skips under -race) runs here without.
if [[ $# -eq 0 ]]; then
  go test -count=1 -run '^TestHandlerStack$' ./gateway
fi

# The end-to-end tests need the SDKs from npm; install them the first time.
for dir in e2e frontend; do
  if [[ ! -d $dir/node_modules ]] && command -v npm >/dev/null; then
    (cd "$dir" && npm ci --no-audit --no-fund)
  fi
done

if [[ "${CI:-}" == true ]]; then
  export SLUICE_REQUIRE_KEYRING=1
fi

if ! command -v dbus-run-session >/dev/null || ! command -v gnome-keyring-daemon >/dev/null; then
  if [[ "${CI:-}" == true ]]; then
    echo "test.sh: dbus-run-session and gnome-keyring-daemon are required (apt-get install dbus gnome-keyring)" >&2
    exit 1
  fi
  echo "test.sh: no dbus-run-session or gnome-keyring-daemon; testing without a Secret Service" >&2
  go test -race "$@" ./...
  exit
fi

scratch=$(mktemp -d)
# The desktop test's GTK may start a document portal that mounts itself
# under the runtime directory: unmount it before removing the directory,
# and never let the clean-up change the tests' exit status.
cleanup() {
  fusermount -u "$scratch/run/doc" 2>/dev/null || fusermount3 -u "$scratch/run/doc" 2>/dev/null || true
  rm -rf "$scratch" 2>/dev/null || true
}
trap 'status=$?; cleanup; exit $status' EXIT
mkdir -m 700 "$scratch/data" "$scratch/run"
# Tells the tests that the session's keyring is this throwaway one.
export SLUICE_TEST_KEYRING=1

# XDG_DATA_HOME and XDG_RUNTIME_DIR hold the keyring's files and sockets;
# set for the whole session, they reach a gnome-keyring that D-Bus starts on
# demand too. Then wait until the unlocked keyring owns its bus name: a
# client that came sooner would get one started on demand, with no password.
XDG_DATA_HOME="$scratch/data" XDG_RUNTIME_DIR="$scratch/run" dbus-run-session -- bash -c '
  set -euo pipefail
  printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  for _ in $(seq 50); do
    owner=$(dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null || true)
    [[ $owner == *"boolean true"* ]] && break
    sleep 0.1
  done
  go test -race "$@" ./...
' test.sh "$@"
