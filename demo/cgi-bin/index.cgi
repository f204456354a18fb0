#!/bin/sh
# The CGI side of the demo: mod_idsession hands the session token to every
# CGI program in its environment.
set -u

html() {
    printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'
}

token=${SESSION_TOKEN-}
new=${SESSION_TOKEN_NEW-}
log_id=${SESSION_LOG_ID-}
expires=${SESSION_EXPIRES-}
expired=${SESSION_EXPIRED-}
if [ -z "$token" ]; then
    token='(unset: is IDSession On here?)'
fi
if [ "$new" = 1 ]; then
    origin='minted by this request: the response carries a Set-Cookie with it'
else
    origin='read from your cookie: no Set-Cookie this time'
fi

printf 'Content-Type: text/html; charset=utf-8\n\n'
cat <<HTML
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>mod_idsession demo: CGI</title></head>
<body>
<h1>mod_idsession demo: a CGI script</h1>
<p>This page is <code>demo/cgi-bin/index.cgi</code>, a shell script.</p>
<table>
<tr><th align="left">SESSION_TOKEN</th><td><code>$(html "$token")</code></td></tr>
<tr><th align="left">SESSION_LOG_ID</th><td><code>$(html "$log_id")</code></td></tr>
<tr><th align="left">SESSION_EXPIRES</th><td><code>$(html "$expires")</code></td></tr>
<tr><th align="left">where it came from</th><td>$(html "$origin")</td></tr>
</table>
$(if [ -n "$expired" ]; then
    printf '<p><strong>Your previous session ended (%s)</strong>: this is a new one.</p>' \
        "$(html "$expired")"
fi)
<p>Reload: the token stays the same.
<a href="/reset?next=/cgi-bin/index.cgi">Reset the session</a>: the token changes.</p>
<form method="post" action="/reset?next=/cgi-bin/index.cgi">
<button type="submit">Reset with POST</button>
</form>
<p><a href="/">The PHP page</a> &middot; <a href="/login.php">Log in without a redirect</a></p>
</body>
</html>
HTML
