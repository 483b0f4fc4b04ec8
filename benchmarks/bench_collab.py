"""Collaboration figures (issue 13), printed as `figure, measured, budget` lines.

- 1,000 collaboration groups and 1,000 shares in the Groups and Shares sections: the service's
  list call, first paint (rows received → frame rendered) and one filter keystroke → frame;
- the header's unread badge: how often the database is read while the badge is polled by many
  sessions at once (the budget: at most once a second, whatever the number of pollers).

A seeded temp store with the local directory; the engine is deliberately unreachable (these
sections never call it). The admin sees every group and share, as in the admin view.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textual import events  # noqa: E402

from benchmarks.bench_tui import bench_config, first_paint_after, ms, report, until, watch_paints  # noqa: E402
from ipynbsrv_tui.domain import Actor  # noqa: E402

SIZE = (160, 48)
COUNT = 1_000
USERS = 200
POLLERS = 20
POLL_SECONDS = 3.0


def seed(config) -> None:
    """USERS users, COUNT groups (5 members each) and COUNT shares (each granted to one group)."""
    from ipynbsrv_tui.store.db import open_database
    from ipynbsrv_tui.store.models import (
        CollaborationAdmin,
        CollaborationGroup,
        Group,
        GroupMember,
        Share,
        ShareGrant,
        User,
        database_proxy,
    )

    open_database(config.database.resolved_path)
    with database_proxy.atomic():
        User.insert_many(
            [{"username": f"user{i:03d}", "uid": 3000 + i, "gid": 3000} for i in range(USERS)]
        ).execute()
        users = [u for (u,) in User.select(User.id).order_by(User.id).tuples()]
        Group.insert_many(
            [{"name": f"group{i:04d}", "gid": 10000 + i, "kind": "collaboration"} for i in range(COUNT)]
        ).execute()
        Group.insert_many(
            [{"name": f"share-s{i:04d}", "gid": 20000 + i, "kind": "share"} for i in range(COUNT)]
        ).execute()
        groups = dict(Group.select(Group.name, Group.id).tuples())
        CollaborationGroup.insert_many(
            [{"group": groups[f"group{i:04d}"], "creator": users[i % USERS], "is_public": i % 3 == 0}
             for i in range(COUNT)]).execute()
        cgroups = dict(CollaborationGroup.select(CollaborationGroup.group, CollaborationGroup.id).tuples())
        CollaborationAdmin.insert_many(
            [{"cgroup": cgroups[groups[f"group{i:04d}"]], "user": users[i % USERS]} for i in range(COUNT)]
        ).execute()
        members = [{"group": groups[f"group{i:04d}"], "user": users[(i + k * 37) % USERS]}
                   for i in range(COUNT) for k in range(5)]
        members += [{"group": groups[f"share-s{i:04d}"], "user": users[(i + k * 37) % USERS]}
                    for i in range(COUNT) for k in range(5)]
        for start in range(0, len(members), 2000):
            GroupMember.insert_many(members[start:start + 2000]).on_conflict_ignore().execute()
        Share.insert_many(
            [
                {
                    "name": f"s{i:04d}",
                    "group": groups[f"share-s{i:04d}"],
                    "owner": users[i % USERS],
                    "description": f"share number {i}",
                }
                for i in range(COUNT)
            ]
        ).execute()
        shares = dict(Share.select(Share.name, Share.id).tuples())
        ShareGrant.insert_many([{"share": shares[f"s{i:04d}"], "group": groups[f"group{i:04d}"]}
                                for i in range(COUNT)]).execute()


async def section(app, key: str, screen_type, call, label: str, query: str) -> None:
    frames = watch_paints(app)
    started = time.perf_counter()
    views = call()
    listed = time.perf_counter() - started
    report(f"{COUNT:,} {label}: session list call (store, in a worker thread)", ms(listed), "-")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
        await until(pilot, lambda: isinstance(app.screen, screen_type) and len(app.screen.items) >= COUNT)
        screen = app.screen
        await pilot.pause(0.2)
        loaded_at = time.perf_counter()
        screen.show_items(views)
        paint = await first_paint_after(pilot, frames, loaded_at)
        report(f"{COUNT:,} {label}: first paint (rows received → frame rendered)", ms(paint), "300 ms")
        report(f"{COUNT:,} {label}: first paint including the list call", ms(listed + paint), "300 ms")
        await pilot.press("slash")
        screen.query_one("#list-filter").cursor_blink = False
        await pilot.pause()
        timings = []
        keys = [(ch, ch) for ch in query] + [("backspace", None)] * 3 + [(ch, ch) for ch in query[-3:]]
        for key_name, character in keys:
            await pilot.pause(0.05)
            before = time.perf_counter()
            app.post_message(events.Key(key_name, character))
            timings.append(await first_paint_after(pilot, frames, before))
        report(f"{COUNT:,} {label}: filter keystroke → frame (median of {len(timings)})",
               ms(statistics.median(timings)), "50 ms")
        report(f"{COUNT:,} {label}: filter keystroke → frame (worst)", ms(max(timings)), "50 ms")


def badge(service) -> None:
    """POLLERS threads ask unread_count as fast as they can; count the database reads it makes."""
    from ipynbsrv_tui.store.models import database_proxy

    db = database_proxy.obj
    reads = []
    execute = db.execute_sql

    def counting(sql, *args, **kwargs):
        if "notificationrecipient" in sql or "notifications.version" in str(args) or '"setting"' in sql:
            reads.append(time.monotonic())
        return execute(sql, *args, **kwargs)

    db.execute_sql = counting
    actors = [service.actor_for_username(f"user{i:03d}") for i in range(POLLERS)]
    calls = [0] * POLLERS
    stop = time.monotonic() + POLL_SECONDS

    def poll(index: int) -> None:
        while time.monotonic() < stop:
            service.unread_count(actors[index])
            calls[index] += 1

    reads.clear()
    threads = [threading.Thread(target=poll, args=(i,)) for i in range(POLLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.execute_sql = execute
    version_reads = sum(1 for _ in reads)
    per_second = version_reads / POLL_SECONDS
    report(f"unread badge: {POLLERS} sessions polling unread_count for {POLL_SECONDS:.0f} s "
           f"({sum(calls):,} calls): database reads per second", f"{per_second:.1f}",
           f"≤ 1 + {POLLERS} recounts after a change")
    report(
        "unread badge: database reads per second, steady (after the first recount of each user)",
        f"{sum(1 for t in reads if t > reads[0] + 1.0) / (POLL_SECONDS - 1.0):.1f}" if reads else "0",
        "≤ 1",
    )


def main() -> int:
    from ipynbsrv_tui.service import Session, build_service
    from ipynbsrv_tui.tui.app import IpynbsrvApp
    from ipynbsrv_tui.tui.screens.groups import GroupsScreen
    from ipynbsrv_tui.tui.screens.shares import SharesScreen

    with tempfile.TemporaryDirectory(prefix="ipynbsrv-bench-collab-") as folder:
        config = bench_config(Path(folder))
        seed(config)
        service = build_service(config)
        session = Session(service, Actor("root", 0, True, ()))
        app = IpynbsrvApp(config, session, theme="textual-dark", watch=False, tune_gc=True)
        asyncio.run(section(app, "5", GroupsScreen, session.collab_groups, "groups", "group09"))
        app = IpynbsrvApp(config, session, theme="textual-dark", watch=False, tune_gc=True)
        asyncio.run(section(app, "6", SharesScreen, session.list_shares, "shares", "s09"))
        badge(service)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
