#!/bin/sh
# Builds the initramfs archives of the kernel matrix (selftests/test_kernels.sh).
#
#   sh initramfs.sh common OUT.cpio REPO TC_LEGACY
#	busybox, /init, the real tc (system, libbpf loader) and the legacy tc,
#	ip, the objects, the tools, sendraw and the static programs of
#	selftests/guest/, with the shared libraries of the dynamic ones and the
#	dynamic loader (copied as ldd lists them), laid out under /repo as in
#	the repository.
#   sh initramfs.sh modules OUT.cpio KERNEL_DIR
#	/modules/*.ko and /modules/order of one kernel (fetch.sh's cache).
#
# The kernel unpacks concatenated newc archives one after the other, so one
# kernel's initrd is `cat common.cpio modules.cpio`: the common part is built
# once per run, the modules part once per kernel.  Uncompressed: unpacking
# beats decompressing under software emulation.
set -eu

die() { echo "initramfs: $*" >&2; exit 1; }

# pack DIR OUT: a newc archive of DIR's content, owned by root.
pack() {
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$2" ||
		die "cpio of $1 failed"
}

# copy FILE DEST: FILE (symlinks followed) to DEST, plus, for a dynamic
# executable, each library ldd names at the same path, and the loader.
copy_with_libs() {
	mkdir -p "$(dirname "$2")"
	cp -L "$1" "$2"
	ldd "$1" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' |
		while read -r lib; do
			case $lib in /*) ;; *) continue ;; esac
			t=$root/lib/x86_64-linux-gnu/$(basename "$lib")
			case $lib in /lib64/*) t=$root$lib ;; esac
			[ -e "$t" ] && continue
			mkdir -p "$(dirname "$t")"
			cp -L "$lib" "$t"
		done
}

mode=${1:?usage: initramfs.sh common OUT REPO TC_LEGACY | modules OUT KERNEL_DIR}
out=${2:?}
root=$(mktemp -d "${TMPDIR:-/tmp}/cls-redirect-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT

case $mode in
common)
	repo=${3:?} legacy=${4:?}
	here=$repo/selftests/lib/kernels
	bb=$(command -v busybox) || die "busybox not found: run 'make deps' (busybox-static)"
	ldd "$bb" 2>&1 | grep -q 'not a dynamic' ||
		die "$bb is not statically linked: install busybox-static"
	mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/usr/local/sbin" \
		"$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/run" "$root/var" \
		"$root/lib/x86_64-linux-gnu" "$root/lib64" "$root/modules"
	ln -s ../run "$root/var/run"
	cp "$bb" "$root/bin/busybox"
	# The kernel opens /dev/console before /init runs.
	mknod "$root/dev/console" c 5 1 2>/dev/null || :
	install -m 0755 "$here/init" "$root/init"
	copy_with_libs "$(command -v tc)" "$root/usr/local/sbin/tc"
	copy_with_libs "$legacy" "$root/usr/local/sbin/tc-legacy"
	copy_with_libs "$(command -v ip)" "$root/usr/local/sbin/ip"
	# xdp-loader and the dispatcher libxdp loads from its object path.
	copy_with_libs "$(command -v xdp-loader)" "$root/usr/local/sbin/xdp-loader"
	mkdir -p "$root/usr/lib/x86_64-linux-gnu/bpf"
	cp /usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o "$root/usr/lib/x86_64-linux-gnu/bpf/"
	r=$root/repo
	mkdir -p "$r/obj" "$r/tools" "$r/selftests/guest" "$r/selftests/lib/kernels"
	cp "$repo/obj/cls_redirect_btf.o" "$repo/obj/cls_redirect_legacy.o" "$repo/obj/cls_redirect_xdp_btf.o" "$r/obj/"
	mkdir -p "$r/selftests/progs"
	cp "$repo/selftests/progs/xdp_pass.bpf.o" "$r/selftests/progs/"
	for f in tools/cls-redirect-config tools/cls-redirect-stat selftests/bin/sendraw; do
		copy_with_libs "$repo/$f" "$r/$f"
	done
	cp -R "$repo/selftests/guest/." "$r/selftests/guest/"
	cp "$here/guest-tests.sh" "$r/selftests/lib/kernels/"
	# Whatever test_prog_run reads besides the objects (fixtures, headers).
	for d in fixtures testdata; do
		[ -d "$repo/selftests/$d" ] && cp -R "$repo/selftests/$d" "$r/selftests/"
	done
	;;
modules)
	kdir=${3:?}
	mkdir -p "$root/modules"
	cp "$kdir"/modules/*.ko "$kdir/modules/order" "$root/modules/"
	;;
*) die "unknown mode $mode" ;;
esac
pack "$root" "$out"
