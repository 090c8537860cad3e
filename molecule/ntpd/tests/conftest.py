"""Fixtures of the ntpd scenario's tests."""

import pytest

from ntpd_helpers import CONTAINER, docker_json


@pytest.fixture
def inspect(host):
    return docker_json(host, "container", "inspect", CONTAINER)[0]


@pytest.fixture
def node_ip(host):
    return host.check_output("ip -4 -o route get 1.1.1.1 | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p'")
