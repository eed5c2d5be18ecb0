#!/bin/sh
# orderfs demo: mounts a bundled provider simulator at ./demo/mnt with a generated config.
#
#   sh contrib/demo.sh start    (what `make demo` runs after building)
#   sh contrib/demo.sh stop     (`make demo-stop`)
#
# PROVIDER=vexora (default), clover or mogujie picks the simulator (`make demo PROVIDER=clover`).
#
# FLEET=N (N >= 2; `make demo FLEET=3`) shows fleet mode instead: it also starts a real etcd on
# loopback (/usr/bin/etcd from Debian's etcd-server, data in ./demo/etcd-data), mounts N
# orderfs at ./demo/hostK/mnt, each with its own cache_dir and fleet_host = hostK, all against
# the one simulator and etcd, reads the same range's file from all N at once and prints the
# simulator's apply count (1: one export served every host) and each copy's SHA-256.
#
# STORE=1 with FLEET (`make demo FLEET=3 STORE=1`) adds the shared store: a real S3 server on
# loopback (Ceph's radosgw over one monitor and one in-memory OSD, started by
# tests/integration/s3_server.py, its files in a temp dir), store_url in every host's config;
# it prints the simulator's download count too (1: one provider download served every host)
# and where each host got its file (.status source: provider or store).
#
# ACCOUNTS=N (N >= 2; `make demo ACCOUNTS=3`) shows many merchants in one mount instead: one
# Clover simulator serving N merchants (DEMO1..DEMON, each with its own token), one orderfs with
# accounts_dir = ./demo/accounts holding shopK.conf per merchant, so the mount shows
# ./demo/mnt/shopK/exports/...; it reads the same range from every shop at once and prints each
# copy's SHA-256 (different merchants, different bytes).
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
FLEET=${FLEET:-}
ACCOUNTS=${ACCOUNTS:-}
if [ -n "$ACCOUNTS" ]; then
	PROVIDER=${PROVIDER:-clover}
else
	PROVIDER=${PROVIDER:-vexora}
fi
ETCD=${ETCD:-/usr/bin/etcd}
STORE=${STORE:-}
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

etcd_alive() {
	[ -f "$DEMO/etcd.pid" ] && kill -0 "$(cat "$DEMO/etcd.pid")" 2>/dev/null
}

# A TCP port nobody listens on now (the kernel's pick).
free_port() {
	"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
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
			--orders-per-day 2500 --payments-per-day 800 $(extra_merchants)
		;;
	mogujie)
		exec "$PYTHON" "$ROOT/contrib/mogujie_sim.py" --port 0 --port-file "$DEMO/sim.port" \
			--secret "$SECRET" --merchant 100123 --token "demo-token-$$" \
			--refresh-token "demo-refresh-$$" --data-dir "$DEMO/sim-data" --orders-per-day 300
		;;
	esac
}

