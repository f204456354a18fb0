<?php
// The PHP side of the demo: mod_idsession hands the session token to PHP in
// $_SERVER, under php-cgi, mod_php and PHP-FPM alike.

function env(string $name): string
{
    $v = $_SERVER[$name] ?? getenv($name);
    return is_string($v) ? $v : '';
}

function h(string $s): string
{
    return htmlspecialchars($s, ENT_QUOTES | ENT_HTML5, 'UTF-8');
}

// Who is logged in: login.php stores the user under the session's store key
// (SESSION_STORE_KEY, the whole SHA-256 of the token).  SESSION_LOG_ID is for
// logs only: it never keys anything that grants access.
function logged_in_user(string $key): string
{
    $state = env('IDS_DEMO_STATE');
    if ($state === '' || !preg_match('/^[0-9a-f]{64}$/', $key)) {
        return '';
    }
    $user = @file_get_contents($state . '/session-' . $key);
    return $user === false ? '' : trim($user);
}

$token  = env('SESSION_TOKEN');
$new    = env('SESSION_TOKEN_NEW') === '1';
$log_id = env('SESSION_LOG_ID');
$user   = logged_in_user(env('SESSION_STORE_KEY'));
// With IDSessionIdleTimeout: when the session ends unless renewed, and why
// the previous one ended, if the browser brought one that had.
$expires = env('SESSION_EXPIRES');
$expired = env('SESSION_EXPIRED');
?>
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>mod_idsession demo: PHP</title></head>
<body>
<h1>mod_idsession demo: a PHP page</h1>
<p>This page is <code>demo/index.php</code>, run by php-cgi.</p>
<table>
<tr><th align="left">SESSION_TOKEN</th>
    <td><code><?= h($token !== '' ? $token : '(unset: is IDSession On here?)') ?></code></td></tr>
<tr><th align="left">SESSION_LOG_ID</th><td><code><?= h($log_id) ?></code></td></tr>
<tr><th align="left">SESSION_EXPIRES</th>
    <td><code><?= h($expires) ?></code><?= $expires !== ''
        ? ' (' . h(gmdate('H:i:s', (int)$expires)) . ' UTC, in '
          . h((string)((int)$expires - time())) . ' s unless you come back)' : '' ?></td></tr>
<tr><th align="left">where it came from</th>
    <td><?= $new ? 'minted by this request: the response carries a Set-Cookie with it'
                 : 'read from your cookie: no Set-Cookie this time' ?></td></tr>
<tr><th align="left">logged in as</th>
    <td><?= $user !== '' ? h($user) : '(nobody: <a href="/login.php">log in</a>)' ?></td></tr>
</table>
<?php if ($expired !== ''): ?>
<p><strong>Your previous session ended (<?= h($expired) ?>)</strong>: this is
a new one.</p>
<?php endif; ?>
<p>Reload: the token stays the same, and every 15 s of activity the stamp in
the cookie is renewed.  Leave the page alone for a minute, reload, and the
session has ended.
<a href="/reset">Reset the session</a>: the token changes, and a login bound
to the old token is gone.</p>
<form method="post" action="/reset?next=/">
<button type="submit">Reset with POST</button>
</form>
<p><a href="/cgi-bin/index.cgi">The CGI page</a> &middot;
<a href="/login.php">Log in without a redirect</a> &middot;
<a href="/server-info?mod_idsession.c">The module in mod_info</a></p>
</body>
</html>
