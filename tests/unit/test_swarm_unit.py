"""Swarm mode without an engine: configuration, task state and placement, the event diff (DESIGN §15)."""

from __future__ import annotations

import pytest

from ipynbsrv_tui.config import Config, parse_config
from ipynbsrv_tui.domain import ConfigError, ContainerState, Placement
from ipynbsrv_tui.engine.swarm import current_task, node_view, service_info
from ipynbsrv_tui.engine.swarm_events import changes


def test_docker_mode_is_the_default_and_swarm_keys_parse():
    assert Config().engine.mode == "docker" and Config().registry.url == ""
    config = parse_config(
        '[engine]\nmode = "swarm"\n[swarm]\nnode_engines = ["gpu1=tcp://gpu1:2376", "w=unix:///run/w.sock"]\n'
        'constraints = ["node.labels.gpu==true", "node.role!=manager"]\nreserve = 0.5\n'
        '[registry]\nurl = "registry.example.org:5000"\n')
    assert config.swarm.node_engine_urls() == {"gpu1": "tcp://gpu1:2376", "w": "unix:///run/w.sock"}
    assert config.swarm.constraints == ("node.labels.gpu==true", "node.role!=manager")


@pytest.mark.parametrize(("text", "expected"), [
    ('[engine]\nmode = "kubernetes"\n', ":2: engine.mode = 'kubernetes': expected one of 'docker', 'swarm'"),
    ('[swarm]\nnode_engines = ["gpu1 tcp://x"]\n', ':2: swarm.node_engines = '),
    ('[swarm]\nconstraints = ["gpu"]\n', "expected Swarm constraints like"),
    ('[swarm]\nreserve = 2\n', "expected a fraction from 0.0 to 1.0"),
    ('[registry]\nurl = "http://r:5000/x"\n', "expected HOST:PORT of a registry"),
])
def test_bad_swarm_keys_name_the_line_and_what_is_expected(text, expected):
    with pytest.raises(ConfigError, match=None) as caught:
        parse_config(text)
    assert expected in str(caught.value)


NODES = {
    "n1": {
        "ID": "n1",
        "Spec": {"Labels": {"ipynbsrv.node": "gpu1"}, "Role": "worker", "Availability": "active"},
        "Description": {"Hostname": "host-a", "Engine": {"EngineVersion": "20.10.24"}},
        "Status": {"State": "ready", "Addr": "10.0.0.2"},
    },
    "n2": {
        "ID": "n2",
        "Spec": {"Labels": {}, "Role": "manager", "Availability": "drain"},
        "Description": {"Hostname": "host-b"},
        "Status": {"State": "down", "Addr": "0.0.0.0"},
        "ManagerStatus": {"Addr": "10.0.0.1:2377", "Leader": True},
    },
}


def service(replicas: int) -> dict:
    return {
        "ID": "s1",
        "CreatedAt": "2026-01-01T00:00:00Z",
        "Spec": {
            "Name": "ipynbsrv-2001-nb",
            "Labels": {"ipynbsrv.container": "7"},
            "Mode": {"Replicated": {"Replicas": replicas}},
            "TaskTemplate": {"ContainerSpec": {"Image": "reg:5000/img:1@sha256:abc"}},
            "EndpointSpec": {"Ports": [{"TargetPort": 8888, "PublishedPort": 49200, "Protocol": "tcp"}]},
        },
    }


def task(
    state: str, desired: str = "running", node: str = "n1", created: str = "2026-01-01T00:00:01Z"
) -> dict:
    return {
        "ID": f"t-{state}-{created}",
        "NodeID": node,
        "DesiredState": desired,
        "CreatedAt": created,
        "Status": {
            "State": state,
            "Timestamp": created,
            "ContainerStatus": {"ContainerID": "c1", "ExitCode": 0},
            "PortStatus": {"Ports": [{"TargetPort": 8888, "PublishedPort": 49200, "Protocol": "tcp"}]},
        },
    }