# ACCOUNTS: the simulator's merchants past the first, DEMO2..DEMON, each with its own token
# file (written by write_accounts before the simulator starts).
extra_merchants() {
	[ -n "$ACCOUNTS" ] || return 0
	k=2
	while [ "$k" -le "$ACCOUNTS" ]; do
		printf ' --extra-merchant DEMO%s=@%s' "$k" "$DEMO/accounts/shop$k.token"
		k=$((k + 1))
	done
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

# Mount the config $1/orderfs.conf on $2, logging to $1/orderfs.log, its pid in
# $1/orderfs.pid. Foreground in the background so its log lands in that file (a daemonized
# orderfs logs to syslog).
mount_one() {
	"$bin" -f "$1/orderfs.conf" "$2" >"$1/orderfs.log" 2>&1 &
	echo $! >"$1/orderfs.pid"
	wait_for "is_mounted '$2' || ! kill -0 $(cat "$1/orderfs.pid") 2>/dev/null" ||
		die "orderfs did not mount (see $1/orderfs.log)"
	is_mounted "$2" || die "orderfs did not mount: $(cat "$1/orderfs.log")"
}

# For K = 1..$1 at once, copy $2 to $3, where "%K" in either stands for K; then wait for those
# copies only (a bare wait would wait for the mounts, etcd and the simulator too). $4 names the
# logs to see when a copy fails.
copy_all() {
	copies=
	k=1
	while [ "$k" -le "$1" ]; do
		cp "$(echo "$2" | sed "s|%K|$k|g")" "$(echo "$3" | sed "s|%K|$k|g")" &
		copies="$copies $!"
		k=$((k + 1))
	done
	for pid in $copies; do
		wait "$pid" || die "a copy failed (see $4)"
	done
}

# --------------------------------------------------------------------------- fleet mode

# A one-member etcd cluster on two free loopback ports; its client port in etcd.port.
start_etcd() {
	[ -x "$ETCD" ] || die "no $ETCD: run 'make deps' (Debian package etcd-server)"
	etcd_alive && return 0
	cport=$(free_port)
	pport=$(free_port)
	rm -rf "$DEMO/etcd-data"
	"$ETCD" --name demo --data-dir "$DEMO/etcd-data" \
		--listen-client-urls "http://127.0.0.1:$cport" \
		--advertise-client-urls "http://127.0.0.1:$cport" \
		--listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "demo=http://127.0.0.1:$pport" >"$DEMO/etcd.log" 2>&1 &
	echo $! >"$DEMO/etcd.pid"
	echo "$cport" >"$DEMO/etcd.port"
	wait_for "etcd_healthy $cport || ! etcd_alive" ||
		die "etcd did not become healthy (see $DEMO/etcd.log)"
	etcd_alive || die "etcd exited (see $DEMO/etcd.log)"
}

etcd_healthy() {
	curl -s "http://127.0.0.1:$1/health" | grep -q '"health": *"true"'
}

stop_etcd() {
	if etcd_alive; then
		pid=$(cat "$DEMO/etcd.pid")
		kill "$pid"
		wait_for "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null || true
		echo "demo: stopped etcd"
	fi
	rm -f "$DEMO/etcd.pid" "$DEMO/etcd.port"
}

# --------------------------------------------------------------------------- store

store_alive() {
	[ -f "$DEMO/store.pid" ] && kill -0 "$(cat "$DEMO/store.pid")" 2>/dev/null
}

# A radosgw on loopback (s3_server.py): its endpoint, bucket and keys in store.json, the
# credentials in store.cred (0600).
start_store() {
	store_alive && return 0
	rm -f "$DEMO/store.json"
	"$PYTHON" "$ROOT/tests/integration/s3_server.py" --info-file "$DEMO/store.json" \
		>"$DEMO/store.log" 2>&1 &
	echo $! >"$DEMO/store.pid"
	wait_for "[ -s '$DEMO/store.json' ] || ! store_alive" ||
		die "the store did not start (see $DEMO/store.log; 'make deps' installs radosgw)"
	store_alive || die "the store exited (see $DEMO/store.log)"
	write_private "$DEMO/store.cred" "$(store_info access_key):$(store_info secret)"
}

store_info() {
	"$PYTHON" -c "import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" \
		"$DEMO/store.json" "$1"
}

stop_store() {
	if store_alive; then
		pid=$(cat "$DEMO/store.pid")
		kill "$pid"
		wait_for "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null || true
		echo "demo: stopped the store"
	fi
	rm -f "$DEMO/store.pid" "$DEMO/store.json"
}

# The simulator's count of file downloads (Vexora; others: n/a).
sim_downloads() {
	[ "$PROVIDER" = vexora ] || {
		echo "n/a"
		return
	}
	curl -s "http://127.0.0.1:$1/_sim/stats" |
		"$PYTHON" -c "import json, sys; print(json.load(sys.stdin)['download'])"
}

# The simulator's count of export tasks created (Mogujie has none: it syncs pages).
sim_applies() {
	case "$PROVIDER" in
	vexora) key=apply ;;
	clover) key=posts ;;
	*)
		echo "n/a (no export task)"
		return
		;;
	esac
	curl -s "http://127.0.0.1:$1/_sim/stats" |
		"$PYTHON" -c "import json, sys; print(json.load(sys.stdin)['$key'])"
}

