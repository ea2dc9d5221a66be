# cls-redirect: tc classifier for the backend servers of a GUE load balancer.
#
#   make            build obj/cls_redirect{,_btf,_legacy}.o (tc),
#                   obj/cls_redirect_xdp{,_btf,_legacy}.o (XDP) and the tools
#   make check      install what is missing, build, run every test (root)
#   make demo       install what is missing, build, show it working (root)
#   make bench      measure every verdict against an empty program (root);
#                   BASE=REV also times the classifier of git revision REV;
#                   TRUST=N fills each trust list with N prefixes
#   make check-kernels  only the kernel matrix (5.10, 6.1, 6.12 under qemu)
#   make fuzz       FUZZ_SECONDS=N: fuzz the classifier and the tools (root)
#   make install    PREFIX=/usr/local DESTDIR=
#   make deb        cls-redirect_VERSION_ARCH.deb (dpkg-buildpackage, debian/)
#
# MAPS=btf|legacy picks the flavour copied to obj/cls_redirect.o and
# obj/cls_redirect_xdp.o; by default
# it is the one the tc on this host loads (tc -V names libbpf or not).

CLANG ?= clang
PREFIX ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0

ARCH_INC := /usr/include/$(shell $(CC) -dumpmachine)
# flags.mk: WARN_CFLAGS (and -Werror with WERROR=1), libbpf from pkg-config,
# the BUILD_FLAGS stamp.  The BPF objects take none of the user's CFLAGS:
# they are for the host compiler, not for clang -target bpf.
include flags.mk
# -mcpu=v3 (32-bit jumps and ALU, Linux 5.1+; every kernel we support has
# them): 8 % less JIT code than clang 14's default v1, and 2-4 % faster
# classes in make bench.
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -std=gnu11 $(WARN_CFLAGS) -Iinclude -I$(ARCH_INC)
# The tools and test programs: CPPFLAGS, CFLAGS and LDFLAGS are the user's
# (or dpkg-buildflags'), appended last so that they win.
TOOL_CFLAGS = -std=gnu11 $(WARN_CFLAGS) -Iinclude -DCLS_REDIRECT_VERSION='"$(VERSION)"' \
	$(LIBBPF_CFLAGS) $(CPPFLAGS) $(CFLAGS)
LDLIBS += $(LIBBPF_LIBS)

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
OBJS := obj/cls_redirect_btf.o obj/cls_redirect_legacy.o obj/cls_redirect.o \
	obj/cls_redirect_xdp_btf.o obj/cls_redirect_xdp_legacy.o obj/cls_redirect_xdp.o
