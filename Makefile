# cls-redirect: tc classifier for the backend servers of a GUE load balancer.
#
#   make            build obj/cls_redirect{,_btf,_legacy}.o and the tools
#   make check      install what is missing, build, run every test (root)
#   make demo       install what is missing, build, show it working (root)
#   make bench      measure every verdict against an empty program (root)
#   make install    PREFIX=/usr/local DESTDIR=
#
# MAPS=btf|legacy picks the flavour copied to obj/cls_redirect.o; by default
# it is the one the tc on this host loads (tc -V names libbpf or not).

CLANG ?= clang
CC ?= gcc
PREFIX ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0

ARCH_INC := /usr/include/$(shell $(CC) -dumpmachine)
BPF_CFLAGS := -O2 -g -target bpf -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	-Iinclude -I$(ARCH_INC)
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers -Iinclude \
	-DCLS_REDIRECT_VERSION='"$(VERSION)"'
LDLIBS += -lbpf -lelf -lz

TC_HAS_LIBBPF := $(shell tc -V 2>/dev/null | grep -q libbpf && echo yes)
ifeq ($(MAPS),)
MAPS := $(if $(TC_HAS_LIBBPF),btf,legacy)
endif
ifneq ($(MAPS),btf)
ifneq ($(MAPS),legacy)
$(error MAPS must be btf or legacy, not '$(MAPS)')
endif
endif

HEADERS := $(wildcard include/*.h)
OBJS := obj/cls_redirect_btf.o obj/cls_redirect_legacy.o obj/cls_redirect.o
TOOLS := tools/cls-redirect-config tools/cls-redirect-stat
TOOL_COMMON := $(wildcard tools/common.c)
# Test programs: selftests/*.bpf.c are BPF objects, selftests/*.c binaries.
TEST_BPF := $(patsubst %.bpf.c,%.bpf.o,$(wildcard selftests/*.bpf.c))
TEST_SRCS := $(filter-out %.bpf.c,$(wildcard selftests/*.c))
TEST_BINS := $(TEST_SRCS:.c=)

.PHONY: all deps check demo bench install uninstall clean
all: $(OBJS) $(TOOLS)

obj/cls_redirect_btf.o: obj/cls_redirect.c $(HEADERS)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# No BTF for the legacy flavour: the legacy loader has no use for it.
obj/cls_redirect_legacy.o: obj/cls_redirect.c $(HEADERS)
	$(CLANG) $(filter-out -g,$(BPF_CFLAGS)) -DCLS_REDIRECT_LEGACY_MAPS -c $< -o $@

obj/cls_redirect.o: obj/cls_redirect_$(MAPS).o
	cp $< $@

tools/cls-redirect-%: tools/cls-redirect-%.c $(TOOL_COMMON) $(HEADERS) $(wildcard tools/*.h)
	$(CC) $(CFLAGS) -o $@ $< $(TOOL_COMMON) $(LDLIBS)

selftests/%.bpf.o: selftests/%.bpf.c $(HEADERS)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

selftests/%: selftests/%.c $(HEADERS) $(wildcard selftests/*.h)
	$(CC) $(CFLAGS) -Iselftests -o $@ $< $(LDLIBS)

deps:
	@sh selftests/lib/deps.sh

check: deps
	@$(MAKE) --no-print-directory all tests
	@sh selftests/run.sh

.PHONY: tests
tests: $(TEST_BPF) $(TEST_BINS)

demo: deps
	@$(MAKE) --no-print-directory all tests
	@sh examples/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all tests
	@sh selftests/bench.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib/bpf
	install -m 0755 $(TOOLS) $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 $(OBJS) $(DESTDIR)$(PREFIX)/lib/bpf/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/sbin/,$(notdir $(TOOLS)))
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/lib/bpf/,$(notdir $(OBJS)))

clean:
	rm -f $(OBJS) $(TOOLS) $(TEST_BPF) $(TEST_BINS)
