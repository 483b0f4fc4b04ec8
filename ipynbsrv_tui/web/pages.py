"""The few HTML pages the broker serves to browsers: login, home, not found, not running."""

from __future__ import annotations

from html import escape

_STYLE = """body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#222;margin:0}
main{max-width:26rem;margin:12vh auto;background:#fff;padding:2rem;border-radius:8px;
box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;margin-top:0}label{display:block;margin:.8rem 0 .2rem}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
button{margin-top:1.2rem;padding:.5rem 1.2rem;font-size:1rem}.error{color:#b00020}
li{margin:.4rem 0}.muted{color:#666}"""


def page(title: str, body: str) -> bytes:
    """A whole page; `body` is already escaped HTML."""
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    ).encode()


def login_page(csrf: str, next_url: str, error: str = "", username: str = "") -> bytes:
    message = f'<p class="error" id="error">{escape(error)}</p>' if error else ""
    return page(
        "Log in · ipynbsrv",
        f"""<h1>ipynbsrv notebooks</h1>{message}
<form method="post" action="/_ipynbsrv/login">
<input type="hidden" name="csrf" value="{escape(csrf)}">
<input type="hidden" name="next" value="{escape(next_url)}">
<label for="username">User name</label>
<input type="text" id="username" name="username" value="{escape(username)}" autocomplete="username"
 autofocus required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" id="login">Log in</button>
</form><p class="muted">Your directory password: the one you use for ssh on this host.</p>""",
    )


def home_page(username: str, notebooks: list[tuple[str, str, str]], logout_csrf: str) -> bytes:
    if notebooks:
        items = "".join(
            f'<li><a href="/user/{escape(owner)}/{escape(name)}/">{escape(owner)}/{escape(name)}</a>'
            f' <span class="muted">{escape(state)}</span></li>'
            for owner, name, state in notebooks
        )
        listing = f"<ul>{items}</ul>"
    else:
        listing = "<p>You have no notebooks yet. Create one with <code>ipynbsrv-tui</code> over ssh.</p>"
    return page("Notebooks · ipynbsrv", f"""<h1>Notebooks of {escape(username)}</h1>{listing}
{logout_form(logout_csrf)}""")


def logout_form(csrf: str) -> str:
    return (
        '<form method="post" action="/_ipynbsrv/logout"><input type="hidden" name="csrf" '
        f'value="{escape(csrf)}"><button type="submit" id="logout">Log out</button></form>'
    )


NOT_FOUND = page("Not found · ipynbsrv", "<h1>404: Not found</h1><p>There is no notebook at this address.</p>"
                 '<p><a href="/">Your notebooks</a></p>')


def not_running_page(owner: str, name: str) -> bytes:
    """A stopped notebook: starting it again begins with a new kernel."""
    return page("Not running · ipynbsrv", f"""<h1>{escape(owner)}/{escape(name)} is not running</h1>
<p>It was stopped: its files are kept, its kernels were not. Start it in <code>ipynbsrv-tui</code>
(My notebooks, key <kbd>s</kbd>), then reload this page.</p><p><a href="/">Your notebooks</a></p>""")


def paused_page(owner: str, name: str, own: bool) -> bytes:
    """A suspended notebook that was not resumed by this request (someone else's, or the resume failed)."""
    if own:
        advice = (
            "It could not be resumed just now. Reload this page to try again, or resume it in "
            "<code>ipynbsrv-tui</code> (My notebooks, key <kbd>u</kbd>). Do not stop it: that loses its "
            "kernels."
        )
    else:
        advice = ("Its owner's next login or visit resumes it; an admin can resume it in "
                  "<code>ipynbsrv-tui</code> (key <kbd>u</kbd>).")
    return page("Paused · ipynbsrv", f"""<h1>{escape(owner)}/{escape(name)} is paused</h1>
<p>It was suspended while idle, with its kernels and their variables kept. {advice}</p>
<p><a href="/">Your notebooks</a></p>""")


RESUMING = page("Resuming · ipynbsrv", "<h1>Your notebook is resuming</h1>"
                "<p>It was suspended while idle; its kernels are as you left them. "
                "This page reloads by itself in a moment.</p>").replace(
    b"<head>", b'<head><meta http-equiv="refresh" content="1">', 1)


STARTING = page("Starting · ipynbsrv", "<h1>Your notebook is starting</h1>"
                "<p>This page reloads by itself in a moment.</p>").replace(
    b"<head>", b'<head><meta http-equiv="refresh" content="2">', 1)
