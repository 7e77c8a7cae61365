# qemu-cmm: make | make check | make demo | make bench
# Each target installs what is missing (as root) and builds what it needs.

BUILD := build
QEMU_BUILD := $(BUILD)/qemu
PYTHON := /usr/bin/python3
-include $(BUILD)/config.mk
CONFIGURE_ARGS := $(if $(QEMU_SOURCE),--with-qemu-source=$(QEMU_SOURCE))

.PHONY: all build check check-prep check-sanitize sanitize-prep demo bench baseline \
	guest-images clean distclean help

all: build

help:
	@echo "make            build qemu-system-s390x and its firmware in $(QEMU_BUILD)"
	@echo "make check      run every test level (repo, unit, qtest, guest, fuzz)"
	@echo "make check-sanitize  the qtests, bare-metal and a few Linux tests on an"
	@echo "                ASan+UBSan build ($(BUILD)/asan); any report fails"
	@echo "make demo       boot a Debian s390x guest and shrink it over QMP"
	@echo "make bench      compare qemu-cmm with unpatched upstream"
	@echo "make distclean  remove $(BUILD)"

# configure is idempotent: it re-assembles the tree and configures only when needed.
build:
	./configure $(CONFIGURE_ARGS)
	scripts/build.sh build $(BUILD)/src $(QEMU_BUILD) qemu-system-s390x \
	    tools/cmmd/qemu-cmmd tools/cmmd/cmmstat

# The Linux guests: Debian bookworm's 6.1 kernel and trixie's 6.12, each with our
# modules (contrib/linux) built for it.
guest-images:
	scripts/deps.sh guest
	scripts/guest-image.sh $(BUILD)/guest
	scripts/guest-image.sh --suite trixie $(BUILD)/guest-trixie

# Everything `make check` runs: the emulator, firmware, test programs and images.
# The guest images mostly download while the baseline mostly compiles: both at
# once (neither touches the dpkg lock once deps.sh guest has run).
check-prep: build
	scripts/deps.sh guest
	$(MAKE) -j2 --output-sync=target guest-images baseline
	ninja -C $(QEMU_BUILD) $$(scripts/test-targets.sh $(QEMU_BUILD))
	$(MAKE) -s -C tests/guest/baremetal O=$(abspath $(BUILD))/tests/baremetal

check: check-prep
	scripts/deps.sh fuzz
	$(PYTHON) scripts/check.py --build $(BUILD)

# The sanitizer leg: its own build folder (about 10 minutes on 2 cores), our
# unit tests and qtests, the bare-metal level and a few Linux tests.
ASAN_BUILD := $(BUILD)/asan
SANITIZE_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=66:quarantine_size_mb=64 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=67 \
	LSAN_OPTIONS=suppressions=$(abspath tests/sanitize/lsan.supp):print_suppressions=0
SANITIZE_LINUX := cmma,diag10,balloon

sanitize-prep: check-prep
	CMM_QEMU_EXTRA_OPTS="--enable-asan --enable-ubsan" scripts/build.sh build \
	    $(BUILD)/src $(ASAN_BUILD) qemu-system-s390x \
	    $$(scripts/test-targets.sh $(QEMU_BUILD) --ours)

check-sanitize: sanitize-prep
	$(SANITIZE_ENV) $(PYTHON) scripts/check.py --build $(BUILD) \
	    --qemu-build $(ASAN_BUILD) --levels unit,qtest,baremetal,stream-fuzz,linux \
	    --linux-tests $(SANITIZE_LINUX) --heavy

demo: build
	scripts/demo.sh $(QEMU_BUILD)/qemu-system-s390x

baseline: build
	scripts/build.sh configure $(BUILD)/upstream/qemu $(BUILD)/baseline
	scripts/build.sh build $(BUILD)/upstream/qemu $(BUILD)/baseline

bench: baseline guest-images
	scripts/deps.sh bench
	bench/run.sh $(QEMU_BUILD)/qemu-system-s390x $(BUILD)/baseline/qemu-system-s390x $(BUILD)/bench

clean:
	-ninja -C $(QEMU_BUILD) clean

distclean:
	rm -rf $(BUILD)
