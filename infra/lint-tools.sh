#!/usr/bin/env bash
# Installs the OpenAPI linter the tests run (tests/Saga.Api.Tests/OpenApi_Lint_Specs.cs): Spectral with its OpenAPI and
# OWASP API Security rulesets, from the npm registry, at the versions tools/api-lint/package-lock.json pins. Node.js
# comes from Debian when the machine has none. Idempotent; no install script of any package runs (tools/api-lint/.npmrc).
set -euo pipefail
say()  { printf '[infra] %s\n' "$*"; }
fail() { printf '[infra] FAILED: %s\n' "$*" >&2; exit 1; }
cd "$(dirname "${BASH_SOURCE[0]}")/../tools/api-lint"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "installing nodejs and npm"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null || fail "apt-get install nodejs npm"
fi
# Installed again only when the lock file changed since the last install (npm ci starts from an empty node_modules).
if [ ! -x node_modules/.bin/spectral ] || ! cmp -s package-lock.json node_modules/.saga-installed-lock.json; then
  say "installing Spectral from the npm registry (tools/api-lint/package-lock.json)"
  SCARF_ANALYTICS=false npm ci --no-audit --no-fund >/dev/null || fail "npm ci in tools/api-lint"
  cp package-lock.json node_modules/.saga-installed-lock.json
fi
say "Spectral ready: $(node_modules/.bin/spectral --version)"
