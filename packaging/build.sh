#!/bin/sh
# packaging/build.sh: build the failberry .deb packages with nfpm.
#
#   build.sh version                 print the Debian-valid upstream version
#   build.sh bin ARCH FILE           cross-build /usr/sbin/failberry for ARCH into FILE
#   build.sh deb OUTDIR ARCH...      build OUTDIR/failberry_<version>_<ARCH>.deb
#   build.sh lint DEB...             size and lintian findings; fails on E: or W:
#
# ARCH is a Debian architecture: amd64, arm64 or armhf (ARMv7). The cgo cross
# compilers and libusb for each come from packaging/deps.sh. Run from anywhere;
# paths are taken relative to the repository. FAILBERRY_VERSION overrides the
# version taken from git; NFPM overrides the nfpm command.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
export PATH="/usr/local/go/bin:$PATH"
GO=${GO:-go}
NFPM=${NFPM:-"$GO run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2"}

# One commit for everything git says (version, changelog, file dates), even
# if someone commits while the three architectures build.
rev=$(git -C "$repo" rev-parse --verify -q HEAD 2>/dev/null) || rev=

die() { echo "build.sh: $*" >&2; exit 1; }

# debian_version turns `git describe --tags --always` into a Debian upstream
# version: v1.2.3 -> 1.2.3, v1.2.3-rc1 -> 1.2.3~rc1, v1.2.3-4-gabc1234 ->
# 1.2.3+git20261123.4.abc1234, and an untagged abc1234 ->
# 0.0.0~git20261123.abc1234 (sorts before any real release). The date is the
# commit date, so a rebuild of the same commit gives the same version.
debian_version() {
	desc=$(git -C "$repo" describe --tags --always $rev 2>/dev/null) || desc=unknown
	date=$(git -C "$repo" log -1 $rev --format=%cd --date=format:%Y%m%d 2>/dev/null) || date=00000000
	case "$desc" in
	*-[0-9]*-g[0-9a-f]*)
		tag=${desc%-*-g*}; rest=${desc#"$tag"-}
		n=${rest%%-g*}; hash=${rest#*-g}
		v="$(tag_version "$tag")+git$date.$n.$hash" ;;
	[0-9a-f][0-9a-f][0-9a-f][0-9a-f]*)
		if printf %s "$desc" | grep -qx '[0-9a-f]\{4,40\}'; then
			v="0.0.0~git$date.$desc"
		else
			v=$(tag_version "$desc")
		fi ;;
	*) v=$(tag_version "$desc") ;;
	esac
	printf '%s\n' "$v"
}

# tag_version maps a release tag to a version: drop a leading v, pre-release
# dashes become ~ (sorts first), anything not allowed in a version becomes .
tag_version() {
	t=$(printf %s "${1#v}" | tr -- '-_' '~.' | tr -c 'A-Za-z0-9.+~\n' '.')
	case "$t" in
	[0-9]*) printf '%s\n' "$t" ;;
	*) printf '0.0.0~%s\n' "$t" ;;
	esac
}

version() { printf '%s\n' "${FAILBERRY_VERSION:-$(debian_version)}"; }

# build_bin ARCH FILE: cgo build (gousb needs libusb) with the cross compiler.
# Beyond -trimpath and -ldflags "-s -w -X main.version=...", the binary gets
# Debian's hardening (lintian checks it): PIE for ASLR, full RELRO with
# bindnow, _FORTIFY_SOURCE and the stack protector for the cgo C code, and
# the compiler's .comment section removed as dh_strip would.
build_bin() {
	arch=$1 out=$2
	case "$arch" in
	amd64) triplet=x86_64-linux-gnu; set -- GOARCH=amd64 ;;
	arm64) triplet=aarch64-linux-gnu; set -- GOARCH=arm64 ;;
	armhf) triplet=arm-linux-gnueabihf; set -- GOARCH=arm GOARM=7 ;;
	*) die "unknown architecture $arch (want amd64, arm64 or armhf)" ;;
	esac
	v=$(version)
	(cd "$repo" && env CGO_ENABLED=1 GOOS=linux "$@" CC="$triplet-gcc" \
		PKG_CONFIG_LIBDIR="/usr/lib/$triplet/pkgconfig:/usr/share/pkgconfig" \
		CGO_CFLAGS="-g -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong" \
		CGO_LDFLAGS="-Wl,-z,relro -Wl,-z,now" \
		"$GO" build -trimpath -buildmode=pie \
		-ldflags "-s -w -X main.version=$v" \
		-o "$out" ./cmd/failberry) || die "go build for $arch failed"
	"$triplet-objcopy" --remove-section=.comment "$out" || die "objcopy for $arch failed"
}

