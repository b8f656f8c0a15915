# SPDX-License-Identifier: GPL-2.0
#
# DTS: in-kernel TCP connection handover. Top-level targets:
#
#   make deps            install what is missing (apt, rustup, bindgen)
#   make kernel          build the patched kernel (cached; FLAVOR=default|debug)
#   make module          build dts.ko against it (out of tree, via ./Kbuild)
#   make tools           build dtsctl, the other userspace tools, the dts
#                        library's examples (target/release/examples/) and
#                        the C example dts-c-handover-proxy (examples/c/)
#   make deb             Debian packages into build/deb/: linux-image (the
#                        default kernel), dts-module, dts-tools (scripts/deb.sh)
#   make host-test       host unit and property tests (cargo test)
#   make vm-test         VM tests on FLAVOR's kernel (VM_TESTS="t01 t03": a subset)
#   make test            everything: deps, builds, host tests, VM tests on the
#                        default and debug kernels, harness self-test
#   make demo            boot a cluster and show the module working
#   make clean           remove build/ and the cargo target dir
#
# Versions are pinned in scripts/versions.env (the one place).

include scripts/versions.env

FLAVOR ?= default
REPO := $(abspath .)
BUILD := $(REPO)/build
CARGO_HOME_BIN := $(HOME)/.cargo/bin
export PATH := $(CARGO_HOME_BIN):$(PATH)
export RUSTUP_TOOLCHAIN := $(RUST_TOOLCHAIN)

KDIR_OF = $(shell scripts/kernel.sh dir $(1))/linux
MODDIR = $(BUILD)/$(FLAVOR)/module$(if $(DTS_FAULT),-fault-$(DTS_FAULT))
TOOLS_DIR := $(REPO)/userspace-tools/target/release

.PHONY: all deps kernel client-kernel module tools deb host-test vm-test test demo bench clean clippy

all: module tools

deps:
	scripts/install-deps.sh

kernel: deps
	scripts/kernel.sh build $(FLAVOR) >/dev/null

# The module is built in a per-flavor copy of Kbuild + rust/ so that the
# default and debug kernels (and the fault-injected self-test build) never
# share objects. rsync keeps mtimes, so unchanged sources are not rebuilt.
module: kernel
	@mkdir -p $(MODDIR)
	rsync -a --delete --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
		--exclude='*.mod' --exclude='*.mod.c' --exclude='*.d' \
		--exclude='modules.order' --exclude='Module.symvers' \
		Kbuild rust $(MODDIR)/
	@scripts/stale-sources.sh $(MODDIR)
	$(MAKE) -C $(call KDIR_OF,$(FLAVOR)) M=$(MODDIR) LLVM=1 DTS_FAULT=$(DTS_FAULT) modules
	@echo "module: $(MODDIR)/rust/dts.ko"

clippy: kernel
	@mkdir -p $(BUILD)/clippy/module
	rsync -a --delete Kbuild rust $(BUILD)/clippy/module/
	@scripts/stale-sources.sh $(BUILD)/clippy/module
	$(MAKE) -C $(call KDIR_OF,$(FLAVOR)) M=$(BUILD)/clippy/module LLVM=1 CLIPPY=1 modules
	cd userspace-tools && cargo clippy --all-targets -- -D warnings

# --examples: the dts library's examples (target/release/examples/), which
# the VM tests run too (t15-library: tiny_proxy). The C example (examples/c/,
# the system compiler) goes next to the Rust tools, where the VM rig (run.sh
# --tools) finds it.
tools: deps
	cd userspace-tools && cargo build --release --locked --workspace --bins --examples
	$(MAKE) --no-print-directory -C examples/c OUT=$(TOOLS_DIR)

# The packages are built from the default flavor whatever FLAVOR says.
deb: deps
	$(MAKE) --no-print-directory module tools FLAVOR=default
	scripts/deb.sh

host-test: deps
	cd userspace-tools && cargo test --locked

# On the debug flavor only the nodes boot the debug kernel: the client runs
# no module, and the default kernel boots it in a fraction of the time. On
# the default flavor the packages come first: t10-packages installs them.
vm-test: module tools $(if $(filter debug,$(FLAVOR)),client-kernel,deb)
	tests/vm/run.sh --kernel $(shell scripts/kernel.sh dir $(FLAVOR))/bzImage \
		$(if $(filter debug,$(FLAVOR)),--client-kernel $(shell scripts/kernel.sh dir default)/bzImage) \
		--module $(MODDIR)/rust/dts.ko --tools $(TOOLS_DIR) --flavor $(FLAVOR) $(VM_TESTS)

client-kernel:
	$(MAKE) --no-print-directory kernel FLAVOR=default

test:
	scripts/test.sh

demo: deps
	$(MAKE) module tools FLAVOR=default
	qemu/demo.sh --kernel $(shell scripts/kernel.sh dir default)/bzImage \
		--module $(BUILD)/default/module/rust/dts.ko --tools $(TOOLS_DIR)

# The benchmark harness (Documentation/performance.md): QUICK=1 for fewer
# repetitions, BENCH_OUT=DIR for another output directory than bench/,
# DRAIN_ONLY=1 or COMPARE_ONLY=1 for the drain or sc_compare scenario alone.
bench: deps
	$(MAKE) --no-print-directory module tools FLAVOR=default
	bench/run.sh --kernel $(shell scripts/kernel.sh dir default)/bzImage \
		--module $(BUILD)/default/module/rust/dts.ko --tools $(TOOLS_DIR) \
		$(if $(filter 1,$(QUICK)),--quick) $(if $(filter 1,$(DRAIN_ONLY)),--drain-only) \
		$(if $(filter 1,$(COMPARE_ONLY)),--compare-only) \
		$(if $(BENCH_OUT),--out $(BENCH_OUT))

clean:
	rm -rf $(BUILD)
	cd userspace-tools && cargo clean
