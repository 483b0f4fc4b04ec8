"""Web access pieces without nginx: [web] config, the generated nginx.conf, cookies, throttle,
certificates, checks."""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from ipynbsrv_tui import cli
from ipynbsrv_tui.config import Config, parse_config, web_notebook_url
from ipynbsrv_tui.domain import ConfigError
from ipynbsrv_tui.web import checks
from ipynbsrv_tui.web.auth_app import notebook_of, safe_next
from ipynbsrv_tui.web.certs import check_pair, make_self_signed
from ipynbsrv_tui.web.nginx_conf import NginxSettings, Route, render
from ipynbsrv_tui.web.sessions import LoginThrottle, SessionStore

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def test_web_section_parses_and_bad_values_name_line_and_key():
    config = parse_config('[web]\nenabled = true\nlisten = "127.0.0.1:8443"\npublic_url = "https://nb.example.org/"\n')
    assert config.web.enabled and config.web.listen == "127.0.0.1:8443"
    assert config.web.public_url == "https://nb.example.org"
    with pytest.raises(ConfigError, match=r"<config>:3: web.listen = 'localhost'.*host:port"):
        parse_config('[web]\nenabled = true\nlisten = "localhost"\n')
    with pytest.raises(ConfigError, match=r"web.public_url.*no path"):
        parse_config('[web]\npublic_url = "https://nb.example.org/hub"\n')
    with pytest.raises(ConfigError, match=r"web.session_hours = 0: expected 1 to 720 hours"):
        parse_config("[web]\nsession_hours = 0\n")


def test_web_url_uses_public_url_or_the_host_and_listen_port():
    config = Config().replace(notebooks={"public_host": "nb.example.org"}, web={"listen": "0.0.0.0:8443"})
    assert web_notebook_url(config, "alice", "one") == "https://nb.example.org:8443/user/alice/one/"
    assert web_notebook_url(config.replace(web={"listen": "443"}), "a", "b") == "https://nb.example.org/user/a/b/"
    assert web_notebook_url(config.replace(web={"public_url": "https://x.org"}), "a", "b") == "https://x.org/user/a/b/"


def settings(tmp_path, worker=None) -> NginxSettings:
    return NginxSettings(
        tmp_path, "127.0.0.1:8443", tmp_path / "c.crt", tmp_path / "c.key", tmp_path / "auth.sock", worker
    )


def test_nginx_conf_routes_each_notebook_with_its_token_and_unbuffered(tmp_path):
    text = render(settings(tmp_path, "www-data"), [Route("alice", "one", "127.0.0.1", 49152, "t0ken")])
    block = text.split("location /user/alice/one/ {", 1)[1].split("}", 1)[0]
    assert "proxy_pass http://127.0.0.1:49152;" in block
    assert 'proxy_set_header Authorization "token t0ken";' in block
    assert 'sub_filter "t0ken" "";' in block and "sub_filter_once off;" in block
    assert "auth_request /_ipynbsrv/auth;" in block
    for directive in (
        "proxy_buffering off;",
        "proxy_request_buffering off;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Cookie $ipynbsrv_upstream_cookie;",
    ):
        assert directive in block
    assert "user www-data;" in text
    assert "client_max_body_size 0;" in text and "limit_req zone=ipynbsrv_login" in text


def test_nginx_conf_counts_connections_per_address_before_tls_and_keeps_the_clients_address(tmp_path):
    conf = settings(tmp_path)
    text = render(NginxSettings(**{**conf.__dict__, "stream_module": "/m/ngx_stream_module.so",
                                   "max_connections": 300, "connections_per_address": 20}), [])
    assert text.startswith("# Generated") and "\nload_module /m/ngx_stream_module.so;\n" in text
    stream = text.split("stream {", 1)[1].split("\nhttp {", 1)[0]
    assert "listen 127.0.0.1:8443;" in stream and "ssl" not in stream
    assert "limit_conn ipynbsrv_tcp 20;" in stream and "limit_conn ipynbsrv_tcp_all 300;" in stream
    assert f"proxy_pass unix:{tmp_path}/front/https.sock;" in stream and "proxy_protocol on;" in stream
    http = text.split("\nhttp {", 1)[1]
    assert f"listen unix:{tmp_path}/front/https.sock ssl proxy_protocol;" in http
    assert "real_ip_header proxy_protocol;" in http and "set_real_ip_from unix:;" in http
    assert "worker_connections 1264;" in text  # four of nginx's per client, and some over
    assert "load_module" not in render(conf, [])


def test_nginx_conf_serves_public_folders_only_when_asked_and_only_sandboxed(tmp_path):
    assert "/public/" not in render(settings(tmp_path), [])
    conf = NginxSettings(**{**settings(tmp_path).__dict__, "public_root": Path("/srv/data/public")})
    block = render(conf, []).split("location ^~ /public/ {", 1)[1]
    assert "alias /srv/data/public/;" in block and "disable_symlinks on from=/srv/data/public;" in block
    assert (
        'add_header Content-Security-Policy "sandbox; ' in block
        and "allow-" not in block.split("location @")[0]
    )
    assert "add_header X-Content-Type-Options nosniff always;" in block
    odd = NginxSettings(**{**settings(tmp_path).__dict__, "public_root": Path("/srv/da ta;/public")})
    assert "/public/" not in render(odd, [])


