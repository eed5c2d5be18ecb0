#!/bin/sh
# orderfs demo: mounts the bundled Vexora simulator at ./demo/mnt with a generated config.
#
#   sh contrib/demo.sh start    (what `make demo` runs after building)
#   sh contrib/demo.sh stop     (`make demo-stop`)
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
SECRET=demo-secret-$$
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

start() {
	mkdir -p "$DEMO" "$MNT"
	MNT=$(cd "$MNT" && pwd -P)
	if is_mounted "$MNT"; then
		echo "demo: already running: orderfs is mounted at $MNT ('make demo-stop' to stop)"
		return 0
	fi
	bin=$(find_orderfs)

	if ! sim_alive; then
		rm -f "$DEMO/sim.port"
		printf '%s\n' "$SECRET" >"$DEMO/secret.tmp"
		chmod 600 "$DEMO/secret.tmp"
		mv "$DEMO/secret.tmp" "$DEMO/secret"
		# Port 0: the simulator picks a free port and writes it to sim.port once it listens.
		"$PYTHON" "$ROOT/contrib/vexora_sim.py" --port 0 --port-file "$DEMO/sim.port" \
			--secret-file "$DEMO/secret" --merchant "$MERCHANT" --data-dir "$DEMO/sim-data" \
			--rows 500 --pending-s 0.5 --generating-s 1 >"$DEMO/sim.log" 2>&1 &
		echo $! >"$DEMO/sim.pid"
		wait_for "[ -s '$DEMO/sim.port' ] || ! sim_alive" || die "simulator did not start (see $DEMO/sim.log)"
		sim_alive || die "simulator exited (see $DEMO/sim.log)"
	fi
	port=$(cat "$DEMO/sim.port")

	cat >"$DEMO/orderfs.conf" <<EOF
# orderfs demo config, written by contrib/demo.sh (see man orderfs or README.md)
provider    = vexora
base_url    = http://127.0.0.1:$port/nigeria
merchant_no = $MERCHANT
secret_file = $DEMO/secret
cache_dir   = $DEMO/cache
poll_initial_ms = 200
poll_max_ms = 1000
EOF
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
	echo "demo: orderfs is mounted at $MNT (simulator on port $port)"
	echo "demo: copying $MNT/exports/$range/orders.xlsx (applies, polls, downloads)..."
	cp "$MNT/exports/$range/orders.xlsx" "$DEMO/orders-$range.xlsx"
	echo "demo: copied to $DEMO/orders-$range.xlsx ($(wc -c <"$DEMO/orders-$range.xlsx") bytes)"
	echo
	echo "$MNT/:"
	ls -A "$MNT" | sed 's/^/    /'
	echo "$MNT/exports/: $(ls "$MNT/exports" | wc -l) ranges (a day each for the last 3 months), the last three:"
	ls "$MNT/exports" | tail -n 3 | sed 's/^/    /'
	echo "$MNT/exports/$range/:"
	ls -lA "$MNT/exports/$range" | tail -n +2 | sed 's/^/    /'
	echo
	cat <<EOF
Try next:
  ls $MNT/exports/
  cp $MNT/exports/$(date +%F)..$(date +%F)/orders.xlsx /tmp/      # today's orders
  cat $MNT/exports/$range/.status
  getfattr -d $MNT/exports/$range/orders.xlsx
  cat $MNT/.stats
  ls $MNT/exports/$(date -d '9 days ago' +%F)..$(date +%F)/     # any range: split in 7-day files
  $bin get $DEMO/get.conf $range -o /tmp/orders.xlsx   # no FUSE needed (its own cache)
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
	rm -f "$DEMO/sim.pid" "$DEMO/sim.port"
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
