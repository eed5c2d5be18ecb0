#!/bin/sh
# make fuzz: builds the libFuzzer targets (clang, ASan + UBSan) from the project's own sources
# and runs each for FUZZ_SECONDS (default 25). Seeds live in tests/fuzz/corpus/<target>/ (read
# only); new inputs go to $OUT/corpus/<target>/, crashes to $OUT/crash-<target>-*.
# Exit status 0 only when every target built and ran without a crash.
# Env: FUZZ_SECONDS, FUZZ_OUT (default build/fuzz), CC_FUZZ (default clang).
set -u
FUZZ_SECONDS=${FUZZ_SECONDS:-25}
OUT=${FUZZ_OUT:-build/fuzz}
CC_FUZZ=${CC_FUZZ:-clang}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}

# A fresh Debian 12 may lack clang or its libFuzzer runtime: install them from the archive.
need=""
command -v "$CC_FUZZ" >/dev/null 2>&1 || need="$need clang"
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
	need="$need libclang-rt-14-dev"
if [ -n "$need" ]; then
	echo "fuzz: installing$need"
	if [ "$(id -u)" -ne 0 ]; then
		echo "fuzz: need root to install$need (apt-get install$need)" >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null || exit 1
fi

mkdir -p "$OUT/obj"
PKGS="libcurl libcjson libcrypto xlsxwriter libmicrohttpd"
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -DORDERFS_VERSION=\"fuzz\" -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=all -fno-omit-frame-pointer -Wall -Wno-unused-parameter
	$($PKG_CONFIG --cflags $PKGS)"
LIBS="$($PKG_CONFIG --libs $PKGS) -lpthread"

# Every source but the FUSE adapters (fs/main.c, fs/ops.c) is compiled once into one archive:
# each target then links only the objects it reaches (fuzz_config reaches the provider table
# and every client; since config parses metrics_listen through common/netaddr, no longer the
# metrics server, libmicrohttpd, the cache or prefetch's counters).
LIB="$OUT/liborderfs-fuzz.a"
rm -f "$LIB" "$OUT"/obj/*.o
for src in $(find common client cache fs -name '*.c' | sort); do
	case $src in fs/main.c | fs/ops.c) continue ;; esac
	# shellcheck disable=SC2086
	$CC_FUZZ $CFLAGS -c -o "$OUT/obj/$(echo "$src" | tr / _).o" "$src" ||
		{ echo "fuzz: compiling $src failed" >&2; exit 1; }
done
ar rcs "$LIB" "$OUT"/obj/*.o || exit 1

build() { # target
	# shellcheck disable=SC2086
	$CC_FUZZ $CFLAGS -o "$OUT/fuzz_$1" "tests/fuzz/fuzz_$1.c" "$LIB" $LIBS ||
		{ echo "fuzz: building fuzz_$1 failed" >&2; exit 1; }
}
build path
build config
build vexora

failed=0
for t in path config vexora; do
	mkdir -p "$OUT/corpus/$t"
	log="$OUT/fuzz_$t.log"
	# -timeout: one input taking over 10 s is a hang, reported like a crash.
	"$OUT/fuzz_$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		-max_len=8192 -print_final_stats=1 -artifact_prefix="$OUT/crash-$t-" \
		"$OUT/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		echo "fuzz: $t: ${runs:-?} runs in ${secs:-?} s, ${cov:-cov: ?}, no crash"
	else
		failed=1
		echo "fuzz: $t: FAILED (exit $rc), see $log and $OUT/crash-$t-*"
		grep -m 5 -E 'ERROR|SUMMARY|runtime error|deadly signal' "$log"
	fi
done
[ "$failed" -eq 0 ] && echo "fuzz: passed" || echo "fuzz: FAILED"
exit "$failed"