# changelog VERSION: a one-entry Debian changelog for changelog.Debian.gz.
changelog() {
	hash=$(git -C "$repo" log -1 $rev --format=%h 2>/dev/null) || hash=unknown
	when=$(git -C "$repo" log -1 $rev --format=%cd --date=rfc2822 2>/dev/null) ||
		when=$(date -R -u -d "@${SOURCE_DATE_EPOCH:-0}")
	cat <<CHANGELOG
failberry ($1-1) unstable; urgency=medium

  * Build of failberry from git commit $hash.
    The project's history is its git log: https://github.com/failberry/failberry

 -- failberry developers <dev@failberry.invalid>  $when
CHANGELOG
}

# stage ARCH DIR: every file the package ships, under the names nfpm.yaml uses.
stage() {
	arch=$1 dir=$2
	for f in "$repo/systemd/failberry.service" "$repo/systemd/failberry.catalog" \
		"$here/failberry.yaml"; do
		[ -f "$f" ] || die "missing $f"
	done
	mkdir -p "$dir"
	build_bin "$arch" "$dir/failberry"
	cp "$repo/systemd/failberry.service" "$repo/systemd/failberry.catalog" \
		"$here/failberry.yaml" "$here/77-failberry-modemmanager.rules" \
		"$here/copyright" "$here/README" "$here/lintian-overrides" \
		"$here/scripts/postinst" "$here/scripts/prerm" "$here/scripts/postrm" "$dir/"
	gzip -9n <"$here/failberry.8" >"$dir/failberry.8.gz"
	changelog "$(version)" | gzip -9n >"$dir/changelog.Debian.gz"
}

build_deb() {
	outdir=$1; shift
	[ $# -gt 0 ] || set -- armhf arm64 amd64
	mkdir -p "$outdir"
	outdir=$(cd "$outdir" && pwd)
	FAILBERRY_VERSION=$(version)
	export FAILBERRY_VERSION
	v=$FAILBERRY_VERSION
	# File dates inside the package: the commit time, for reproducible builds.
	SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 $rev --format=%ct 2>/dev/null || echo 0)}
	export SOURCE_DATE_EPOCH
	work=$(mktemp -d "${TMPDIR:-/tmp}/failberry-deb.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	for arch in "$@"; do
		case "$arch" in
		amd64|arm64) goarch=$arch ;;
		armhf) goarch=arm7 ;;
		*) die "unknown architecture $arch (want amd64, arm64 or armhf)" ;;
		esac
		stage "$arch" "$work/$arch"
		deb="$outdir/failberry_${v}_$arch.deb"
		rm -f "$outdir"/failberry_*_"$arch".deb
		(cd "$work/$arch" && FAILBERRY_ARCH=$goarch FAILBERRY_VERSION=$v \
			$NFPM package --packager deb --config "$here/nfpm.yaml" --target "$deb" >/dev/null) ||
			die "nfpm failed for $arch"
		echo "$deb"
	done
}

# lint DEB...: print each package's size and lintian's findings; fail when
# lintian reports an error or a warning that is not overridden.
lint() {
	rc=0
	for deb in "$@"; do
		echo "$deb: $(du -k "$deb" | cut -f1) KiB"
		st=0
		out=$(lintian --info --fail-on error,warning "$deb" 2>&1) || st=$?
		printf '%s\n' "$out" | grep -v 'root privileges' | sed 's/^/  /' || true
		[ "$st" -eq 0 ] || { echo "build.sh: lintian fails on $deb" >&2; rc=1; }
	done
	return $rc
}

case "${1:-}" in
lint) shift; lint "$@" ;;
version) version ;;
bin) [ $# -eq 3 ] || die "usage: build.sh bin ARCH FILE"; build_bin "$2" "$3" ;;
deb) [ $# -ge 2 ] || die "usage: build.sh deb OUTDIR [ARCH...]"; shift; build_deb "$@" ;;
*) die "usage: build.sh version | bin ARCH FILE | deb OUTDIR [ARCH...]" ;;
esac
