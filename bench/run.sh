#!/usr/bin/env bash
# bench/run.sh: the side-by-side proxy benchmark (`make bench`).
#
# Installs the peers and the load generator from Debian's packages when
# they are missing and we are root (nginx, haproxy, caddy, wrk), builds
# wsgiproxy and the benchmark's Go programs, then runs bench/cmd/benchrun,
# which prints the report. Arguments go to benchrun, e.g.
#
#   bash bench/run.sh --rounds 3 --duration 4s --out bench/RESULTS.md
#
# WSGIPROXY_BIN names a wsgiproxy binary to measure instead of building
# ./cmd/wsgiproxy. Not part of CI: it takes about 9 minutes and wants an
# otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v caddy >/dev/null || need+=(caddy)
command -v redis-server >/dev/null || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "bench: installing ${need[*]} from Debian's packages" >&2
		# Keep the packages' services from starting: we run our own.
		policy=/usr/sbin/policy-rc.d
		made_policy=
		if [ ! -e "$policy" ]; then
			printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
		fi
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2 ||
			echo "bench: apt-get install failed; the missing peers are left out" >&2
		[ -n "$made_policy" ] && rm -f "$policy"
	else
		echo "bench: missing ${need[*]} (run as root on Debian to install them); they are left out" >&2
	fi
fi
command -v wrk >/dev/null || { echo "bench: wrk is required" >&2; exit 1; }

# Many connections at once: raise the descriptor limit as far as allowed.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/benchpeer" ./bench/cmd/benchpeer
go build -o "$bin/benchrun" ./bench/cmd/benchrun
wsgiproxy=${WSGIPROXY_BIN:-}
if [ -z "$wsgiproxy" ]; then
	go build -o "$bin/wsgiproxy" ./cmd/wsgiproxy
	wsgiproxy=$bin/wsgiproxy
fi
command="bash bench/run.sh $*"
[ -n "${WSGIPROXY_BIN:-}" ] && command="WSGIPROXY_BIN=$WSGIPROXY_BIN $command"
"$bin/benchrun" --wsgiproxy "$wsgiproxy" --benchpeer "$bin/benchpeer" --command "$command" "$@"