def test_nginx_conf_leaves_out_routes_that_could_break_out_of_it(tmp_path):
    bad = [Route("alice", "x;}", "127.0.0.1", 1, "t"), Route("bob", "y", "127.0.0.1", 2, 't" ; x'),
           Route("carol", "z", "h;ost", 3, "t")]
    text = render(settings(tmp_path), bad)
    assert "location /user/" in text and "/user/alice/" not in text and "/user/bob/" not in text
    assert "/user/carol/" not in text and "user www-data" not in text


def test_a_session_cookie_is_signed_expires_and_ends():
    store = SessionStore(b"k" * 32, 3600)
    session, cookie = store.create("alice")
    assert store.lookup(cookie).username == "alice"
    sid, expires, signature = cookie.split(".")
    assert store.lookup(f"{sid}.{int(expires) + 999}.{signature}") is None
    assert store.lookup(cookie[:-1] + ("0" if cookie[-1] != "0" else "1")) is None
    assert SessionStore(b"x" * 32, 3600).lookup(cookie) is None
    store.create("alice")
    assert store.end_user("alice") == 2 and store.lookup(cookie) is None
    short = SessionStore(b"k" * 32, -1)
    assert short.lookup(short.create("bob")[1]) is None
    assert store.check_csrf("login", "abc", store.csrf_token("login", "abc"))
    assert not store.check_csrf("login", "abd", store.csrf_token("login", "abc"))
    assert not store.check_csrf("logout", "abc", store.csrf_token("login", "abc"))


def test_the_throttle_blocks_an_address_for_an_account_never_the_account_itself():
    throttle = LoginThrottle(pair_limit=3, window=0.3, address_limit=5, address_window=0.3, account_limit=8,
                             account_window=0.5)
    for _ in range(3):
        assert throttle.blocked("a", "1") == 0
        throttle.failed("a", "1")
    assert throttle.blocked("a", "1") > 0
    assert throttle.blocked("a", "2") == 0 and throttle.blocked("b", "1") == 0  # others unaffected
    throttle.failed("b", "1")
    throttle.failed("", "1")  # a name no account can have counts against the address
    assert throttle.blocked("c", "1") > 0  # the address's own limit: 5 failures whatever the names
    time.sleep(0.35)
    assert throttle.blocked("a", "1") == 0
    # The slower global cap: many addresses together block new addresses, not one that logged in before.
    throttle.succeeded("a", "home")
    for n in range(8):
        throttle.failed("a", f"10.0.0.{n}")
    assert throttle.blocked("a", "10.0.1.1") > 0
    assert throttle.blocked("a", "home") == 0


def test_next_addresses_stay_on_this_site_and_notebook_paths_parse():
    assert safe_next("/user/a/b/tree") == "/user/a/b/tree"
    for bad in ("//evil.example/", "https://evil.example/", "/\\evil", "", None, "/a\nb"):
        assert safe_next(bad) == "/"
    assert notebook_of("/user/alice/one/api/status?x=1") == ("alice", "one")
    assert notebook_of("/user/alice/one") == ("alice", "one")
    assert notebook_of("/user/alice/") is None and notebook_of("/other") is None


@needs_openssl
def test_self_signed_pair_matches_and_a_foreign_key_is_named(tmp_path):
    cert, key = make_self_signed(tmp_path / "a", "nb.example.org")
    check_pair(cert, key)
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert make_self_signed(tmp_path / "a", "nb.example.org") == (cert, key)  # kept
    _, other_key = make_self_signed(tmp_path / "b", "nb.example.org")
    with pytest.raises(ConfigError, match="does not belong to web.tls_cert"):
        check_pair(cert, other_key)
    with pytest.raises(ConfigError, match="cannot read"):
        check_pair(tmp_path / "missing.crt", key)
    (tmp_path / "junk.crt").write_text("not pem")
    with pytest.raises(ConfigError, match="not a PEM certificate"):
        check_pair(tmp_path / "junk.crt", key)


def web_config(tmp_path, port: int, **web) -> Config:
    return Config().replace(broker={"socket": str(tmp_path / "b.sock")},
                            web={"enabled": True, "listen": f"127.0.0.1:{port}", **web})