# FLEET, when set, is a number of hosts, 2 or more.
check_fleet() {
	[ -z "$FLEET" ] && return 0
	case "$FLEET" in
	*[!0-9]*) die "FLEET must be a number of hosts (2 or more), not '$FLEET'" ;;
	esac
	[ "$FLEET" -ge 2 ] || die "FLEET must be 2 or more (hosts in the fleet)"
}

check_store() {
	[ -z "$STORE" ] && return 0
	[ -n "$FLEET" ] || die "STORE=1 shows the shared store in a fleet: add FLEET=3"
}

# FLEET mounts of one fleet: ./demo/hostK with hostK's cache, all on the one etcd.
start_fleet() {
	start_etcd
	[ -z "$STORE" ] || start_store
	echo "$FLEET" >"$DEMO/fleet"
	k=1
	while [ "$k" -le "$FLEET" ]; do
		h=$DEMO/host$k
		mkdir -p "$h/mnt"
		{
			write_config "$1" | sed "s|^cache_dir .*|cache_dir   = $h/cache|"
			echo "fleet_etcd  = http://127.0.0.1:$(cat "$DEMO/etcd.port")"
			echo "fleet_host  = host$k"
			echo "fleet_lease_ttl = 5s"
			if [ -n "$STORE" ]; then
				echo "store_url   = $(store_info endpoint)/$(store_info bucket)/demo"
				echo "store_credentials_file = $DEMO/store.cred"
			fi
		} >"$h/orderfs.conf"
		mount_one "$h" "$(cd "$h/mnt" && pwd -P)"
		k=$((k + 1))
	done
	fleet_read "$1"
}

# Every host copies the same range's file at once: one export serves them all.
fleet_read() {
	day=$(date -d yesterday +%F)
	range=$day..$day
	file=$(sample_file)
	before=$(sim_applies "$1")
	dl_before=$(sim_downloads "$1")
	echo "demo: $FLEET orderfs ($PROVIDER) in one fleet, etcd on port $(cat "$DEMO/etcd.port"), simulator on port $1"
	echo "demo: copying exports/$range/$file from all $FLEET mounts at once..."
	copy_all "$FLEET" "$DEMO/host%K/mnt/exports/$range/$file" "$DEMO/host%K/$file" \
		"$DEMO/host*/orderfs.log"
	echo "demo: the simulator's export tasks: $before before, $(sim_applies "$1") after (1 more: one export for the whole fleet)"
	if [ -n "$STORE" ]; then
		echo "demo: the simulator's file downloads: $dl_before before, $(sim_downloads "$1") after (1 more: the others came from the store, $(store_info endpoint))"
	fi
	k=1
	while [ "$k" -le "$FLEET" ]; do
		src=""
		[ -z "$STORE" ] || src="  (from the $(sed -n 's/.*"source":[[:space:]]*"\([a-z]*\)".*/\1/p' "$DEMO/host$k/mnt/exports/$range/.status" | head -n 1))"
		echo "    host$k: sha256 $(sha256sum <"$DEMO/host$k/$file" | cut -d' ' -f1)  $DEMO/host$k/$file$src"
		k=$((k + 1))
	done
	echo
	cat <<EOF
Try next:
  cat $DEMO/host1/mnt/exports/$range/.status    # fleet_role, fleet_holder
  cat $DEMO/host2/mnt/.stats                         # "fleet": claims won and lost, ...
  tail $DEMO/host1/orderfs.log
Stop: make demo-stop
EOF
}

# --------------------------------------------------------------------------- accounts

# ACCOUNTS, when set, is a number of Clover merchants, 2 or more.
check_accounts() {
	[ -z "$ACCOUNTS" ] && return 0
	case "$ACCOUNTS" in
	*[!0-9]*) die "ACCOUNTS must be a number of merchants (2 or more), not '$ACCOUNTS'" ;;
	esac
	[ "$ACCOUNTS" -ge 2 ] || die "ACCOUNTS must be 2 or more (merchants in one mount)"
	[ -z "$FLEET" ] || die "ACCOUNTS and FLEET are two demos: pick one"
	[ "$PROVIDER" = clover ] || die "ACCOUNTS shows Clover merchants (PROVIDER=clover)"
}

