#!/usr/bin/env bash
# Installs what the tests need, from Debian's packages, when missing.
# Idempotent: a second run installs nothing and touches no package list.
#
# The interop tests (interop/) run real peers: Debian's /usr/bin/python3
# with werkzeug, PasteDeploy, Paste, WebOb and WSGIProxy2, gunicorn,
# and nginx; redis-server for the shared nonce store (sign/redisnonce).
# nginx and redis-server are started by the tests themselves on loopback
# or a unix socket; they are never left running as system services. The
# status page is checked in headless chromium (cmd/wsgiproxy,
# TestAdminServe).
# The Python package's tests (python/tests) need pytest, Flask, uvicorn,
# and venv with pip and setuptools (the offline install test).
#
# Not root and something missing: say what, and fail under CI=true (a
# developer without root gets the tests' own skip messages instead).
set -euo pipefail

packages=(
	python3-werkzeug
	python3-pastedeploy
	python3-paste
	python3-webob
	python3-wsgiproxy
	gunicorn
	nginx
	chromium
	redis-server
	python3-pytest
	python3-flask
	python3-uvicorn
	python3-venv
	python3-pip
	python3-setuptools
)

installed() {
	dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed
}

missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "test dependencies: ok"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "test dependencies missing: ${missing[*]}" >&2
	echo "install them as root: apt-get install ${missing[*]}" >&2
	if [ "${CI:-}" = true ]; then
		exit 1
	fi
	exit 0
fi

nginx_was_installed=false
installed nginx && nginx_was_installed=true
redis_was_installed=false
installed redis-server && redis_was_installed=true

echo "test dependencies: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep package scripts from starting services (nginx) in this container or
# machine: policy-rc.d answering 101 forbids it; restored afterwards.
policy=/usr/sbin/policy-rc.d
policy_added=false
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	policy_added=true
fi
cleanup() {
	if [ "$policy_added" = true ]; then
		rm -f "$policy"
	fi
}
trap cleanup EXIT

apt-get -o DPkg::Lock::Timeout=600 update -q
apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"

# Should the package have started nginx anyway, stop it: the tests start
# their own on free loopback ports.
if [ "$nginx_was_installed" = false ]; then
	if command -v systemctl >/dev/null 2>&1; then
		systemctl stop nginx >/dev/null 2>&1 || true
		systemctl disable nginx >/dev/null 2>&1 || true
	fi
	if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
		/usr/sbin/nginx -s stop || true
	fi
fi

# The same for redis-server: the tests start their own.
if [ "$redis_was_installed" = false ] && command -v systemctl >/dev/null 2>&1; then
	systemctl stop redis-server >/dev/null 2>&1 || true
	systemctl disable redis-server >/dev/null 2>&1 || true
fi

still=()
for p in "${packages[@]}"; do
	installed "$p" || still+=("$p")
done
if [ ${#still[@]} -gt 0 ]; then
	echo "test dependencies: still missing after install: ${still[*]}" >&2
	exit 1
fi
echo "test dependencies: ok"