@needs_openssl
def test_check_web_reports_missing_nginx_busy_port_and_a_wrong_key(tmp_path, monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        cert, _ = make_self_signed(tmp_path / "a", "h")
        _, key = make_self_signed(tmp_path / "b", "h")
        monkeypatch.setattr(checks, "find_nginx", lambda: None)
        problems = checks.check_web(web_config(tmp_path, port, tls_cert=str(cert), tls_key=str(key)))
    messages = " | ".join(f"{level}: {text}" for level, text in problems)
    assert "error: [web] enabled but nginx is not installed" in messages
    monkeypatch.setattr(checks, "find_nginx", lambda: "/usr/sbin/nginx")
    monkeypatch.setattr(checks, "find_stream_module", lambda binary: None)
    problems = checks.check_web(web_config(tmp_path, port))
    assert any(level == "error" and "apt-get install libnginx-mod-stream" in text for level, text in problems)
    assert f"error: [web] listen 127.0.0.1:{port} is in use" in messages
    assert "error: web.tls_key" in messages and "does not belong" in messages


def test_check_web_warns_about_a_self_signed_certificate_and_is_quiet_when_off(tmp_path, monkeypatch):
    monkeypatch.setattr(checks, "find_nginx", lambda: "/usr/sbin/nginx")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    problems = checks.check_web(web_config(tmp_path, port))
    assert [level for level, _ in problems] == ["warning"] and "self-signed" in problems[0][1]
    assert checks.check_web(Config()) == []


def test_check_config_exits_2_with_one_line_per_web_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(checks, "find_nginx", lambda: None)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[broker]\nsocket = "{tmp_path / "b.sock"}"\n[web]\nenabled = true\nlisten = "127.0.0.1:1"\n'
    )
    assert cli.main(["--config", str(path), "check-config"]) == 2
    captured = capsys.readouterr()
    assert "[web]\nenabled = true" in captured.out
    assert "ipynbsrv-tui: error: [web] enabled but nginx is not installed" in captured.err
    assert "Traceback" not in captured.err


def test_a_change_or_a_websocket_must_come_from_the_gateways_own_origin():
    from ipynbsrv_tui.web.trust import cross_origin

    host = "nb.example.org"
    assert cross_origin("GET", "", "https://evil.example", None, None, host) is None  # reading is not refused
    assert cross_origin("POST", "", "https://nb.example.org", None, None, host) is None
    assert cross_origin("POST", "", "https://nb.example.org:443", None, None, host) is None
    for method, upgrade, origin, site, referer in (
        ("POST", "", "https://evil.nb.example.org", None, None),
        ("PUT", "", "http://nb.example.org", None, None),
        ("DELETE", "", "null", None, None),
        ("GET", "websocket", "https://sibling.example.org", None, None),
        ("POST", "", None, "same-site", None),
        ("PATCH", "", None, None, "https://sibling.example.org/x"),
        ("POST", "", "https://nb.example.org:8443", None, None),
    ):
        assert cross_origin(method, upgrade, origin, site, referer, host), (method, origin, site, referer)
    assert cross_origin("POST", "", None, None, None, host) is None  # not a browser: nothing to forge


def test_jupyters_xsrf_token_is_compared_by_its_secret_and_cookies_are_found_as_nginx_finds_them():
    from ipynbsrv_tui.web.trust import cookie_value, cookie_values, xsrf_ok

    token = "2|1a2b3c4d|5e6f708192a3b4c5d6e7f8091a2b3c4d|1700000000"
    secret = bytes(
        b ^ m
        for b, m in zip(
            bytes.fromhex("5e6f708192a3b4c5d6e7f8091a2b3c4d"), bytes.fromhex("1a2b3c4d") * 4, strict=True
        )
    )
    remasked = "2|00000000|" + secret.hex() + "|1"
    assert xsrf_ok([f"_xsrf={token}"], remasked, "/x") and xsrf_ok(
        [f"a=1; _xsrf={token}"], None, f"/x?_xsrf={token}"
    )
    assert not xsrf_ok([f"_xsrf={token}"], None, "/x") and not xsrf_ok([], token, "/x")
    assert not xsrf_ok([f"_xsrf={token}"], token.replace("5e6f", "5e60"), "/x")
    assert (
        cookie_values(["a=1; s=x", "s=y"], "s") == ["x", "y"]
        and cookie_value(["a=1; s=x", "s=y"], "s") is None
    )
    assert cookie_value(["xs=1; s=2"], "s") == "2" and cookie_value(["a=1"], "s") is None


def test_check_web_does_not_take_a_stale_pid_file_for_our_nginx(tmp_path, monkeypatch):
    """A pid file left by an earlier broker whose pid now belongs to another program (here: this test)
    made check-config pass with the port held by something else."""
    monkeypatch.setattr(checks, "find_nginx", lambda: "/usr/sbin/nginx")
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        config = web_config(tmp_path, port)
        pid_file = checks.runtime_folder(config) / "nginx.pid"
        pid_file.parent.mkdir(parents=True)
        pid_file.write_text(f"{os.getpid()}\n")
        problems = checks.check_web(config)
    assert (
        "error",
        f"[web] listen 127.0.0.1:{port} is in use by another program. Stop it or choose another port "
        '(e.g. listen = "0.0.0.0:8443").',
    ) in problems