TOOLS := tools/cls-redirect-config tools/cls-redirect-stat
# Every other tools/*.c is linked into both programs.
TOOL_COMMON := $(filter-out $(TOOLS:=.c),$(wildcard tools/*.c))
# Tests: selftests/test_* (shell scripts, and the C ones built here); their
# BPF helper programs in selftests/progs/, helper binaries in selftests/bin/,
# shell and C libraries in selftests/lib/, the benchmark in selftests/bench/.
TEST_BPF := $(patsubst %.bpf.c,%.bpf.o,$(wildcard selftests/progs/*.bpf.c))
TEST_SRCS := $(wildcard selftests/*.c selftests/bin/*.c selftests/bench/*.c)
TEST_HEADERS := $(wildcard selftests/lib/*.h)
TEST_BINS := $(TEST_SRCS:.c=)

.PHONY: all deps check demo bench install uninstall clean deb
all: $(OBJS) $(TOOLS)

# Each entry point (obj/cls_redirect.c for tc, obj/cls_redirect_xdp.c for
# XDP; man page, XDP) includes the same core and is built in both map
# flavours.  No BTF for the legacy flavour: the legacy loader has no use for it.
obj/%_btf.o: obj/%.c obj/cls_redirect_core.h $(HEADERS) $(BUILD_FLAGS)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

obj/%_legacy.o: obj/%.c obj/cls_redirect_core.h $(HEADERS) $(BUILD_FLAGS)
	$(CLANG) $(filter-out -g,$(BPF_CFLAGS)) -DCLS_REDIRECT_LEGACY_MAPS -c $< -o $@

obj/cls_redirect.o: obj/cls_redirect_$(MAPS).o
	cp $< $@

obj/cls_redirect_xdp.o: obj/cls_redirect_xdp_$(MAPS).o
	cp $< $@

tools/cls-redirect-%: tools/cls-redirect-%.c $(TOOL_COMMON) $(HEADERS) $(wildcard tools/*.h) \
		$(BUILD_FLAGS)
	$(CC) $(TOOL_CFLAGS) $(LDFLAGS) -o $@ $< $(TOOL_COMMON) $(LDLIBS)

selftests/%.bpf.o: selftests/%.bpf.c $(HEADERS) $(TEST_HEADERS) $(BUILD_FLAGS)
	$(CLANG) $(BPF_CFLAGS) -Iselftests/lib -c $< -o $@

selftests/%: selftests/%.c $(HEADERS) $(TEST_HEADERS) $(BUILD_FLAGS)
	$(CC) $(TOOL_CFLAGS) $(LDFLAGS) -Iselftests/lib -o $@ $< $(LDLIBS)

deps:
	@sh selftests/lib/deps.sh

# make check builds with -Werror, and so do the builds its tests start.
check: export WERROR = 1
check: deps
	@$(MAKE) --no-print-directory all tests
	@sh selftests/run.sh

# The classifier and its fixtures built with a counter inserted in the middle
# of the list (include/cls_redirect.h): selftests/test_verdicts.sh proves that
# no decision depends on where a counter sits.
EXTRA_COUNTER := -DCLS_REDIRECT_TEST_EXTRA_COUNTER
selftests/cls_redirect_extra.o: obj/cls_redirect.c obj/cls_redirect_core.h $(HEADERS) $(BUILD_FLAGS)
	$(CLANG) $(BPF_CFLAGS) $(EXTRA_COUNTER) -c $< -o $@
selftests/prog_run_extra: selftests/test_prog_run.c $(HEADERS) $(TEST_HEADERS) \
		$(BUILD_FLAGS)
	$(CC) $(TOOL_CFLAGS) $(LDFLAGS) $(EXTRA_COUNTER) -Iselftests/lib -o $@ $< $(LDLIBS)
TEST_EXTRA := selftests/cls_redirect_extra.o selftests/prog_run_extra

.PHONY: tests
tests: $(TEST_BPF) $(TEST_BINS) $(TEST_EXTRA)

demo: deps
	@$(MAKE) --no-print-directory all tests
	@sh examples/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all tests
	@BENCH_BASE='$(BASE)' BENCH_TRUST='$(TRUST)' sh selftests/bench/bench.sh

# ---- make install / make uninstall ----
#
# Layout (PREFIX=/usr/local by default):
#   $(SBINDIR)/cls-redirect-{config,stat}        the tools
#   $(SBINDIR)/cls-redirect-{deploy,undeploy}    examples/{deploy,undeploy}.sh
#   $(BPFDIR)/cls_redirect{,_xdp}{,_btf,_legacy}.o  $(PREFIX)/lib/bpf, or with
#                                  PREFIX=/usr on Debian /usr/lib/<triplet>/bpf
#                                  (as xdp-tools installs its objects)
#   $(MANDIR)/man8/{tc-cls-redirect,cls-redirect-config,cls-redirect-stat}.8
#   $(MANDIR)/man8/cls-redirect-{deploy,undeploy}.8      undeploy: a symlink
#   $(UNITDIR)/cls-redirect@.service, cls-redirect-textfile.{service,timer}
#                                        /lib/systemd/system when PREFIX=/usr,
#                                        else $(PREFIX)/lib/systemd/system
#   $(DOCDIR)/examples/cls-redirect.default
#                                        example of /etc/default/cls-redirect
#   $(COMPLETIONDIR)/cls-redirect-{config,stat}   bash completion (completions/
#                                  cls-redirect; -stat is a link to -config)
# Nothing is written to /etc.  make install PREFIX=/usr installs exactly the
# files of the Debian package (make deb; selftests/test_deb.sh compares).
# The unit names /usr/local/sbin in the source tree; install rewrites it to
# $(SBINDIR).  The deploy script learns where the objects are (BPF_SUBDIR:
# relative to the prefix it is installed under, so a DESTDIR tree works too).
SBINDIR ?= $(PREFIX)/sbin
MULTIARCH ?= $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
BPFDIR ?= $(PREFIX)/lib$(if $(and $(filter /usr,$(PREFIX)),$(MULTIARCH)),/$(MULTIARCH))/bpf
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/cls-redirect
UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
MAN8 := tc-cls-redirect.8 cls-redirect-config.8 cls-redirect-stat.8 cls-redirect-deploy.8
SCRIPTS := cls-redirect-deploy cls-redirect-undeploy
UNITS := cls-redirect@.service cls-redirect-textfile.service cls-redirect-textfile.timer

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BPFDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(COMPLETIONDIR)
	install -m 0755 $(TOOLS) $(DESTDIR)$(SBINDIR)/
	sed 's|^BPF_SUBDIR=.*|BPF_SUBDIR=$(patsubst $(PREFIX)/%,%,$(BPFDIR))|' examples/deploy.sh \
		>$(DESTDIR)$(SBINDIR)/cls-redirect-deploy
	install -m 0755 examples/undeploy.sh $(DESTDIR)$(SBINDIR)/cls-redirect-undeploy
	chmod 0755 $(DESTDIR)$(SBINDIR)/cls-redirect-deploy
	install -m 0644 $(OBJS) $(DESTDIR)$(BPFDIR)/
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	ln -sf cls-redirect-deploy.8 $(DESTDIR)$(MANDIR)/man8/cls-redirect-undeploy.8
	for u in $(UNITS); do \
		sed 's|/usr/local/sbin/|$(SBINDIR)/|g' examples/$$u >$(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 examples/cls-redirect.default $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 completions/cls-redirect $(DESTDIR)$(COMPLETIONDIR)/cls-redirect-config
	ln -sf cls-redirect-config $(DESTDIR)$(COMPLETIONDIR)/cls-redirect-stat

uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(notdir $(TOOLS)) $(SCRIPTS))
	rm -f $(addprefix $(DESTDIR)$(BPFDIR)/,$(notdir $(OBJS)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(MAN8) cls-redirect-undeploy.8)
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))
	rm -f $(DESTDIR)$(DOCDIR)/examples/cls-redirect.default
	rm -f $(addprefix $(DESTDIR)$(COMPLETIONDIR)/,cls-redirect-config cls-redirect-stat)
	-rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) $(DESTDIR)$(BPFDIR) 2>/dev/null

# ---- make deb ----
#
# cls-redirect_VERSION_ARCH.deb in the top of the tree, built by
# dpkg-buildpackage -us -uc -b from debian/ in a copy of the sources under
# build/deb/ (dpkg-buildpackage cleans the tree it runs in and writes to its
# parent directory; this tree and its parent are left alone).  The files git
# tracks, plus new ones it does not ignore; outside a git checkout, the
# whole tree.  make clean removes the .deb and build/.
DEB_VERSION = $(shell dpkg-parsechangelog -S Version 2>/dev/null)
DEB_ARCH = $(shell dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null)
DEB = cls-redirect_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_SRC = build/deb/cls-redirect-$(DEB_VERSION)

.PHONY: deb
deb:
	@command -v dpkg-buildpackage >/dev/null || { echo "make deb: dpkg-buildpackage missing: apt-get install dpkg-dev debhelper (or make deps)" >&2; exit 1; }
	@[ "$(DEB_VERSION)" = "$(VERSION)" ] || { echo "make deb: debian/changelog says $(DEB_VERSION), the Makefile $(VERSION): add a changelog entry (dch -v $(VERSION))" >&2; exit 1; }
	rm -rf build/deb
	mkdir -p $(DEB_SRC)
	if [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$$(pwd -P)" ]; then \
		git ls-files -z --cached --others --exclude-standard | \
			tar --null --ignore-failed-read -T - -cf - 2>/dev/null; \
	else \
		tar --exclude=./.git --exclude=./build --exclude='./*.deb' -cf - .; \
	fi | tar -C $(DEB_SRC) -xf -
	cd $(DEB_SRC) && env -u WERROR -u MAKEFLAGS -u MAKELEVEL -u MFLAGS dpkg-buildpackage -us -uc -b
	mv build/deb/$(DEB) .
	@echo "make deb: $(DEB) (install: sudo apt install ./$(DEB))"

clean:
	rm -f $(OBJS) $(TOOLS) $(TEST_BPF) $(TEST_BINS) $(TEST_EXTRA) $(BUILD_FLAGS) cls-redirect_*.deb
	rm -rf build

# The kernel matrix (README, Kernels): static programs for the qemu
# guests, `make check-kernels`; see selftests/kernels.mk.
include selftests/kernels.mk

# Fuzzing: `make fuzz FUZZ_SECONDS=N`; see selftests/fuzz.mk.
include selftests/fuzz.mk
