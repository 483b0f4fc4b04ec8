"""host_debian_mirror on temp apt folders in both formats (deb822 and one-line)."""

from __future__ import annotations

from ipynbsrv_tui.engine import host_debian_mirror

DEB822 = """\
Types: deb
# http://snapshot.invalid/archive/debian/20250520T000000Z
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main
"""


def write(root, name, text):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_deb822_sources(tmp_path):
    write(tmp_path, "sources.list.d/debian.sources", DEB822)
    assert host_debian_mirror(tmp_path) == "http://mirror.invalid/debian"


def test_deb822_prefers_the_main_suite_over_security(tmp_path):
    security_first = DEB822.split("\n\n")[1] + "\n" + DEB822.split("\n\n")[0]
    write(tmp_path, "sources.list.d/debian.sources", security_first)
    assert host_debian_mirror(tmp_path) == "http://mirror.invalid/debian"


def test_deb822_skips_disabled_stanzas_source_only_stanzas_and_continuation_lines(tmp_path):
    write(
        tmp_path,
        "sources.list.d/a.sources",
        "Types: deb\nURIs: http://disabled.invalid/debian\nSuites: bookworm\nEnabled: no\n\n"
        "Types: deb-src\nURIs: http://sources.invalid/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs:\n http://second.invalid/debian/\nSuites: bookworm\n",
    )
    assert host_debian_mirror(tmp_path) == "http://second.invalid/debian"


def test_one_line_format(tmp_path):
    write(
        tmp_path,
        "sources.list",
        "# deb http://commented.invalid/debian bookworm main\n"
        "deb-src http://sources.invalid/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
        "http://security.invalid/debian-security bookworm-security main\n"
        "deb http://mirror.invalid/debian bookworm main contrib\n",
    )
    assert host_debian_mirror(tmp_path) == "http://mirror.invalid/debian"


def test_sources_list_is_read_before_sources_list_d(tmp_path):
    write(tmp_path, "sources.list", "deb http://first.invalid/debian bookworm main\n")
    write(tmp_path, "sources.list.d/debian.sources", DEB822)
    assert host_debian_mirror(tmp_path) == "http://first.invalid/debian"


def test_only_security_entries_still_give_a_uri(tmp_path):
    write(
        tmp_path,
        "sources.list.d/x.list",
        "deb http://security.invalid/debian-security bookworm-security main\n",
    )
    assert host_debian_mirror(tmp_path) == "http://security.invalid/debian-security"


def test_no_sources_gives_empty(tmp_path):
    write(tmp_path, "sources.list", "# nothing here\n")
    write(tmp_path, "sources.list.d/cdrom.list", "deb cdrom:[Debian 12]/ bookworm main\n")
    assert host_debian_mirror(tmp_path) == ""
