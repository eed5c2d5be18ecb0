#!/bin/sh
# orderfs demo: mounts a bundled provider simulator at ./demo/mnt with a generated config.
#
#   sh contrib/demo.sh start    (what `make demo` runs after building)
#   sh contrib/demo.sh stop     (`make demo-stop`)
#
# PROVIDER=vexora (default), clover or mogujie picks the simulator (`make demo PROVIDER=clover`).
#
# Everything lives in ./demo/ (DEMO_DIR to move it): the simulator's data and port file, the
# config, a 0600 secret, the cache, the mount point and both logs. Both commands are
# idempotent: start on a running demo says so, stop on a stopped one does nothing.
# Env: PYTHON (default /usr/bin/python3), ORDERFS (the binary; default ./orderfs, else
# $BUILD/orderfs), DEMO_DIR.
set -eu

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEMO=${DEMO_DIR:-$ROOT/demo}
PYTHON=${PYTHON:-/usr/bin/python3}
MNT=$DEMO/mnt
PROVIDER=${PROVIDER:-vexora}
SECRET=demo-secret-$$-0123456789
MERCHANT=DEMO1

die() {
	echo "demo: $*" >&2
	exit 1
}

find_orderfs() {
	if [ -n "${ORDERFS:-}" ]; then
		echo "$ORDERFS"
	elif [ -x "$ROOT/orderfs" ]; then
		echo "$ROOT/orderfs"
	elif [ -x "$ROOT/${BUILD:-build/release}/orderfs" ]; then
		echo "$ROOT/${BUILD:-build/release}/orderfs"
	else
		die "no orderfs binary: run 'make' first (or 'make demo')"
	fi
}

is_mounted() {
	awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts
}

# Wait up to 20 s for a condition (a shell command), checking every 0.1 s.
wait_for() {
	i=0
	while ! eval "$1"; do
		i=$((i + 1))
		[ "$i" -le 200 ] || return 1
		sleep 0.1
	done
}

sim_alive() {
	[ -f "$DEMO/sim.pid" ] && kill -0 "$(cat "$DEMO/sim.pid")" 2>/dev/null
}

# A one-line private file (0600), written atomically.
write_private() {
	printf '%s\n' "$2" >"$1.tmp"
	chmod 600 "$1.tmp"
	mv "$1.tmp" "$1"
}

start_simulator() {
	case "$PROVIDER" in
	vexora)
		exec "$PYTHON" "$ROOT/contrib/vexora_sim.py" --port 0 --port-file "$DEMO/sim.port" \
			--secret-file "$DEMO/secret" --merchant "$MERCHANT" --data-dir "$DEMO/sim-data" \
			--rows 500 --pending-s 0.5 --generating-s 1
		;;
	clover)
		exec "$PYTHON" "$ROOT/contrib/clover_sim.py" --port 0 --port-file "$DEMO/sim.port" \
			--secret-file "$DEMO/token" --merchant "$MERCHANT" --data-dir "$DEMO/sim-data" \
			--orders-per-day 2500 --payments-per-day 800
		;;
	mogujie)
		exec "$PYTHON" "$ROOT/contrib/mogujie_sim.py" --port 0 --port-file "$DEMO/sim.port" \
			--secret "$SECRET" --merchant 100123 --token "demo-token-$$" \
			--refresh-token "demo-refresh-$$" --data-dir "$DEMO/sim-data" --orders-per-day 300
		;;
	esac
}

# The config for the running simulator on port $1.
write_config() {
	echo "# orderfs demo config, written by contrib/demo.sh (see man orderfs or README.md)"
	echo "provider    = $PROVIDER"
	echo "cache_dir   = $DEMO/cache"
	case "$PROVIDER" in
	vexora)
		echo "base_url    = http://127.0.0.1:$1/nigeria"
		echo "merchant_no = $MERCHANT"
		echo "secret_file = $DEMO/secret"
		;;
	clover)
		echo "base_url    = http://127.0.0.1:$1"
		echo "merchant_id = $MERCHANT"
		echo "token_file  = $DEMO/token"
		echo "region      = sandbox"
		;;
	mogujie)
		echo "base_url    = http://127.0.0.1:$1"
		echo "app_key     = 100123"
		echo "secret_file = $DEMO/secret"
		echo "token_file  = $DEMO/token"
		echo "refresh_token_file = $DEMO/refresh"
		echo "oauth_url   = http://127.0.0.1:$1/token"
		;;
	esac
	echo "poll_initial_ms = 200"
	echo "poll_max_ms = 1000"
}

sample_file() {
	case "$PROVIDER" in
	clover) echo orders.csv ;;
	*) echo orders.xlsx ;;
	esac
}

sample_how() {
	case "$PROVIDER" in
	vexora) echo "applies, polls, downloads" ;;
	clover) echo "exports, polls, downloads 3 files, derives .jsonl and .csv" ;;
	mogujie) echo "pages through the encrypted order query, writes .jsonl, .csv, .xlsx" ;;
	esac
}