# Each merchant's token and account file: ./demo/accounts/shopK.conf (DEMOK).
write_accounts() {
	mkdir -p "$DEMO/accounts"
	chmod 700 "$DEMO/accounts"
	k=1
	while [ "$k" -le "$ACCOUNTS" ]; do
		write_private "$DEMO/accounts/shop$k.token" "demo-token-$$-shop$k"
		{
			echo "# merchant $k of the demo: its own id and token; the rest is orderfs.conf's"
			echo "merchant_id = DEMO$k"
			echo "token_file  = $DEMO/accounts/shop$k.token"
		} >"$DEMO/accounts/shop$k.conf"
		k=$((k + 1))
	done
	cp "$DEMO/accounts/shop1.token" "$DEMO/token" # the simulator's first merchant
}

# One mount, ACCOUNTS merchants: every shop copies the same range at once.
start_accounts() {
	write_config "$1" | sed -e '/^merchant_id/d' -e '/^token_file/d' >"$DEMO/orderfs.conf"
	echo "accounts_dir = $DEMO/accounts" >>"$DEMO/orderfs.conf"
	mount_one "$DEMO" "$MNT"
	day=$(date -d yesterday +%F)
	range=$day..$day
	echo "demo: orderfs ($PROVIDER) is mounted at $MNT with $ACCOUNTS merchants (simulator on port $1)"
	echo "$MNT/:"
	ls -A "$MNT" | sed 's/^/    /'
	before=$(sim_applies "$1")
	echo "demo: copying shopK/exports/$range/orders.csv from all $ACCOUNTS shops at once..."
	copy_all "$ACCOUNTS" "$MNT/shop%K/exports/$range/orders.csv" "$DEMO/shop%K-orders.csv" \
		"$DEMO/orderfs.log"
	k=1
	while [ "$k" -le "$ACCOUNTS" ]; do
		echo "    shop$k: sha256 $(sha256sum <"$DEMO/shop$k-orders.csv" | cut -d' ' -f1)  $(wc -c <"$DEMO/shop$k-orders.csv") bytes"
		k=$((k + 1))
	done
	echo "demo: the simulator's export tasks: $before before, $(sim_applies "$1") after (one per merchant whose file was not in the cache yet)"
	echo
	cat <<EOF
Try next:
  cat $MNT/shop1/.status          # the account's health: token, last error, exports
  cat $MNT/.stats                 # "accounts": one line per merchant
  rm $DEMO/accounts/shop2.conf && ls $MNT      # shop2 is gone; put it back and it returns
  tail $DEMO/orderfs.log
Stop: make demo-stop
EOF
}

# ------------------------------------------------------------------------------ start

# Whether a demo mount is live: the single one or the fleet's first.
demo_running() {
	is_mounted "$MNT" || { [ -d "$DEMO/host1/mnt" ] && is_mounted "$(cd "$DEMO/host1/mnt" && pwd -P)"; }
}

