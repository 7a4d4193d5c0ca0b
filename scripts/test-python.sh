#!/usr/bin/env bash
# Runs the Python package's tests (python/tests) with Debian's python3,
# never whatever python3 comes first on PATH. Without python3 or pytest:
# a failure under CI=true, a notice otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
py=/usr/bin/python3
if ! "$py" -c 'import pytest' >/dev/null 2>&1; then
	msg="python tests: $py with pytest is missing (bash scripts/install-test-deps.sh installs it)"
	if [ "${CI:-}" = true ]; then
		echo "$msg" >&2
		exit 1
	fi
	echo "$msg; skipped" >&2
	exit 0
fi
export PYTHONDONTWRITEBYTECODE=1 PYTHONNOUSERSITE=1
exec "$py" -m pytest -q -p no:cacheprovider python/tests "$@"
