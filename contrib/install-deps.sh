#!/bin/sh
# Installs the Debian packages orderfs needs to build, test and demo; only what is missing.
# `install-deps.sh clients` installs the spreadsheet programs `make check-clients` opens the
# files with instead.
set -e
# Then: what `make bench` compares against (its quick mode runs in `make test`), and the real
# servers the integration tests start (smbd for a Samba share of the mount, etcd for fleet mode,
# Ceph's radosgw over one monitor and one in-memory OSD for the shared store: an S3 server that
# checks signatures and conditional PUTs as real stores do; radosgw-admin, monmaptool and the
# ceph command come with them).
PKGS="build-essential pkg-config libfuse3-dev fuse3 libcurl4-openssl-dev libcjson-dev \
libssl-dev libcmocka-dev libxlsxwriter-dev libmicrohttpd-dev python3 python3-openpyxl attr \
python3-prometheus-client \
nginx rclone gnuplot-nox hyperfine curl \
samba smbclient \
etcd-server etcd-client \
radosgw ceph-mon ceph-osd"
if [ "${1:-}" = clients ]; then
	PKGS="gnumeric libreoffice-calc-nogui xlsx2csv python3-pandas python3-openpyxl"
fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "orderfs: missing packages:$missing" >&2
	echo "orderfs: run 'sudo make deps' (installing packages needs root)" >&2
	exit 1
fi
echo "orderfs: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
