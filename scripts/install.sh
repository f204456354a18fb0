#!/bin/sh
# make install / make uninstall.
#
#   scripts/install.sh install     the module into apxs's LIBEXECDIR, the
#                                  header into its INCLUDEDIR, and on Debian
#                                  idsession.load + idsession.conf into
#                                  /etc/apache2/mods-available (for a2enmod)
#   scripts/install.sh uninstall   the reverse (a2dismod first if enabled)
#
# idsession.conf and idsession.load are the administrator's files once
# installed, as a package's conffiles are for dpkg.  Beside the files it
# installs, install.sh keeps the SHA-256 of what it wrote there, in
# /var/lib/mod_idsession/conffiles.  On the next install a file that still
# has that checksum is replaced; a changed one is kept as it is, and the new
# version goes beside it as idsession.conf.dist (or .load.dist) with a
# message, like dpkg's .dpkg-dist.  Without a record (an install by an older
# install.sh), a file that differs from the new version counts as changed.
# uninstall removes an unchanged file and keeps a changed one, with a
# message, like `dpkg --remove` (not --purge); it removes any .dist.
#
# Environment: DESTDIR (staged install, e.g. for packaging), APXS
# (default /usr/bin/apxs), MODS_AVAILABLE (default: /etc/apache2/mods-available
# when that directory exists, else none).  The module is never added to
# httpd.conf: on Debian `a2enmod idsession` enables it; elsewhere add the
# LoadModule line that this script prints.
set -eu

action=${1:?usage: install.sh install|uninstall}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

APXS=${APXS:-/usr/bin/apxs}
DESTDIR=${DESTDIR:-}
[ -x "$APXS" ] || { echo "install.sh: $APXS not found (apache2-dev)" >&2; exit 1; }

libexecdir=$("$APXS" -q LIBEXECDIR)
includedir=$("$APXS" -q INCLUDEDIR)
if [ -z "${MODS_AVAILABLE+set}" ]; then
    if [ -d /etc/apache2/mods-available ]; then
        MODS_AVAILABLE=/etc/apache2/mods-available
    else
        MODS_AVAILABLE=
    fi
fi

so=$libexecdir/mod_idsession.so
hdr=$includedir/mod_idsession.h
load=${MODS_AVAILABLE:+$MODS_AVAILABLE/idsession.load}
conf=${MODS_AVAILABLE:+$MODS_AVAILABLE/idsession.conf}
record=/var/lib/mod_idsession/conffiles

# Files of the installed .deb belong to dpkg; don't fight it.
owned_by_package() {
    [ -z "$DESTDIR" ] && command -v dpkg >/dev/null 2>&1 &&
        dpkg -S "$so" >/dev/null 2>&1
}
if owned_by_package; then
    echo "install.sh: $so belongs to a Debian package" \
         "($(dpkg -S "$so" | cut -d: -f1)); use apt to change it" >&2
    exit 1
fi

# This version's .load names the module where it is installed (DESTDIR aside).
if [ -n "$MODS_AVAILABLE" ]; then
    new_load=$(mktemp)
    trap 'rm -f "$new_load"' EXIT
    sed "s|/usr/lib/apache2/modules/mod_idsession.so|$so|" conf/idsession.load > "$new_load"
fi

sha256() { sha256sum < "$1" | cut -d' ' -f1; }

# The checksum recorded for a conffile ($1, without DESTDIR), if any.
recorded() {
    [ -f "$DESTDIR$record" ] && awk -v f="$1" 'substr($0, 66) == f { print $1 }' "$DESTDIR$record"
    return 0
}

# Record $2 as the checksum of $1, or forget $1 when $2 is empty.
record() {
    mkdir -p "$DESTDIR${record%/*}"
    { [ -f "$DESTDIR$record" ] && awk -v f="$1" 'substr($0, 66) != f' "$DESTDIR$record"
      [ -z "$2" ] || echo "$2 $1"; } > "$DESTDIR$record.tmp"
    if [ -s "$DESTDIR$record.tmp" ]; then
        mv "$DESTDIR$record.tmp" "$DESTDIR$record"
    else
        rm -f "$DESTDIR$record.tmp" "$DESTDIR$record"
        rmdir "$DESTDIR${record%/*}" 2>/dev/null || true
    fi
}

