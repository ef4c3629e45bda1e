"""`qa index --ray` on a real two-node Ray cluster on 127.0.0.1: same store as a local build, and faults.

The cluster is a head and a worker node started with ``ray start`` (token authentication, as
Ray requires), both registered on 127.0.0.1: ``ray start`` turns 127.0.0.1 into the machine's
interface address unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (head and drivers); a worker
node refuses that setting, so it runs ``ray start`` with Ray's localhost resolution replaced by
the address as given. Only the processes these tests start are stopped.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import DEV_QUESTIONS, ROOT, free_port
from support.identity import compare_stores, ranking_differences

import qa

#: The first SQuAD dev articles, kept in the repository (the full set is not needed here).
SQUAD = ROOT / "tests" / "data" / "squad_dev_excerpt.json"
#: SQuAD dev articles of the small corpus (about 130 paragraphs, 700 texts to embed).
SQUAD_ARTICLES = 3
QA = Path(sys.executable).with_name("qa")
RAY = Path(sys.executable).with_name("ray")

#: `ray start` for a worker node, with Ray's "localhost means the interface address" turned off.
_WORKER_NODE = (
    "import sys, ray._private.services as services\n"
    "services.resolve_ip_for_localhost = lambda host: host\n"
    "from ray.scripts.scripts import main\n"
    "sys.argv = ['ray', *sys.argv[1:]]\n"
    "main()\n"
)


@dataclass(frozen=True)
class Cluster:
    """A running test cluster: its address and the environment that joins it."""

    address: str
    env: dict[str, str]
    head: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a `ray start --block` we started and everything in its process group."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            # Ray drains for up to 30 s after SIGTERM; the test's cluster holds nothing worth it.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def _run(cluster: Cluster, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    """`qa ARGS` with the cluster's environment."""
    return subprocess.run(
        [str(QA), *args], env=cluster.env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(16),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    env.pop("RAY_ADDRESS", None)
    port = free_port()
    # A short temporary folder: Ray's socket paths inside it must stay under 107 characters.
    temp = tempfile.mkdtemp(prefix="qa-ray-", dir="/tmp")
    common = ["--num-cpus", "1", "--block", "--temp-dir", temp, "--disable-usage-stats"]
    head = subprocess.Popen(
        [
            str(RAY),
            "start",
            "--head",
            "--node-ip-address",
            "127.0.0.1",
            "--port",
            str(port),
            "--include-dashboard",
            "false",
            "--dashboard-agent-listen-port",
            str(free_port()),
            *common,
        ],
        env={**env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    worker = None
    try:
        address = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not _listening(port) and head.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _listening(port), f"the Ray head did not start (exit status {head.poll()})"
        worker = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER_NODE,
                "start",
                "--address",
                address,
                "--dashboard-agent-listen-port",
                str(free_port()),
                *common,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while len(_nodes(address, env)) < 2 and time.monotonic() < deadline:
            time.sleep(1)
        # `qa index --ray 127.0.0.1:PORT` keeps its driver on loopback by itself.
        yield Cluster(address, env, head, worker)
    finally:
        if worker is not None:
            _stop(worker)
        _stop(head)
        shutil.rmtree(temp, ignore_errors=True)


def _listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _nodes(address: str, env: dict[str, str]) -> list[str]:
    """The addresses the live nodes of the cluster registered under (empty if it does not answer)."""
    script = (
        "import json, ray\n"
        f"ray.init(address={address!r}, logging_level='ERROR', log_to_driver=False)\n"
        "print(json.dumps([n['NodeManagerAddress'] for n in ray.nodes() if n['Alive']]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    return list(json.loads(lines[-1])) if done.returncode == 0 and lines else []


@pytest.fixture(scope="module")
def squad(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A few SQuAD dev articles, one file each with a paragraph per block, and their questions."""
    articles = json.loads(SQUAD.read_text(encoding="utf-8"))["data"][:SQUAD_ARTICLES]
    folder = tmp_path_factory.mktemp("squad") / "corpus"
    folder.mkdir()
    questions = []
    for number, article in enumerate(articles):
        paragraphs = [" ".join(p["context"].split()) for p in article["paragraphs"]]
        (folder / f"article{number}.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
        questions += [q["question"] for p in article["paragraphs"] for q in p["qas"]]
    return folder, questions


@pytest.fixture(scope="module")
def squad_local(squad: tuple[Path, list[str]], real_embedder: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("squad-local") / "index"
    qa.build_index(squad[0], out, embedder=real_embedder)  # type: ignore[arg-type]
    return out


def _same_answers(local: Path, built: Path, questions: list[str], embedder: object) -> None:
    """The two stores hold the same rows and vectors, and rank the same top 10 for every question."""
    comparison = compare_stores(local, built)
    assert comparison.same(1e-5), comparison
    assert comparison.rows["passages"] > 0 and comparison.vectors > 0
    first = qa.load_index(local, embedder=embedder)  # type: ignore[arg-type]
    second = qa.load_index(built, embedder=embedder)  # type: ignore[arg-type]
    assert ranking_differences(first, second, questions, k=10) == []


def test_cluster_is_on_loopback(cluster: Cluster) -> None:
    assert _nodes(cluster.address, cluster.env) == ["127.0.0.1", "127.0.0.1"]


def test_ray_build_equals_local_build(
    cluster: Cluster,
    squad: tuple[Path, list[str]],
    squad_local: Path,
    seeds_index: qa.Index,
    real_embedder: object,
    tmp_path: Path,
) -> None:
    seeds_questions = [json.loads(line)["question"] for line in DEV_QUESTIONS.read_text(encoding="utf-8").splitlines()]
    for corpus, local, questions in (
        (seeds_index.folder.parent / "seeds", seeds_index.folder, seeds_questions),
        (squad[0], squad_local, squad[1]),
    ):
        out = tmp_path / corpus.parent.name
        done = _run(cluster, "index", str(corpus), "--out", str(out), "--quiet", "--ray", cluster.address)
        assert done.returncode == 0, done.stderr
        assert f"Ray cluster at {cluster.address}: 2 nodes (127.0.0.1, 127.0.0.1)" in done.stderr, done.stderr
        _same_answers(local, out, questions, real_embedder)
    # Nothing changed: a second --ray build sends nothing and embeds nothing.
    again = _run(
        cluster, "index", str(squad[0]), "--out", str(tmp_path / squad[0].parent.name), "--ray", cluster.address
    )
    assert again.returncode == 0 and "(0 files updated, 0 embedded" in again.stdout, again.stdout + again.stderr


def _embedding_actors(cluster: Cluster) -> list[int]:
    """Process ids of the embedding actors under our cluster's raylets."""
    ours = {cluster.head.pid, cluster.worker.pid}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = (entry / "status").read_text()
        except OSError:
            continue
        if "_EmbedActor" not in title or "MapWorker" not in title:
            continue
        # Its raylet was started by one of our `ray start` processes.
        parent = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
        grandparent = _parent(parent)
        if parent in ours or grandparent in ours or _parent(grandparent) in ours:
            found.append(int(entry.name))
    return found


def _parent(pid: int) -> int:
    """The parent of ``pid`` (0 when it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))


def _start_build(cluster: Cluster, corpus: Path, out: Path) -> subprocess.Popen[str]:
    """`qa index CORPUS --ray` on the cluster, running in the background."""
    return subprocess.Popen(
        [str(QA), "index", str(corpus), "--out", str(out), "--quiet", "--ray", cluster.address],
        env=cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_killed_worker_build_completes_the_same(
    cluster: Cluster, squad: tuple[Path, list[str]], squad_local: Path, real_embedder: object, tmp_path: Path
) -> None:
    out = tmp_path / "index"
    build = _start_build(cluster, squad[0], out)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and build.poll() is None and time.monotonic() < deadline:
        actors = _embedding_actors(cluster)
        if actors:
            # Give it time to load the model and take a batch, then kill it mid-batch.
            time.sleep(2)
            killed = actors[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.2)
    assert killed is not None and build.poll() is None, "the build ended before a worker could be killed"
    _, stderr = build.communicate(timeout=400)
    assert build.returncode == 0, stderr
    _same_answers(squad_local, out, squad[1], real_embedder)


def _committed_vectors(out: Path) -> int:
    """Vectors committed to the store so far."""
    try:
        with sqlite3.connect(f"file:{out / 'index.db'}?mode=ro", uri=True, timeout=5) as connection:
            return int(connection.execute("SELECT count(*) FROM embeddings").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_killed_driver_next_run_resumes(
    cluster: Cluster, squad: tuple[Path, list[str]], squad_local: Path, real_embedder: object, tmp_path: Path
) -> None:
    out = tmp_path / "index"
    build = _start_build(cluster, squad[0], out)
    deadline = time.monotonic() + 200
    while _committed_vectors(out) == 0 and build.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert build.poll() is None, "the build ended before its driver could be killed"
    build.kill()
    build.communicate(timeout=30)
    committed = _committed_vectors(out)
    total = compare_stores(squad_local, squad_local).vectors
    assert 0 < committed < total
    done = _run(cluster, "index", str(squad[0]), "--out", str(out), "--quiet", "--ray", cluster.address)
    assert done.returncode == 0, done.stderr
    # Only what was not committed is embedded again.
    assert f"{total - committed} embedded" in done.stdout, done.stdout
    _same_answers(squad_local, out, squad[1], real_embedder)


def test_local_instance_on_loopback(tmp_path: Path, seeds_index: qa.Index, real_embedder: object) -> None:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("RAY_ADDRESS", None)
    out = tmp_path / "index"
    done = subprocess.run(
        [str(QA), "index", str(seeds_index.folder.parent / "seeds"), "--out", str(out), "--quiet", "--ray"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Ray cluster (local instance): 1 node (127.0.0.1)" in done.stderr
    assert compare_stores(seeds_index.folder, out).same(1e-5)


def test_unreachable_cluster_is_one_line(tmp_path: Path, corpus: Path) -> None:
    done = subprocess.run(
        [str(QA), "index", str(corpus), "--out", str(tmp_path / "i"), "--ray", f"127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("qa: error: no Ray cluster answers at 127.0.0.1:") and done.stderr.count("\n") == 1


def test_bad_address_is_one_line(tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.cli import main

    # The command sets Ray's variables for itself; monkeypatch puts them back afterwards.
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    assert main(["index", str(corpus), "--out", str(tmp_path / "i"), "--ray", "seeds"]) == 1


def test_without_ray_says_how_to_install(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from qa.cli import main

    # As if the extra were not installed: importing ray fails.
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    assert main(["index", str(corpus), "--out", str(tmp_path / "i"), "--ray"]) == 1
    error = capsys.readouterr().err
    assert 'pip install -e ".[ray]"' in error and error.count("\n") == 1


class _FailingBackend:
    """A Ray backend whose job fails, as when the head is lost mid-build."""

    class cluster:  # stands in for the Cluster attribute
        @staticmethod
        def describe() -> str:
            return "Ray cluster (stand-in)"

    closed = False

    def prepare(self, *args: object, **kwargs: object) -> object:
        from qa.build.cluster import _job_failed

        # What RayBackend raises when Ray Data's iteration fails (a remote error is a RuntimeError).
        raise _job_failed(RuntimeError("RaySystemError: the head node died\n  (long Ray traceback follows)"))

    def embed(self, *args: object, **kwargs: object) -> object:
        raise RuntimeError("unreachable")

    def close(self) -> None:
        _FailingBackend.closed = True


def test_a_failed_ray_job_is_one_line_and_the_backend_closed(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import qa.build.cluster
    from qa.cli import main

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.setattr(qa.build.cluster, "connect", lambda address, **_: _FailingBackend())
    assert main(["index", str(corpus), "--out", str(tmp_path / "i"), "--ray"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    # The cluster line, then the error on one line: no traceback.
    assert len(lines) == 2, lines
    assert lines[-1] == (
        "qa: error: the Ray build failed (RuntimeError: RaySystemError: the head node died); "
        "the vectors committed so far are kept: run the same command again to resume"
    )
    assert _FailingBackend.closed
