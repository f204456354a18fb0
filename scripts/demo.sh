#!/bin/bash
# make demo: runs Debian's apache2 in the foreground on 127.0.0.1:8080 with
# mod_idsession in front of the demo site (demo/: a CGI page, a PHP page and
# a login page).  Ctrl-C stops it.
#
# Environment:
#   IDS_DEMO_PORT  port on 127.0.0.1 (default 8080)
#   IDS_DEMO_ROOT  the generated ServerRoot (default build/demo in the repo)
#   APACHE2        the httpd binary (default /usr/sbin/apache2)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
port=${IDS_DEMO_PORT:-8080}
root=${IDS_DEMO_ROOT:-$repo/build/demo}
apache2=${APACHE2:-/usr/sbin/apache2}
module=$repo/.libs/mod_idsession.so
docroot=$repo/demo

die() { echo "demo.sh: $*" >&2; exit 1; }

[ -x "$apache2" ] || die "$apache2 not found: install apache2 (make demo does)"
[ -x /usr/bin/php-cgi ] || die "/usr/bin/php-cgi not found: install php-cgi (make demo does)"
[ -f "$module" ] || die "$module not built: run make"
case $port in
    ''|*[!0-9]*) die "IDS_DEMO_PORT must be a number, not '$port'" ;;
esac

# Something already answering on the port would take the demo's requests, or
# make apache2 fail with a less helpful bind error.
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "127.0.0.1:$port is already in use; stop whatever listens there" \
        "(ss -ltnp 'sport = :$port' shows it) or pick another port:" \
        "IDS_DEMO_PORT=8081 make demo"
fi

# As root, apache2's children run as www-data, which must be able to read
# the demo pages.  A checkout under /root is not readable to it: serve a
# copy then.
user=$(id -un)
group=$(id -gn)
if [ "$(id -u)" = 0 ]; then
    user=www-data
    group=www-data
    if ! runuser -u "$user" -- test -r "$docroot/index.php" -a -x "$docroot/cgi-bin" \
            2>/dev/null; then
        rm -rf "$root/htdocs"
        mkdir -p "$root"
        cp -R "$docroot" "$root/htdocs"
        chmod -R a+rX "$root/htdocs"
        docroot=$root/htdocs
        echo "demo.sh: $repo/demo is not readable by $user; serving a copy" \
             "from $docroot" >&2
    fi
fi

mkdir -p "$root/conf" "$root/run" "$root/state"
chmod 755 "$root" "$root/run"
# login.php writes here as the children's user.
if [ "$(id -u)" = 0 ]; then chown "$user:$group" "$root/state"; fi
chmod 700 "$root/state"

# The signing secret (demo.conf: IDSessionSecret file:), made once and kept:
# a new one would end every session of an earlier run.  Readable by its
# owner only; httpd reads its configuration before it drops privileges.
secret=$root/conf/idsession.secret
if [ ! -s "$secret" ]; then
    (umask 077; head -c 48 /dev/urandom | base64 -w0 > "$secret")
fi
chmod 600 "$secret"

# sed replacement text: escape \, & and the | delimiter.
quote() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
sed -e "s|@SERVERROOT@|$(quote "$root")|g" \
    -e "s|@DEMO@|$(quote "$docroot")|g" \
    -e "s|@MODULE@|$(quote "$module")|g" \
    -e "s|@STATE@|$(quote "$root/state")|g" \
    -e "s|@SECRET@|$(quote "$secret")|g" \
    -e "s|@PORT@|$port|g" \
    -e "s|@USER@|$user|g" \
    -e "s|@GROUP@|$group|g" \
    "$repo/conf/demo.conf" > "$root/conf/httpd.conf"

"$apache2" -t -f "$root/conf/httpd.conf" -d "$root" >/dev/null 2>&1 || {
    "$apache2" -t -f "$root/conf/httpd.conf" -d "$root" || true
    die "the generated config $root/conf/httpd.conf does not pass apache2 -t"
}
if [ "${1-}" = --check ]; then
    echo "demo.sh: $root/conf/httpd.conf: Syntax OK"
    exit 0
fi

base=http://127.0.0.1:$port
cat <<MSG
mod_idsession demo on $base/ (Ctrl-C stops it)

  $base/                  PHP page: SESSION_TOKEN, SESSION_LOG_ID, SESSION_EXPIRES
                          (idle for 60 s, reload: the session has ended)
  $base/cgi-bin/index.cgi CGI page: the same token
  $base/login.php         login without a redirect (user demo, password demo)
  $base/reset             new token, then back to /
  $base/server-info?mod_idsession.c   the module's directives (mod_info)
  $base/server-status     the module's counters (mod_status; ?auto for lines)
  $base/idsession-metrics the same for Prometheus

  curl -si $base/         # see the Set-Cookie
  curl -si -c jar -b jar $base/cgi-bin/index.cgi

config: $root/conf/httpd.conf; the log follows.

MSG

# exec: the terminal's Ctrl-C reaches apache2 itself, which stops.
exec "$apache2" -DFOREGROUND -f "$root/conf/httpd.conf" -d "$root"