def test_service_states_follow_replicas_and_the_current_task():
    assert service_info(service(0), [], NODES).state is ContainerState.CREATED
    assert service_info(service(0), [task("shutdown", "shutdown")], NODES).state is ContainerState.EXITED
    assert service_info(service(1), [task("pending")], NODES).state is ContainerState.RESTARTING
    running = service_info(service(1), [task("running")], NODES)
    assert running.state is ContainerState.RUNNING and running.image == "reg:5000/img:1"
    assert running.placement == Placement("n1", "gpu1", "10.0.0.2", False)
    assert running.ports == {"8888/tcp": 49200} and running.store_id == 7
    assert service_info(service(1), [task("running")], NODES, paused={"c1"}).state is ContainerState.PAUSED
    lost = service_info(service(1), [task("running", node="n2")], NODES)
    assert lost.placement == Placement("n2", "host-b", "10.0.0.1", True)
    newer = [task("shutdown", "shutdown"), task("running", created="2026-01-01T00:00:09Z")]
    assert current_task(newer)["CreatedAt"].endswith("09Z")


def test_node_view_names_a_node_by_its_label_then_its_hostname():
    gpu1, manager = node_view(NODES["n1"], ["alice/nb"]), node_view(NODES["n2"])
    assert (gpu1.name, gpu1.notebooks, gpu1.engine_version) == ("gpu1", ("alice/nb",), "20.10.24")
    assert (manager.name, manager.address, manager.leader, manager.state) == (
        "host-b",
        "10.0.0.1",
        True,
        "down",
    )


def test_the_event_feed_reports_each_difference_of_two_lists():
    created = service_info(service(0), [], NODES)
    running = service_info(service(1), [task("running")], NODES)
    lost = service_info(service(1), [task("running", node="n2")], NODES)
    moved = service_info(service(1), [task("running", node="n1", created="2026-01-01T00:00:05Z")], NODES)
    assert [e.action for e in changes({}, {"s1": created}, 1.0)] == ["create"]
    assert [e.action for e in changes({"s1": created}, {"s1": running}, 1.0)] == ["start"]
    assert [(e.action, e.placement.lost) for e in changes({"s1": running}, {"s1": lost}, 1.0)] == [
        ("lost", True)
    ]
    assert [e.action for e in changes({"s1": lost}, {"s1": moved}, 1.0)] == ["move"]
    assert [e.action for e in changes({"s1": running}, {}, 1.0)] == ["destroy"]
    assert changes({"s1": running}, {"s1": running}, 1.0) == []


def test_nodes_are_refused_in_docker_mode_and_for_non_admins(tmp_config):
    """The single-host engine itself refuses what only a swarm has (DESIGN §15), without a connection."""
    import docker

    from ipynbsrv_tui.domain import Actor, Conflict, NotAuthorized
    from ipynbsrv_tui.engine.docker_engine import DockerEngine
    from ipynbsrv_tui.service import build_service

    unconnected = DockerEngine(docker.DockerClient(base_url="unix:///nonexistent.sock", version="1.41"))
    service = build_service(tmp_config, engine_factory=lambda: unconnected)
    with pytest.raises(Conflict, match=r'nodes only in swarm mode.*\[engine\] mode = "docker"'):
        service.list_nodes(Actor("root", 0, True, ()))
    with pytest.raises(NotAuthorized, match="Only admins may drain"):
        service.drain_node(Actor("alice", 2001, False, ()), "gpu1")
    with pytest.raises(Conflict, match=r"nodes only in swarm mode"):
        service.drain_node(Actor("root", 0, True, ()), "gpu1")
    with pytest.raises(Conflict, match=r"probe is for swarm mode"):
        unconnected.probe_data_root("/srv", "img:1")


def test_reconcile_names_where_a_notebook_went():
    from ipynbsrv_tui.service.live import _reconcile_placement

    def run(info, stored=("n1", "gpu1", False)):
        repaired: list[str] = []
        flagged: list[str] = []
        placements: dict = {}
        _reconcile_placement("alice/nb (#7)", stored, info, repaired, flagged, placements)
        return repaired, flagged, placements

    moved = service_info(service(1), [task("running", node="n2")], NODES)
    repaired, flagged, placements = run(moved)
    assert repaired == ["alice/nb (#7): moved from node gpu1 to node host-b"]
    assert flagged == ["alice/nb (#7): node host-b is lost (down); Swarm reschedules the notebook on another "
                       "eligible node"]
    assert placements == {7: moved.placement}
    pending = service_info(service(1), [task("pending", node="")], NODES)
    assert run(pending)[0] == ["alice/nb (#7): no longer on node gpu1; Swarm is placing it on another node"]
    assert run(service_info(service(1), [task("running")], NODES)) == ([], [], {})
