# flags.mk: the compiler flags every build of this tree shares, defined
# once.  Included by the Makefile, selftests/kernels.mk and selftests/fuzz.mk
# (each also usable alone with make -f, from the top of the tree).
#
#   WARN_CFLAGS    the warnings of every C build: the classifier and the test
#                  BPF programs (clang), the tools and the test programs, the
#                  static programs of the kernel matrix, the sanitizer builds
#   WERROR=1       adds -Werror.  Off by default, so that a packager's newer
#                  compiler, with warnings this tree has never met, still
#                  builds it; `make check` turns it on.
#   LIBBPF_CFLAGS, LIBBPF_LIBS, LIBBPF_STATIC_LIBS
#                  from `pkg-config libbpf` (PKG_CONFIG=...), or -lbpf -lelf
#                  -lz when pkg-config is missing
#   BUILD_FLAGS    a stamp file holding the compilers and the flags of the
#                  last build; what is built depends on it, so a build with
#                  other flags (WERROR=1, Debian's hardening flags) rebuilds
#                  everything instead of mixing objects

ifndef FLAGS_MK
FLAGS_MK := 1
# The including file keeps its own default goal.
flags_saved_goal := $(.DEFAULT_GOAL)

CLANG ?= clang
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g

WARN_CFLAGS := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
WERROR ?= 0
ifeq ($(WERROR),1)
WARN_CFLAGS += -Werror
else ifneq ($(WERROR),0)
$(error WERROR must be 0 or 1, not '$(WERROR)')
endif

LIBBPF_CFLAGS := $(shell $(PKG_CONFIG) --cflags libbpf 2>/dev/null)
LIBBPF_LIBS := $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)
LIBBPF_STATIC_LIBS := $(shell $(PKG_CONFIG) --static --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)

BUILD_FLAGS := .build-flags
.PHONY: build-flags-force
$(BUILD_FLAGS): build-flags-force
	@printf '%s\n' "$$CLS_REDIRECT_BUILD_FLAGS" | cmp -s - $@ || \
		printf '%s\n' "$$CLS_REDIRECT_BUILD_FLAGS" >$@
$(BUILD_FLAGS): export CLS_REDIRECT_BUILD_FLAGS = CC=$(CC) CLANG=$(CLANG) \
	WARN_CFLAGS=$(WARN_CFLAGS) BPF_CFLAGS=$(BPF_CFLAGS) CPPFLAGS=$(CPPFLAGS) CFLAGS=$(CFLAGS) \
	LDFLAGS=$(LDFLAGS) \
	LIBBPF=$(LIBBPF_CFLAGS) $(LIBBPF_LIBS)
.DEFAULT_GOAL := $(flags_saved_goal)
endif
