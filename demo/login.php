<?php
// Login without a redirect (IDSessionAppReset On).
//
// The request carries two tokens: SESSION_TOKEN, the one the browser sent,
// and SESSION_TOKEN_NEXT, a fresh one.  On a good login this page
//   1. checks the credentials,
//   2. stores user <-> SESSION_TOKEN_NEXT,
//   3. sends `IDSession-Reset: 1`,
// and mod_idsession then removes that header and sets the cookie to
// SESSION_TOKEN_NEXT in this very response.  A token that an attacker
// planted in the browser before the login is never the one bound to the
// user, so session fixation gets the attacker nothing.

const DEMO_USER = 'demo';
const DEMO_PASS = 'demo';

function env(string $name): string
{
    $v = $_SERVER[$name] ?? getenv($name);
    return is_string($v) ? $v : '';
}

function h(string $s): string
{
    return htmlspecialchars($s, ENT_QUOTES | ENT_HTML5, 'UTF-8');
}

// SESSION_STORE_KEY of a token, as mod_idsession computes it: the 64 hex
// digits of SHA-256 over the whole token.  The store is keyed by it, so the
// file never holds a usable token.  Never key anything by SESSION_LOG_ID
// (its first 16 digits): that is short enough to forge a match for.
function store_key_of(string $token): string
{
    return hash('sha256', $token);
}

function store(string $token, string $user): bool
{
    $state = env('IDS_DEMO_STATE');
    if ($state === '') {
        return false;
    }
    return file_put_contents($state . '/session-' . store_key_of($token), $user . "\n",
                             LOCK_EX) !== false;
}

$token = env('SESSION_TOKEN');
$next  = env('SESSION_TOKEN_NEXT');
$error = '';
$done  = false;

if (($_SERVER['REQUEST_METHOD'] ?? '') === 'POST') {
    $user = (string)($_POST['user'] ?? '');
    $pass = (string)($_POST['pass'] ?? '');
    $ok = hash_equals(DEMO_USER, $user) && hash_equals(DEMO_PASS, $pass);
    if (!$ok) {
        http_response_code(403);
        $error = 'Wrong user name or password.';
    } elseif ($next === '') {
        http_response_code(500);
        $error = 'SESSION_TOKEN_NEXT is not set: IDSessionAppReset is not On here.';
    } elseif (!store($next, $user)) {
        http_response_code(500);
        $error = 'Could not write the session store (IDS_DEMO_STATE).';
    } else {
        header('IDSession-Reset: 1');
        $done = true;
    }
}
?>
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>mod_idsession demo: login</title></head>
<body>
<h1>mod_idsession demo: login without a redirect</h1>
<?php if ($done): ?>
<p><strong>Logged in as <?= h(DEMO_USER) ?>.</strong></p>
<table>
<tr><th align="left">token you came with</th><td><code><?= h($token) ?></code> (now dead)</td></tr>
<tr><th align="left">your session from now on</th><td><code><?= h($next) ?></code></td></tr>
<tr><th align="left">its SESSION_LOG_ID</th><td><code><?= h(substr(store_key_of($next), 0, 16)) ?></code></td></tr>
</table>
<p>This response sent <code>IDSession-Reset: 1</code>; mod_idsession removed
that header and put the new token into the response's Set-Cookie.  The user
was stored against the new token only.</p>
<p><a href="/">See it on the PHP page</a> &middot;
<a href="/reset">Log out (reset the session)</a></p>
<?php else: ?>
<?php if ($error !== ''): ?>
<p><strong><?= h($error) ?></strong></p>
<?php endif; ?>
<p>Your session token now: <code><?= h($token) ?></code></p>
<form method="post" action="/login.php">
<p><label>User <input name="user" value="<?= h(DEMO_USER) ?>"></label>
<label>Password <input name="pass" type="password"></label>
<button type="submit">Log in</button></p>
</form>
<p>The demo account is user <code><?= h(DEMO_USER) ?></code>,
password <code><?= h(DEMO_PASS) ?></code>.</p>
<p><a href="/">The PHP page</a></p>
<?php endif; ?>
</body>
</html>
