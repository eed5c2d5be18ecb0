#!/bin/sh
# make bench: installs the benchmark tools if missing (Debian packages, needs root), then runs
# bench/bench.py against the orderfs binary in $BUILD. Results go to bench/out/.
set -eu
BUILD=${BUILD:-build/release}
PYTHON=${PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/.."

missing=""
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
command -v rclone >/dev/null 2>&1 || missing="$missing rclone"
command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot-nox"
command -v hyperfine >/dev/null 2>&1 || missing="$missing hyperfine"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "bench: missing packages:$missing (run as root or install them)" >&2
		exit 1
	fi
	echo "bench: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	apt-get install -y --no-install-recommends $missing >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends $missing >/dev/null; }
fi
exec env BUILD="$BUILD" PATH="$PATH:/usr/sbin" "$PYTHON" bench/bench.py "$@"
