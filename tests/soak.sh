#!/bin/sh
# make soak: the long load test with faults on (tests/integration/soak.py does the work).
# Env: BUILD (build dir with orderfs), PYTHON, SOAK_SECONDS (default 300).
BUILD=${BUILD:-build/release}
PYTHON=${PYTHON:-/usr/bin/python3}
SOAK_SECONDS=${SOAK_SECONDS:-300}
export BUILD PYTHON SOAK_SECONDS
if [ ! -x "$BUILD/orderfs" ]; then
	echo "soak: $BUILD/orderfs is missing; run make first" >&2
	exit 1
fi
echo "soak: ${SOAK_SECONDS}s, 64 readers x 20 ranges, faults on"
exec "$PYTHON" tests/integration/soak.py
