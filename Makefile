# orderfs — plain GNU make. `make`, `make test`, `make check-asan`, `make install`.
#
# Layout: common/ (log, dates, the bundle format, helpers every layer uses), client/ (provider
# APIs, no FUSE; uses common/: its top level holds what every provider shares, then one folder
# per provider, client/store/ for the shared store and client/fleet/ with its etcd client
# client/fleet/etcd/), cache/ (uses client/), fs/ (uses cache/). Each layer becomes a static
# library, and each of client/'s folders one more; unit tests link only the layers (or
# client/'s folders) they test. `make check-layers` checks the includes.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DESTDIR ?=
CC ?= cc
PKG_CONFIG ?= pkg-config
# Debian's interpreter: the test scripts need python3-openpyxl from Debian's archive.
PYTHON ?= /usr/bin/python3

VERSION := 0.1.0
PKGS := fuse3 libcurl libcjson libcrypto xlsxwriter libmicrohttpd

# SANITIZE=1 builds everything (tests too) with ASan + UBSan into a separate tree;
# SANITIZE=thread with ThreadSanitizer into another.
ifeq ($(SANITIZE),1)
BUILD ?= build/asan
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else ifeq ($(SANITIZE),thread)
BUILD ?= build/tsan
SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
else
BUILD ?= build/release
SAN_FLAGS :=
endif

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wwrite-strings -Wundef -Wno-unused-parameter
WERROR ?= -Werror
OPT ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -DORDERFS_VERSION=\"$(VERSION)\"
CFLAGS_ALL = -std=c11 $(OPT) $(WARN) $(WERROR) $(SAN_FLAGS) -MMD -MP \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) $(CFLAGS)
# common/ needs only libcrypto (SHA-256) and pthreads.
LDLIBS_COMMON = $(shell $(PKG_CONFIG) --libs libcrypto 2>/dev/null) -lpthread
LDLIBS_CLIENT = $(shell $(PKG_CONFIG) --libs libcurl libcjson libcrypto xlsxwriter 2>/dev/null) -lpthread
# fs/ alone serves HTTP (/metrics, libmicrohttpd); client/ speaks it with libcurl.
LDLIBS_FUSE = $(shell $(PKG_CONFIG) --libs fuse3 libmicrohttpd 2>/dev/null)
LDLIBS_CMOCKA = $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)
LDFLAGS_ALL = $(SAN_FLAGS) $(LDFLAGS)

# Every .c of a layer, its folders included (one per provider, room or part).
layer_src = $(sort $(shell find $(1) -name '*.c' 2>/dev/null))
COMMON_SRC := $(call layer_src,common)
CLIENT_SRC := $(call layer_src,client)
CACHE_SRC := $(call layer_src,cache)
FS_SRC := $(filter-out fs/main.c,$(call layer_src,fs))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_SUPPORT := $(sort $(filter-out tests/unit/test_%,$(wildcard tests/unit/*.c)))
ITEST_SRC := $(sort $(wildcard tests/integration/*.c))

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

LIBCOMMON := $(BUILD)/libcommon.a
LIBCLIENT := $(BUILD)/libclient.a
# client/ by folder: its shared top level, one library per provider folder (client/NAME/ ->
# libNAME.a, found by the folder alone, so a new provider needs no line here), the shared
# store's S3 client and the fleet's room (fleet + fleet/etcd). libclient.a above holds all of
# them, for the cache/, fs/ and orderfs link lines.
CLIENT_ROOMS := store fleet
CLIENT_PROVIDERS := $(sort $(filter-out $(CLIENT_ROOMS),$(notdir $(patsubst %/,%,$(wildcard client/*/)))))
LIBCLIENT_SHARED := $(BUILD)/libclient_shared.a
LIBSTORE := $(BUILD)/libstore.a
LIBFLEET := $(BUILD)/libfleet.a
LIBCACHE := $(BUILD)/libcache.a
LIBFS := $(BUILD)/libfs.a
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
ITEST_BINS := $(patsubst tests/integration/%.c,$(BUILD)/tests/bin/%,$(ITEST_SRC))

.PHONY: all deps test test-unit test-integration check-layers check-circles check-asan check-tsan \
	check-clients check-valgrind install uninstall clean tests-build bench soak fuzz demo demo-stop

all: orderfs

orderfs: $(BUILD)/orderfs
	@if [ "$(BUILD)" = "build/release" ]; then cp -f $< $@; fi

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS_ALL) -c -o $@ $<

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
	@rm -f $@
	ar rcs $@ $^
$(LIBCLIENT): $(call obj,$(CLIENT_SRC))
	@rm -f $@
	ar rcs $@ $^
