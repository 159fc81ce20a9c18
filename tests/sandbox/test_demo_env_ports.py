"""A demo started while another holds its ports stops before it deletes anything."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sandbox.common import busy_ports
from sandbox.demo_env import DemoEnvironment, DemoPorts, PortsBusy


def test_busy_ports_finds_a_listener_and_only_it() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        free = DemoPorts.free()
        assert busy_ports([free.satori, taken, free.kintone]) == [taken]


def test_a_second_demo_leaves_the_running_ones_folder_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    (folder / "sandbox").mkdir(parents=True)
    kept = folder / "state.db"
    kept.write_bytes(b"the running demo's state")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        ports = DemoPorts.free()
        ports = DemoPorts(ports.satori, listener.getsockname()[1], ports.salesforce, ports.sansan, ports.smtp)
        with pytest.raises(PortsBusy, match=f"{ports.kintone}.*使用中.*busy"):
            DemoEnvironment(folder, ports=ports).__enter__()
    assert kept.read_bytes() == b"the running demo's state"
    assert sorted(p.name for p in folder.iterdir()) == ["sandbox", "state.db"]
