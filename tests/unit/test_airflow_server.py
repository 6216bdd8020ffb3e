"""`make airflow` on a port that is taken says so at once, before it starts anything."""

from __future__ import annotations

import socket

import pytest

from local import airflow_server

pytestmark = pytest.mark.unit


def test_a_taken_port_is_a_clear_error_before_anything_starts(capsys, monkeypatch):
    started = []
    monkeypatch.setattr(airflow_server.LocalStack, "up", lambda self: started.append(self))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert airflow_server.main(["--port", str(port)]) == 2
    assert started == []
    error = capsys.readouterr().err
    assert f"port {port} is already in use" in error and f"PORT={port + 1}" in error


def test_a_free_port_is_free():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert not airflow_server.port_in_use(port)
