#!/bin/sh
# Installs the Debian packages a make target needs, when they are missing.
# As root it runs apt-get; otherwise it prints the command to run.
set -e

group=${1:?usage: deps.sh build|demo|test|fuzz|bench|valgrind|deb|html}

build="apache2 apache2-dev libssl-dev libhiredis-dev gcc make"
demo="$build php-cgi curl"
test="$build curl python3-pytest php-cgi libapache2-mod-php php8.2-fpm
      clang libclang-rt-14-dev openssl ssl-cert wrk apache2-utils
      debhelper dpkg-dev fakeroot pandoc lintian chromium chromium-driver python3-selenium
      nghttp2-client libtsan2 prometheus redis-server libapache2-mod-wsgi-py3"
fuzz="clang libclang-rt-14-dev"
bench="$build valgrind apache2-utils wrk curl nghttp2-client openssl redis-server"
valgrind="valgrind"
deb="debhelper dpkg-dev fakeroot pandoc python3 lintian $build"
html="pandoc python3"

eval "want=\$$group"
missing=
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages; run:" >&2
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps the packages' services from starting on port 80.
policy=/usr/sbin/policy-rc.d
if [ ! -e $policy ]; then
    # Gone however the script ends (Ctrl-C in apt-get included): left behind,
    # it would keep every service on the machine from starting.
    trap 'rm -f $policy' EXIT
    trap 'exit 130' INT TERM
    printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy
fi
apt-get install -y -qq --no-install-recommends $missing >&2 || rc=$?
exit ${rc:-0}
