#!/bin/sh
# Runs every unit test binary and the integration suite; prints one summary line at the end.
# A binary that crashes or exits non-zero without reporting counts as one failure.
# Env: BUILD (build dir), PYTHON, ONLY=unit|integration|bench, ITESTS (integration tests to run, as
# module[.Class[.method]] names; default all), ITEST_JOBS (processes for them; default 2 for the
# whole suite in a plain build, else 1), VALGRIND=1 (unit tests and the
# mounted orderfs under valgrind memcheck: any error or definite leak fails; exit code 99).
BUILD=${BUILD:-build/release}
PYTHON=${PYTHON:-/usr/bin/python3}
WRAP=""
if [ "${VALGRIND:-0}" = 1 ]; then
	if ! command -v valgrind >/dev/null 2>&1; then
		echo "installing valgrind"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind >/dev/null ||
			{ echo "valgrind is missing and could not be installed" >&2; exit 1; }
	fi
	WRAP="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
	export VALGRIND
fi
passed=0
failed=0
failed_names=""

if [ "${ONLY:-unit}" = unit ] || [ -z "$ONLY" ]; then
	# The layering of the sources (fs -> cache -> client -> common, the fleet's one header):
	# counted as one test, so a stray #include fails `make test` like a failing unit test.
	if "$PYTHON" tests/check_layers.py; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failed_names="$failed_names check_layers"
	fi
	# The import circles, from the built objects (one folder per room, calls one way).
	if "$PYTHON" tests/check_circles.py "$BUILD"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failed_names="$failed_names check_circles"
	fi
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		# shellcheck disable=SC2086
		out=$($WRAP "$t" 2>&1)
		rc=$?
		printf '%s\n' "$out"
		p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
		f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
		p=${p:-0}
		f=${f:-0}
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1
		fi
		[ "$f" -gt 0 ] && failed_names="$failed_names $(basename "$t")"
		passed=$((passed + p))
		failed=$((failed + f))
	done
fi

if [ "${ONLY:-integration}" = integration ] || [ -z "$ONLY" ]; then
	summary=$(mktemp)
	# The whole suite runs in two processes (most tests wait on I/O; shard.py); a chosen
	# list, or a sanitizer or valgrind build, in one unless ITEST_JOBS says otherwise.
	jobs=1
	[ -z "${ITESTS:-}" ] && [ -z "${SANITIZE:-}" ] && [ "${VALGRIND:-0}" != 1 ] && jobs=2
	jobs=${ITEST_JOBS:-$jobs}
	# shellcheck disable=SC2086
	BUILD="$BUILD" "$PYTHON" tests/integration/run.py --jobs "$jobs" --summary-file "$summary" \
		${ITESTS:-}
	rc=$?
	if [ -s "$summary" ]; then
		read -r ip if_ < "$summary"
	else
		ip=0
		if_=1
	fi
	rm -f "$summary"
	if [ "$rc" -ne 0 ] && [ "$if_" -eq 0 ]; then
		if_=1
	fi
	[ "$if_" -gt 0 ] && failed_names="$failed_names integration"
	passed=$((passed + ip))
	failed=$((failed + if_))
fi

# The benchmark in its quick mode, end to end, so it cannot rot: it passes when every row got
# a number (speeds are judged by the full `make bench`). Not under sanitizers or valgrind,
# whose slowdown would only measure themselves.
if [ -z "${ONLY:-}" ] || [ "$ONLY" = bench ]; then
	if [ -n "${SANITIZE:-}" ] || [ "${VALGRIND:-0}" = 1 ]; then
		echo "bench quick: not run in a sanitizer or valgrind build"
	elif BUILD="$BUILD" PYTHON="$PYTHON" BENCH_QUICK=1 sh bench/run.sh; then
		echo "bench quick: passed"
		passed=$((passed + 1))
	else
		echo "bench quick: FAILED"
		failed=$((failed + 1))
		failed_names="$failed_names bench-quick"
	fi
fi

[ -n "$failed_names" ] && echo "failing:$failed_names"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
