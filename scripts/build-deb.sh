#!/bin/bash
# make deb: builds the Debian packages the Debian way (debian/, dh with
# dh_apache2, dpkg-buildpackage -b) in a clean copy of the source tree, and
# moves every file the build made into build/ (IDS_DEB_OUTDIR overrides):
#
#   libapache2-mod-idsession_<version>_<arch>.deb         the module, its .load
#                                                         and .conf, the manual
#   libapache2-mod-idsession-dev_<version>_<arch>.deb     mod_idsession.h
#   libapache2-mod-idsession-dbgsym_<version>_<arch>.deb  debug symbols (dh)
#   libapache2-mod-idsession_<version>_<arch>.buildinfo, .changes
#
# and prints their paths, one a line.
#
# The version is defined once, as IDSESSION_VERSION in mod_idsession.h;
# debian/changelog and CHANGES must name the same version, or this fails.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${IDS_DEB_OUTDIR:-$repo/build}
pkg=libapache2-mod-idsession

die() { echo "build-deb.sh: $*" >&2; exit 1; }

command -v dpkg-buildpackage >/dev/null ||
    die "dpkg-buildpackage not found: apt-get install dpkg-dev debhelper fakeroot"

version=$(sed -n 's/^#define IDSESSION_VERSION "\(.*\)"$/\1/p' "$repo/mod_idsession.h")
[ -n "$version" ] || die "no #define IDSESSION_VERSION \"x.y.z\" in mod_idsession.h"

deb_version=$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)
if [ "$deb_version" != "$version" ]; then
    die "debian/changelog is at $deb_version but mod_idsession.h says $version;" \
        "add an entry: dch -v $version -c debian/changelog (package devscripts)" \
        "or edit debian/changelog by hand"
fi
changes_version=$(sed -n 's/^Changes with mod_idsession \(.*\)$/\1/p' "$repo/CHANGES" | head -n1)
[ "$changes_version" = "$version" ] ||
    die "CHANGES starts with version '$changes_version', not $version"

# build/html is made by the build itself.
for doc in $(grep -v '^build/' "$repo/debian/$pkg.docs"); do
    [ -f "$repo/$doc" ] || die "$doc is missing (debian/$pkg.docs ships it)"
done

arch=$(dpkg-architecture -qDEB_HOST_ARCH)
changes=${pkg}_${version}_${arch}.changes

# A clean copy: no build products of the working tree, and dpkg-buildpackage
# writes its results next to the source directory, here inside $work.
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "$out/deb-build.XXXXXX")
src=$work/$pkg-$version
mkdir "$src"
if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked and untracked files, less what .gitignore names.
    (cd "$repo" && git ls-files -z --cached --others --exclude-standard |
        tar --null --ignore-failed-read -T - -cf -) 2>/dev/null | tar -xf - -C "$src"
else
    tar -C "$repo" --exclude=./build --exclude=.libs --exclude='*.o' \
        --exclude='*.lo' --exclude='*.slo' --exclude='*.la' --exclude='*.deb' \
        -cf - . | tar -xf - -C "$src"
fi
[ -f "$src/debian/rules" ] || die "copying the source tree to $src failed"

echo "build-deb.sh: building $pkg $version in $src" >&2
(cd "$src" && dpkg-buildpackage -us -uc -b) >&2 ||
    die "dpkg-buildpackage failed; the tree is kept in $work"

# The .changes lists every file the build made: the packages and the
# .buildinfo.
[ -f "$work/$changes" ] || die "dpkg-buildpackage made no $changes (see $work)"
made=$(sed -n '/^Files:/,/^[^ ]/s/^ [0-9a-f]\{32\} [0-9]* [^ ]* [^ ]* \(.*\)$/\1/p' \
       "$work/$changes" | sort)
[ -n "$made" ] || die "$changes lists no files (see $work)"
for f in $made $changes; do
    [ -f "$work/$f" ] || die "$changes names $f, which is missing (see $work)"
done
for f in $made $changes; do
    mv -f "$work/$f" "$out/$f"
    echo "$out/$f"
done
rm -rf "$work"
