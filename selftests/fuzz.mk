# Fuzzing.  Included by the top-level Makefile:
#
#	include selftests/fuzz.mk
#
#   make fuzz FUZZ_SECONDS=600 [FUZZ_SEED=N]
#	the packet fuzzer (selftests/test_fuzz) and the tools fuzzer
#	(selftests/test_fuzz_tools) for FUZZ_SECONDS each; failing packets are
#	saved in selftests/crashes/, which make check replays.
#   make -f selftests/fuzz.mk fuzz-tools FUZZ_TOOLS_DIR=DIR
#	cls-redirect-config and cls-redirect-stat built with clang's
#	AddressSanitizer (leaks included) and UndefinedBehaviorSanitizer into
#	DIR; selftests/test_fuzz_tools runs this itself, into a temporary
#	directory.  Needs libclang-rt-14-dev (selftests/lib/deps.sh).

include flags.mk
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_TOOLS_DIR ?= selftests/fuzz-tools
# Every tools/*.c but the two programs (the Makefile links the same).
FUZZ_TOOL_LIBS := $(filter-out tools/cls-redirect-%.c,$(wildcard tools/*.c))
FUZZ_SAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all -std=gnu11 $(WARN_CFLAGS) $(LIBBPF_CFLAGS) \
	-Iinclude -DCLS_REDIRECT_VERSION='"$(or $(VERSION),fuzz)"'

.PHONY: fuzz fuzz-tools
fuzz-tools: $(FUZZ_TOOLS_DIR)/cls-redirect-config $(FUZZ_TOOLS_DIR)/cls-redirect-stat

# Every tools/*.c but the programs, as the Makefile links them (this file is
# also run on its own, make -f selftests/fuzz.mk).
FUZZ_TOOL_COMMON := $(filter-out tools/cls-redirect-%.c,$(wildcard tools/*.c))
$(FUZZ_TOOLS_DIR)/cls-redirect-%: tools/cls-redirect-%.c $(FUZZ_TOOL_COMMON) $(wildcard tools/*.h include/*.h)
	@mkdir -p $(FUZZ_TOOLS_DIR)
	$(FUZZ_CC) $(FUZZ_SAN_CFLAGS) -o $@ $< $(FUZZ_TOOL_COMMON) $(LIBBPF_LIBS)

fuzz: deps
	@$(MAKE) --no-print-directory all tests
	@rc=0; \
	echo "== packet fuzzer, $(FUZZ_SECONDS) s"; \
	FUZZ_SECONDS=$(FUZZ_SECONDS) selftests/test_fuzz || rc=1; \
	echo "== tools fuzzer, $(FUZZ_SECONDS) s"; \
	FUZZ_SECONDS=$(FUZZ_SECONDS) selftests/test_fuzz_tools || rc=1; \
	exit $$rc
