#!/usr/bin/env bash
# Install Debian's chromium for the docs browser test (tests/test_docs_site.py), if it is missing.
# Idempotent and quiet. Never fails the build: where it cannot install (no root, no apt, no network),
# it says so and exits 0, and the browser test then skips with a message.
set -u
have() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }
if have; then echo "chromium: present ($(command -v chromium || command -v chromium-browser))"; exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not installed, and apt-get is not available here; the docs browser test will skip"; exit 0
fi
SUDO=''
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO='sudo -n'
  else echo "chromium: not installed, and installing it needs root; the docs browser test will skip"; exit 0; fi
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if $SUDO apt-get update -qq >"$log" 2>&1 && $SUDO apt-get install -y -qq --no-install-recommends chromium >>"$log" 2>&1 && have; then
  echo "chromium: installed ($(command -v chromium || command -v chromium-browser))"
else
  echo "chromium: could not be installed (last lines of apt's log below); the docs browser test will skip"
  tail -n 5 "$log"
fi
rm -f "$log"
exit 0