$(LIBCLIENT_SHARED): $(call obj,$(wildcard client/*.c))
	@rm -f $@
	ar rcs $@ $^
# $(BUILD)/libNAME.a from every .c under client/NAME/ (a provider, store or fleet).
define client_folder_lib
$(BUILD)/lib$(1).a: $$(call obj,$$(call layer_src,client/$(1)))
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach f,$(CLIENT_PROVIDERS) $(CLIENT_ROOMS),$(eval $(call client_folder_lib,$(f))))
$(LIBCACHE): $(call obj,$(CACHE_SRC))
	@rm -f $@
	ar rcs $@ $^
$(LIBFS): $(call obj,$(FS_SRC))
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/orderfs: $(call obj,fs/main.c) $(LIBFS) $(LIBCACHE) $(LIBCLIENT) $(LIBCOMMON)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_FUSE) $(LDLIBS_CLIENT)

# Unit tests: test_common_* link common/ only, test_client_* add client/'s shared files,
# test_client_NAME[_*] (a provider) its folder's library too, test_client_s3[_*] the store's
# and the fleet's (the store's writer is a fleet host, fleet_name_ok), test_client_etcd[_*]
# and test_client_fleet[_*] the fleet's; test_cache_* add all of client/ and cache/,
# test_fs_* fs/.
# Support files (fake provider, cache harness) form an archive, so each test pulls only the
# pieces it uses and a client test never needs cache symbols.
LIBTESTSUPPORT := $(BUILD)/libtestsupport.a
$(LIBTESTSUPPORT): $(call obj,$(UNIT_SUPPORT))
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/tests/test_common_%: $(call obj,tests/unit/test_common_%.c) $(LIBCOMMON)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_CMOCKA) $(LDLIBS_COMMON)
$(BUILD)/tests/test_client_%: $(call obj,tests/unit/test_client_%.c) $(LIBTESTSUPPORT) $(LIBCLIENT_SHARED) $(LIBCOMMON)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_CMOCKA) $(LDLIBS_CLIENT)
# The unit tests of one of client/'s folders: test_client_P and test_client_P_* for each
# prefix P (static pattern rules, which win over test_client_%).
client_tests = $(filter $(foreach p,$(1),$(BUILD)/tests/test_client_$(p) $(BUILD)/tests/test_client_$(p)_%),$(UNIT_BINS))
define client_provider_tests
$(call client_tests,$(1)): $(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBTESTSUPPORT) $(BUILD)/lib$(1).a $(LIBCLIENT_SHARED) $(LIBCOMMON)
	$$(CC) $$(LDFLAGS_ALL) -o $$@ $$^ $$(LDLIBS_CMOCKA) $$(LDLIBS_CLIENT)
endef
$(foreach p,$(CLIENT_PROVIDERS),$(eval $(call client_provider_tests,$(p))))
$(call client_tests,s3): $(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBTESTSUPPORT) $(LIBSTORE) $(LIBFLEET) $(LIBCLIENT_SHARED) $(LIBCOMMON)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_CMOCKA) $(LDLIBS_CLIENT)
$(call client_tests,etcd fleet): $(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBTESTSUPPORT) $(LIBFLEET) $(LIBCLIENT_SHARED) $(LIBCOMMON)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_CMOCKA) $(LDLIBS_CLIENT)
$(BUILD)/tests/test_cache_%: $(call obj,tests/unit/test_cache_%.c) $(LIBTESTSUPPORT) $(LIBCACHE) $(LIBCLIENT) $(LIBCOMMON)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_CMOCKA) $(LDLIBS_CLIENT)
$(BUILD)/tests/test_fs_%: $(call obj,tests/unit/test_fs_%.c) $(LIBTESTSUPPORT) $(LIBFS) $(LIBCACHE) $(LIBCLIENT) $(LIBCOMMON)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_CMOCKA) $(LDLIBS_FUSE) $(LDLIBS_CLIENT)
# Integration helpers (small C drivers the Python tests run) link every layer but FUSE.
$(BUILD)/tests/bin/%: $(call obj,tests/integration/%.c) $(LIBCACHE) $(LIBCLIENT) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_CLIENT)

tests-build: $(BUILD)/orderfs $(UNIT_BINS) $(ITEST_BINS)

deps:
	@sh contrib/install-deps.sh

# The README's test command: install what is missing, build, run every test, one summary.
# A plain `make test` (as CI runs it) builds with a job per core; a -j given to make wins.
NPROC := $(shell nproc 2>/dev/null || echo 2)
BUILD_JOBS = $(if $(findstring -j,$(MAKEFLAGS)),,-j$(NPROC))
test: deps
	$(MAKE) $(BUILD_JOBS) tests-build
	@BUILD=$(BUILD) PYTHON=$(PYTHON) SANITIZE=$(SANITIZE) sh tests/run.sh

# The README's layering, from the sources' #include lines (tests/check_layers.py says the
# rules); tests/run.sh runs it with the unit tests, so `make test` fails on a stray include.
check-layers:
	@$(PYTHON) tests/check_layers.py

# The import circles, from the built objects' symbols (tests/check_circles.py says the rules).
check-circles: tests-build
	@$(PYTHON) tests/check_circles.py $(BUILD)

test-unit: tests-build
	@BUILD=$(BUILD) PYTHON=$(PYTHON) ONLY=unit sh tests/run.sh

test-integration: tests-build
	@BUILD=$(BUILD) PYTHON=$(PYTHON) ONLY=integration sh tests/run.sh

check-asan: deps
	$(MAKE) SANITIZE=1 test

# ThreadSanitizer over every unit test and a few mounted tests that run the threads the most
# (concurrent readers, prefetch with /.stats, unmount mid-export, three fleet hosts against one
# etcd: keepalive, member count and claims next to the fills; accounts of one mount starting
# and filling at once, alone and in a fleet; a follower waking on the fleet's watch stream).
# Nothing is suppressed: libfuse is not instrumented, and orderfs's own use of it reports
# nothing.
TSAN_ITESTS := test_fs.TestReadPath.test_sixteen_concurrent_readers_one_apply \
	test_fs.TestLifecycle.test_unmount_with_fill_in_flight \
	test_ops.TestPrefetch test_ops.TestStats test_fs_clover.TestCloverServiceLimits \
	test_defects.TestUnmountDuringRetrySleep test_fleet.TestOneExport \
	test_accounts.VexoraAccountsTest.test_tree_and_three_accounts_read_at_once \
	test_accounts.CloverAccountsTest test_accounts.FleetAccountsTest test_fleet.TestWatch
check-tsan: deps
	$(MAKE) SANITIZE=thread tests-build
	@BUILD=build/tsan PYTHON=$(PYTHON) SANITIZE=thread ITESTS="$(TSAN_ITESTS)" \
		TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" \
		sh tests/run.sh

# Every provider's xlsx and csv opened from a real mount by ssconvert (gnumeric), LibreOffice,
# xlsx2csv, pandas and openpyxl; rows and sample cells compared with the simulators' data.
check-clients: deps
	@sh contrib/install-deps.sh clients
	$(MAKE) all
	@BUILD=$(BUILD) $(PYTHON) tests/clients/check_clients.py

# The same tests with the daemon and unit tests under valgrind memcheck (slow; not in CI).
check-valgrind: deps
	$(MAKE) tests-build
	@BUILD=$(BUILD) PYTHON=$(PYTHON) VALGRIND=1 sh tests/run.sh

# Benchmarks: ratios against local disk, curl and rclone (not part of `make test`).
bench: deps
	$(MAKE) all
	@BUILD=$(BUILD) PYTHON=$(PYTHON) sh bench/run.sh

# Long load test with faults on (the short version runs inside `make test`).
soak: deps
	$(MAKE) tests-build
	@BUILD=$(BUILD) PYTHON=$(PYTHON) SOAK_SECONDS=$${SOAK_SECONDS:-300} sh tests/soak.sh

# libFuzzer targets (clang) for the parsers, each run for a bounded time.
fuzz: deps
	@PYTHON=$(PYTHON) sh tests/fuzz/run.sh

# A mounted demo against a bundled simulator (PROVIDER=vexora|clover|mogujie); `make demo-stop`
# undoes it.
# FLEET=N (2 or more): N mounts in one fleet on a loopback etcd (README "Fleet").
# ACCOUNTS=N (2 or more): N Clover merchants in one mount (README "Accounts").
# STORE=1 with FLEET: the hosts share files through a real S3 store on loopback (README
# "Shared store").
PROVIDER ?=
FLEET ?=
ACCOUNTS ?=
STORE ?=
demo: deps
	$(MAKE) all
	@PYTHON=$(PYTHON) PROVIDER=$(PROVIDER) FLEET=$(FLEET) ACCOUNTS=$(ACCOUNTS) STORE=$(STORE) sh contrib/demo.sh start

demo-stop:
	@PYTHON=$(PYTHON) sh contrib/demo.sh stop

MANDIR ?= $(PREFIX)/share/man
install: orderfs
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 orderfs $(DESTDIR)$(BINDIR)/orderfs
	@if [ -f man/orderfs.1 ]; then \
		install -d $(DESTDIR)$(MANDIR)/man1 && \
		install -m 0644 man/orderfs.1 $(DESTDIR)$(MANDIR)/man1/orderfs.1; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/orderfs $(DESTDIR)$(MANDIR)/man1/orderfs.1

clean:
	rm -rf build orderfs

-include $(shell find build -name '*.d' 2>/dev/null)