start() {
	mkdir -p "$DEMO" "$MNT"
	MNT=$(cd "$MNT" && pwd -P)
	if demo_running; then
		echo "demo: already running: orderfs is mounted under $DEMO ('make demo-stop' to stop)"
		return 0
	fi
	bin=$(find_orderfs)

	case "$PROVIDER" in
	vexora | clover | mogujie) ;;
	*) die "PROVIDER must be vexora, clover or mogujie, not '$PROVIDER'" ;;
	esac
	check_fleet
	check_store
	check_accounts
	if sim_alive && [ "$(cat "$DEMO/provider" 2>/dev/null)" != "$PROVIDER" ]; then
		die "a $(cat "$DEMO/provider") simulator is running: 'make demo-stop' first"
	fi
	if ! sim_alive; then
		rm -f "$DEMO/sim.port"
		write_private "$DEMO/secret" "$SECRET"
		write_private "$DEMO/token" "demo-token-$$"
		write_private "$DEMO/refresh" "demo-refresh-$$"
		[ -z "$ACCOUNTS" ] || write_accounts
		echo "$PROVIDER" >"$DEMO/provider"
		# Port 0: the simulator picks a free port and writes it to sim.port once it listens.
		start_simulator >"$DEMO/sim.log" 2>&1 &
		echo $! >"$DEMO/sim.pid"
		wait_for "[ -s '$DEMO/sim.port' ] || ! sim_alive" || die "simulator did not start (see $DEMO/sim.log)"
		sim_alive || die "simulator exited (see $DEMO/sim.log)"
	fi
	port=$(cat "$DEMO/sim.port")
	if [ -n "$FLEET" ]; then
		start_fleet "$port"
		return
	fi
	if [ -n "$ACCOUNTS" ]; then
		start_accounts "$port"
		return
	fi
	write_config "$port" >"$DEMO/orderfs.conf"
	# `orderfs get` needs a cache of its own: a running mount locks its cache_dir.
	sed "s|^cache_dir .*|cache_dir   = $DEMO/get-cache|" "$DEMO/orderfs.conf" >"$DEMO/get.conf"
	mount_one "$DEMO" "$MNT"

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
	echo "$MNT/exports/: $(ls "$MNT/exports" | grep -c '\.\.') ranges (a day each in the provider's window), the last three:"
	ls "$MNT/exports" | grep '\.\.' | tail -n 3 | sed 's/^/    /'
	echo "ls -l $MNT/exports/ (the named ranges; listing them exports nothing):"
	ls -l "$MNT/exports" | grep -- ' -> ' | sed 's/^/    /'
	echo "demo: reading $MNT/exports/today/$file (today is $(readlink "$MNT/exports/today"))..."
	today_copy=$DEMO/${file%.*}-today.${file##*.}
	cp "$MNT/exports/today/$file" "$today_copy"
	as_of=$(getfattr --only-values -n user.orderfs.as_of "$MNT/exports/today/$file" 2>/dev/null)
	echo "demo: copied to $today_copy ($(wc -c <"$today_copy") bytes, the orders until" \
		"$(date -d "@${as_of:-0}" +%T 2>/dev/null || echo now); again after open_ttl: newer)"
	echo "$MNT/exports/$range/:"
	ls -lA "$MNT/exports/$range" | tail -n +2 | sed 's/^/    /'
	echo
	cat <<EOF
Try next:
  ls $MNT/exports/
  cp $MNT/exports/today/$file /tmp/      # today's orders (again after open_ttl: fresh ones)
  ls -l $MNT/exports/                    # today, this-week, last-month, 2026-11 ... -> dates
  cat $MNT/exports/$range/.status
  getfattr -d $MNT/exports/$range/$file
  cat $MNT/.stats
  ls $MNT/exports/$(date -d '40 days ago' +%F)..$(date +%F)/     # any range: split per export
  $bin get $DEMO/get.conf $range/$file -o /tmp/$file   # no FUSE needed (its own cache)
  tail $DEMO/orderfs.log
Stop: make demo-stop   (or: fusermount3 -u $MNT)
EOF
}

# Unmount $2 and wait for the orderfs whose pid is in $1/orderfs.pid.
unmount_one() {
	if [ -d "$2" ]; then
		mnt=$(cd "$2" && pwd -P)
		if is_mounted "$mnt"; then
			fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt"
			echo "demo: unmounted $mnt"
		fi
	fi
	if [ -f "$1/orderfs.pid" ]; then
		pid=$(cat "$1/orderfs.pid")
		wait_for "! kill -0 $pid 2>/dev/null" || kill "$pid" 2>/dev/null || true
		rm -f "$1/orderfs.pid"
	fi
}

stop() {
	unmount_one "$DEMO" "$MNT"
	for h in "$DEMO"/host*; do
		if [ -d "$h" ]; then
			unmount_one "$h" "$h/mnt"
		fi
	done
	stop_etcd
	stop_store
	rm -f "$DEMO/fleet"
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