start() {
	mkdir -p "$DEMO" "$MNT"
	MNT=$(cd "$MNT" && pwd -P)
	if is_mounted "$MNT"; then
		echo "demo: already running: orderfs is mounted at $MNT ('make demo-stop' to stop)"
		return 0
	fi
	bin=$(find_orderfs)

	case "$PROVIDER" in
	vexora | clover | mogujie) ;;
	*) die "PROVIDER must be vexora, clover or mogujie, not '$PROVIDER'" ;;
	esac
	if sim_alive && [ "$(cat "$DEMO/provider" 2>/dev/null)" != "$PROVIDER" ]; then
		die "a $(cat "$DEMO/provider") simulator is running: 'make demo-stop' first"
	fi
	if ! sim_alive; then
		rm -f "$DEMO/sim.port"
		write_private "$DEMO/secret" "$SECRET"
		write_private "$DEMO/token" "demo-token-$$"
		write_private "$DEMO/refresh" "demo-refresh-$$"
		echo "$PROVIDER" >"$DEMO/provider"
		# Port 0: the simulator picks a free port and writes it to sim.port once it listens.
		start_simulator >"$DEMO/sim.log" 2>&1 &
		echo $! >"$DEMO/sim.pid"
		wait_for "[ -s '$DEMO/sim.port' ] || ! sim_alive" || die "simulator did not start (see $DEMO/sim.log)"
		sim_alive || die "simulator exited (see $DEMO/sim.log)"
	fi
	port=$(cat "$DEMO/sim.port")
	write_config "$port" >"$DEMO/orderfs.conf"
	# `orderfs get` needs a cache of its own: a running mount locks its cache_dir.
	sed "s|^cache_dir .*|cache_dir   = $DEMO/get-cache|" "$DEMO/orderfs.conf" >"$DEMO/get.conf"
	# Foreground in the background so its log lands in demo/orderfs.log (a daemonized
	# orderfs logs to syslog).
	"$bin" -f "$DEMO/orderfs.conf" "$MNT" >"$DEMO/orderfs.log" 2>&1 &
	echo $! >"$DEMO/orderfs.pid"
	wait_for "is_mounted '$MNT' || ! kill -0 $(cat "$DEMO/orderfs.pid") 2>/dev/null" ||
		die "orderfs did not mount (see $DEMO/orderfs.log)"
	is_mounted "$MNT" || die "orderfs did not mount: $(cat "$DEMO/orderfs.log")"

	day=$(date -d yesterday +%F)
	range=$day..$day
	file=$(sample_file)
	echo "demo: orderfs ($PROVIDER) is mounted at $MNT (simulator on port $port)"
	echo "demo: copying $MNT/exports/$range/$file ($(sample_how))..."
	copy=$DEMO/${file%.*}-$range.${file##*.}
	cp "$MNT/exports/$range/$file" "$copy"
	echo "demo: copied to $copy ($(wc -c <"$copy") bytes)"
	echo
	echo "$MNT/:"
	ls -A "$MNT" | sed 's/^/    /'
	echo "$MNT/exports/: $(ls "$MNT/exports" | wc -l) ranges (a day each in the provider's window), the last three:"
	ls "$MNT/exports" | tail -n 3 | sed 's/^/    /'
	echo "$MNT/exports/$range/:"
	ls -lA "$MNT/exports/$range" | tail -n +2 | sed 's/^/    /'
	echo
	cat <<EOF
Try next:
  ls $MNT/exports/
  cp $MNT/exports/$(date +%F)..$(date +%F)/$file /tmp/      # today's orders
  cat $MNT/exports/$range/.status
  getfattr -d $MNT/exports/$range/$file
  cat $MNT/.stats
  ls $MNT/exports/$(date -d '40 days ago' +%F)..$(date +%F)/     # any range: split per export
  $bin get $DEMO/get.conf $range/$file -o /tmp/$file   # no FUSE needed (its own cache)
  tail $DEMO/orderfs.log
Stop: make demo-stop   (or: fusermount3 -u $MNT)
EOF
}

stop() {
	if [ -d "$MNT" ]; then
		mnt=$(cd "$MNT" && pwd -P)
		if is_mounted "$mnt"; then
			fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt"
			echo "demo: unmounted $mnt"
		fi
	fi
	if [ -f "$DEMO/orderfs.pid" ]; then
		pid=$(cat "$DEMO/orderfs.pid")
		wait_for "! kill -0 $pid 2>/dev/null" || kill "$pid" 2>/dev/null || true
		rm -f "$DEMO/orderfs.pid"
	fi
	if sim_alive; then
		pid=$(cat "$DEMO/sim.pid")
		kill "$pid"
		wait_for "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null || true
		echo "demo: stopped the simulator"
	fi
	rm -f "$DEMO/sim.pid" "$DEMO/sim.port" "$DEMO/provider"
	echo "demo: stopped (files stay in $DEMO; remove it to start afresh)"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
	echo "usage: sh contrib/demo.sh start|stop" >&2
	exit 2
	;;
esac
