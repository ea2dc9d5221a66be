/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map declarations for the two ELF loaders of tc (man page, LEGACY TC).
 *
 * tc built without libbpf reads "struct bpf_elf_map" records from a section
 * named "maps" and pins PIN_GLOBAL_NS maps at <bpffs>/tc/globals/<name>.
 * tc built with libbpf >= 1.0 refuses that section and reads BTF-defined maps
 * from ".maps"; LIBBPF_PIN_BY_NAME pins them in the same directory, because
 * tc points libbpf's pin root there.  The classifier declares each map once
 * with CLS_REDIRECT_MAP(); -DCLS_REDIRECT_LEGACY_MAPS picks the flavour.
 * Map flags are the same in both (0, or BPF_F_NO_PREALLOC where the kernel
 * requires it), so either loader, and cls-redirect-config, can create a map
 * and the others reuse it.
 */
#ifndef CLS_REDIRECT_MAPS_H
#define CLS_REDIRECT_MAPS_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#ifdef CLS_REDIRECT_LEGACY_MAPS

/* The record iproute2's legacy loader parses (iproute2 include/bpf_elf.h). */
struct bpf_elf_map {
	__u32 type;
	__u32 size_key;
	__u32 size_value;
	__u32 max_elem;
	__u32 flags;
	__u32 id;
	__u32 pinning;
	__u32 inner_id;
	__u32 inner_idx;
};

#define PIN_GLOBAL_NS 2
#define CLS_REDIRECT_PINNED PIN_GLOBAL_NS
#define CLS_REDIRECT_UNPINNED 0 /* PIN_NONE */

#define CLS_REDIRECT_MAP_DECL(name, map_type, key_type, value_type, entries, map_flags, pin)      \
	struct bpf_elf_map SEC("maps") name = {                                                    \
		.type = map_type,                                                                  \
		.size_key = sizeof(key_type),                                                      \
		.size_value = sizeof(value_type),                                                  \
		.max_elem = entries,                                                               \
		.flags = map_flags,                                                                \
		.pinning = pin,                                                                    \
	}

#else

#define CLS_REDIRECT_PINNED LIBBPF_PIN_BY_NAME
#define CLS_REDIRECT_UNPINNED LIBBPF_PIN_NONE

#define CLS_REDIRECT_MAP_DECL(name, map_type, key_type, value_type, entries, flags, pin)          \
	struct {                                                                                   \
		__uint(type, map_type);                                                            \
		__type(key, key_type);                                                             \
		__type(value, value_type);                                                         \
		__uint(max_entries, entries);                                                      \
		__uint(map_flags, flags);                                                          \
		__uint(pinning, pin);                                                              \
	} name SEC(".maps")

#endif

#define CLS_REDIRECT_MAP_FLAGS(name, map_type, key_type, value_type, entries, flags)             \
	CLS_REDIRECT_MAP_DECL(name, map_type, key_type, value_type, entries, flags,                \
			      CLS_REDIRECT_PINNED)

#define CLS_REDIRECT_MAP(name, map_type, key_type, value_type, entries)                           \
	CLS_REDIRECT_MAP_FLAGS(name, map_type, key_type, value_type, entries, 0)

/* A map of the loaded program alone: never pinned, never shared with the
 * tools or another program, gone with the program. */
#define CLS_REDIRECT_PRIVATE_MAP(name, map_type, key_type, value_type, entries)                   \
	CLS_REDIRECT_MAP_DECL(name, map_type, key_type, value_type, entries, 0,                    \
			      CLS_REDIRECT_UNPINNED)

#endif /* CLS_REDIRECT_MAPS_H */
