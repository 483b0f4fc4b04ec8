"""Web access (DESIGN §16): nginx run by the broker in front of the notebooks, and the web login.

- `certs`: the TLS pair (checked, or a self-signed one made with the `openssl` command).
- `nginx_conf`: the generated nginx configuration for a set of routes.
- `supervisor`: nginx as the broker's child: start, reload, restart when it dies, stop.
- `sessions`: signed session cookies, CSRF tokens and the login throttle.
- `auth_app`: the login page and nginx's `auth_request` endpoint, on a Unix socket.
- `gateway`: ties them together for the broker and keeps the routes in step with the notebooks.
- `checks`: what `check-config` verifies about [web].
"""
