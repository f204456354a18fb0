#!/bin/sh
# make install / make uninstall.
#
#   scripts/install.sh install     the module into apxs's LIBEXECDIR, the
#                                  header into its INCLUDEDIR, and on Debian
#                                  idsession.load + idsession.conf into
#                                  /etc/apache2/mods-available (for a2enmod)
#   scripts/install.sh uninstall   the reverse (a2dismod first if enabled)
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
        # The .load names the module where it was installed (DESTDIR aside).
        sed "s|/usr/lib/apache2/modules/mod_idsession.so|$so|" conf/idsession.load \
            > "$DESTDIR$load.tmp"
        chmod 644 "$DESTDIR$load.tmp"
        mv "$DESTDIR$load.tmp" "$DESTDIR$load"
        install -m 644 conf/idsession.conf "$DESTDIR$conf"
        echo "installed $DESTDIR$load and $DESTDIR$conf"
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
    for f in "$so" "$hdr" ${load:+"$load"} ${conf:+"$conf"}; do
        if [ -e "$DESTDIR$f" ]; then
            rm -f "$DESTDIR$f"
            echo "removed $DESTDIR$f"
        fi
    done
    ;;
*)
    echo "usage: install.sh install|uninstall" >&2
    exit 2
    ;;
esac
