# The kernel matrix (README, Kernels; tc-cls-redirect.8, KERNELS): selftests/test_kernels.sh boots
# Debian's 5.10, 6.1 and 6.12 cloud kernels under qemu and runs the tests
# there.  This file builds what it puts into their initramfs: static
# programs (no libraries in the guest) and the incompatible test object.
#
# Included by the top Makefile; also usable alone:
#	make -f selftests/kernels.mk kernels-guest
#
#   make check-kernels      the matrix only (also part of `make check`)

ifndef KERNELS_MK
KERNELS_MK := 1
# Whichever target the including Makefile has first stays the default goal.
kernels_saved_goal := $(.DEFAULT_GOAL)

include flags.mk
KERNELS_ARCH_INC := /usr/include/$(shell $(CC) -dumpmachine)
KERNELS_CFLAGS := -O2 -g -std=gnu11 $(WARN_CFLAGS) $(LIBBPF_CFLAGS) \
	-Iinclude -Iselftests/lib -DCLS_REDIRECT_VERSION='"$(or $(VERSION),0)"'
KERNELS_LDLIBS := -static $(LIBBPF_STATIC_LIBS)

KERNELS_GUEST := selftests/guest/kload selftests/guest/check_mtu.bpf.o \
	$(if $(wildcard selftests/test_prog_run.c),selftests/guest/test_prog_run)

.PHONY: kernels-guest check-kernels kernels-clean
kernels-guest: $(KERNELS_GUEST)

selftests/guest/kload: selftests/lib/kernels/kload.c $(BUILD_FLAGS)
	@mkdir -p $(@D)
	$(CC) $(KERNELS_CFLAGS) -o $@ $< $(KERNELS_LDLIBS)

# The source of selftests/test_prog_run with the flags of the Makefile, linked
# statically.
selftests/guest/test_prog_run: selftests/test_prog_run.c $(wildcard include/*.h selftests/lib/*.h) \
		$(BUILD_FLAGS)
	@mkdir -p $(@D)
	$(CC) $(KERNELS_CFLAGS) -o $@ $< $(KERNELS_LDLIBS)

selftests/guest/check_mtu.bpf.o: selftests/lib/kernels/check_mtu.bpf.c $(BUILD_FLAGS)
	@mkdir -p $(@D)
	$(CLANG) -O2 -g -target bpf $(WARN_CFLAGS) -I$(KERNELS_ARCH_INC) -c $< -o $@

# `make tests` (and so `make check`) builds them too.
tests: kernels-guest

check-kernels: deps
	@$(MAKE) --no-print-directory all tests
	@TESTS=test_kernels.sh sh selftests/run.sh

kernels-clean:
	rm -rf selftests/guest
clean: kernels-clean

.DEFAULT_GOAL := $(kernels_saved_goal)
endif