# Whether the installed conffile $1 is still what install.sh wrote there.
unchanged() {
    [ "$(sha256 "$DESTDIR$1")" = "$(recorded "$1")" ]
}

# Install the new version $2 (a file) of conffile $1, sparing local changes.
install_conffile() {
    if [ -f "$DESTDIR$1" ] && ! cmp -s "$2" "$DESTDIR$1" && ! unchanged "$1"; then
        install -m 644 "$2" "$DESTDIR$1.dist"
        echo "install.sh: $DESTDIR$1 has been changed since it was installed;" \
             "kept it as it is, and installed the new version beside it as" \
             "$DESTDIR$1.dist.  Compare them with: diff -u $DESTDIR$1 $DESTDIR$1.dist" >&2
        return
    fi
    install -m 644 "$2" "$DESTDIR$1"
    rm -f "$DESTDIR$1.dist"
    record "$1" "$(sha256 "$2")"
    echo "installed $DESTDIR$1"
}

# Remove conffile $1 unless it has local changes.
remove_conffile() {
    if [ -e "$DESTDIR$1.dist" ]; then
        rm -f "$DESTDIR$1.dist"
        echo "removed $DESTDIR$1.dist"
    fi
    [ -e "$DESTDIR$1" ] || { record "$1" ""; return; }
    if unchanged "$1" || cmp -s "$2" "$DESTDIR$1"; then
        rm -f "$DESTDIR$1"
        record "$1" ""
        echo "removed $DESTDIR$1"
    else
        echo "install.sh: kept $DESTDIR$1: it has been changed since it was" \
             "installed.  Remove it yourself when you no longer need it." >&2
    fi
}

case $action in
install)
    [ -f .libs/mod_idsession.so ] || { echo "install.sh: run make first" >&2; exit 1; }
    mkdir -p "$DESTDIR$libexecdir" "$DESTDIR$includedir"
    # -S: apxs itself knows no DESTDIR.  Passing the .la lets libtool and
    # apxs's instdso.sh install the real shared object as mod_idsession.so.
    "$APXS" -S LIBEXECDIR="$DESTDIR$libexecdir" -i -n idsession mod_idsession.la
    install -m 644 mod_idsession.h "$DESTDIR$hdr"
    echo "installed $DESTDIR$so and $DESTDIR$hdr"
    if [ -n "$MODS_AVAILABLE" ]; then
        mkdir -p "$DESTDIR$MODS_AVAILABLE"
        install_conffile "$load" "$new_load"
        install_conffile "$conf" conf/idsession.conf
        if [ -z "$DESTDIR" ]; then
            echo "enable it with: a2enmod idsession && apache2ctl configtest" \
                 "&& systemctl restart apache2"
        fi
    else
        echo "load it with: LoadModule idsession_module $so"
    fi
    ;;
uninstall)
    if [ -z "$DESTDIR" ] && [ -n "$MODS_AVAILABLE" ] && command -v a2query >/dev/null 2>&1 &&
            a2query -q -m idsession 2>/dev/null; then
        # --purge: forget it in a2enmod's state too, as the files go.
        a2dismod -q --purge idsession
    fi
    for f in "$so" "$hdr"; do
        if [ -e "$DESTDIR$f" ]; then
            rm -f "$DESTDIR$f"
            echo "removed $DESTDIR$f"
        fi
    done
    if [ -n "$MODS_AVAILABLE" ]; then
        remove_conffile "$load" "$new_load"
        remove_conffile "$conf" conf/idsession.conf
    fi
    ;;
*)
    echo "usage: install.sh install|uninstall" >&2
    exit 2
    ;;
esac
