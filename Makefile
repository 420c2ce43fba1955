# SPDX-License-Identifier: GPL-2.0
# pte_attrs: user entry points. Kbuild reads ./Kbuild, not this file.
#
#   make run      build what is missing, boot the VM, show the module at work
#   make check    host unit tests, lint build, every kselftest in the VM
#   make bench    in-kernel benchmarks (accessor, CPA), ratios side by side
#   make shell    the VM with an interactive shell
#   make bigvm    every scenario at the largest size an 8 GiB VM admits
#   make module   just the .ko files (KDIR=/path/to/kernel to pick a kernel)
#
# Variables: KERNEL=7.3|6.12|debian-7.3  FLAVOR=native|xen|debug
#            ACCEL=auto|tcg|kvm  KDIR=...
#            PTE_ATTRS_CACHE=dir (default ~/.cache/pte_attrs)  VM_TIMEOUT=s
#            VM_MEM=size (bigvm: 8G)  VM_ARGS="nopat no5lvl ..." (kernel parameters)

.PHONY: all module run shell check bench bigvm setup kernel host-test fmt clean

all: module

module run shell check bench bigvm:
	@scripts/harness.sh $@

setup:
	@scripts/setup.sh

kernel: setup
	@scripts/kernel.sh

host-test:
	cd host && cargo test

# The kernel's rustfmt settings: KDIR's when it has them, else the
# harness tree's (of KERNEL).
fmt:
	@cfg="$(KDIR)/.rustfmt.toml"; \
	if [ -z "$(KDIR)" ] || [ ! -f "$$cfg" ]; then \
		[ -z "$(KDIR)" ] || echo "KDIR=$(KDIR) has no .rustfmt.toml: using the harness tree's"; \
		cfg="$$(bash -c '. scripts/lib.sh && harness_kdir')/.rustfmt.toml"; \
	fi; \
	echo "rustfmt --config-path $$cfg"; \
	/usr/bin/rustfmt --edition 2021 --config-path "$$cfg" $$(find src -name "*.rs") host/lib.rs

clean:
	@kdir="$${KDIR:-$$(bash -c '. scripts/lib.sh && harness_kdir')}"; \
	if [ -f "$$kdir/Makefile" ]; then \
		$(MAKE) -C "$$kdir" M=$(CURDIR) LLVM=1 clean; \
		$(MAKE) -C "$$kdir" M=$(CURDIR)/samples LLVM=1 clean; \
	fi
	rm -rf out host/target
