#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver for the console's browser specs (tests/Saga.Api.Tests, Selenium).
# Only the tests need them: the demo, bench and chaos do not. Idempotent; needs root, as the Debian packages do.
set -euo pipefail
say()  { printf '[infra] %s\n' "$*"; }
fail() { printf '[infra] FAILED: %s\n' "$*" >&2; exit 1; }

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  say "installing chromium and chromium-driver (about a minute)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
    || fail "apt-get install chromium chromium-driver"
fi
say "Chromium ready: $(chromium --version 2>/dev/null | head -1)"
