"""Shared fixtures: a real Docker Engine (DOCKER_HOST) and a real slapd, per DESIGN §11."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.docker_engine",
    "tests.fixtures.slapd",
    "tests.fixtures.notebook_service",
    "tests.fixtures.notebook_images",
    "tests.tui.fixtures_admin",
]
