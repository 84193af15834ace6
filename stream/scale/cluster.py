"""Frame ranges on Ray: one worker per GPU (pinned to it) or per few cores, each
holding the model, fed one range at a time; a range whose worker dies is given to a
fresh worker, up to `retries` more times.

``address="local"`` starts a Ray instance inside this process (stopped at the end),
on loopback, with its object store capped (only small messages travel through it:
poses go to part files). Any other address joins a running cluster (``ray start``);
its nodes must see the videos, the model and the output folders at the same paths.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from calib.errors import ConfigError, PoseloopError
from stream.scale.worker import RangeTask, run_range

log = logging.getLogger(__name__)

CORES_PER_WORKER = 4  # a CPU worker: one per this many cores
OBJECT_STORE_BYTES = 256 << 20  # small messages only; Ray's minimum is 75 MiB
LOCAL_NODE_IP = "127.0.0.2"  # loopback that Ray does not rewrite to the machine's address
WAIT_S = 0.5
LOCAL_START_TRIES = 2


def import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "Ray is not installed: pip install 'poseloop[ray]' (or leave out --cluster)"
        ) from None
    return ray


def child_processes(pid: int) -> list[int]:
    """The process ids whose parent is `pid` (from /proc; empty where there is none)."""
    out = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return out


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count()


def local_workers(device: str) -> int:
    """Workers that fit this machine: one per GPU for CUDA, else one per few cores."""
    if device.startswith("cuda"):
        return max(1, gpu_count())
    return max(1, (os.cpu_count() or 1) // CORES_PER_WORKER)


@dataclass
class WorkerSettings:
    model: str
    device: str  # "cpu" or "cuda" (a worker sees only its own GPU)
    threads: int  # torch threads per worker
    cpus: float  # Ray CPUs each worker takes
    gpus: float  # Ray GPUs each worker takes (1 for CUDA)


class RangeWorker:
    """A Ray actor: loads the model once, then analyzes ranges one by one."""

    def __init__(self, settings: WorkerSettings):
        import cv2
        import torch

        from train.model.artifact import PoseModel

        t0 = time.perf_counter()
        if settings.threads:
            torch.set_num_threads(settings.threads)
        cv2.setNumThreads(1)  # decoding runs beside the network on the same cores
        self.model = PoseModel(settings.model, settings.device)
        self.load_s = time.perf_counter() - t0

    def ready(self) -> dict:
        return {"pid": os.getpid(), "load_s": self.load_s}

    def run(self, task: RangeTask) -> dict:
        return {**run_range(self.model, task), "pid": os.getpid()}


class Cluster:
    """A connection to Ray for the length of a ``with`` block."""

    def __init__(self, address: str, device: str):
        self.ray = import_ray()
        self.address = address
        self.cuda = device.startswith("cuda")
        self.started = False
        self.start_s = 0.0

    def __enter__(self) -> Cluster:
        ray = self.ray
        t0 = time.perf_counter()
        if ray.is_initialized():
            log.info("using the Ray instance already running in this process")
        elif self.address == "local":
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # report nothing home
            for attempt in range(LOCAL_START_TRIES):
                before = set(child_processes(os.getpid()))
                try:
                    ray.init(
                        address="local",
                        num_cpus=os.cpu_count() or 1,
                        num_gpus=gpu_count() if self.cuda else 0,
                        object_store_memory=OBJECT_STORE_BYTES,
                        include_dashboard=False,
                        log_to_driver=False,
                        _node_ip_address=LOCAL_NODE_IP,
                        # Ray runs workers at nice 15; here they are the job itself
                        _system_config={"worker_niceness": 0},
                    )
                    break
                except Exception as exc:  # Ray gives a node 30 s to come up, a busy machine
                    ray.shutdown()      # can take longer: once more, then a one-line error
                    # a start that gave up leaves the processes it started running
                    for pid in set(child_processes(os.getpid())) - before:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    if attempt + 1 == LOCAL_START_TRIES:
                        raise ConfigError(f"local Ray did not start: {exc}") from exc
                    log.warning("local Ray did not start (%s); trying again", exc)
            self.started = True
        else:
            try:
                ray.init(address=self.address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(f"--cluster {self.address}: cannot join ({exc})") from exc
            self.started = True
        self.start_s = time.perf_counter() - t0
        return self

    def __exit__(self, *exc) -> None:
        if self.started:
            self.ray.shutdown()

    def workers(self, model: str, workers: int, threads: int) -> tuple[WorkerSettings, int]:
        """Each worker's settings and how many workers to start: one per GPU with CUDA;
        on CPUs, `workers` sharing a local machine's cores, or on a cluster one per
        four cores of each node (fewer if `workers` says so)."""
        nodes = [n["Resources"] for n in self.ray.nodes() if n["Alive"]]
        if self.cuda:
            cpus, gpus = 1.0, 1.0
            fit = sum(int(r.get("GPU", 0)) for r in nodes)
        else:
            gpus = 0.0
            most = max((int(r.get("CPU", 0)) for r in nodes), default=0)
            if self.address == "local":
                cpus = float(max(1, most // (workers or local_workers("cpu"))))
            else:
                cpus = float(max(1, min(CORES_PER_WORKER, most)))
            fit = sum(int(r.get("CPU", 0) // cpus) for r in nodes)
        if fit < 1:
            kind = "GPU" if self.cuda else "CPU"
            raise ConfigError(f"the Ray cluster has no {kind} for a worker ({nodes})")
        device = "cuda" if self.cuda else "cpu"
        settings = WorkerSettings(model, device, threads or int(cpus), cpus, gpus)
        return settings, min(fit, workers) if workers else fit

    def run(
        self,
        settings: WorkerSettings,
        workers: int,
        tasks: list[RangeTask],
        retries: int,
        on_result: Callable[[RangeTask, dict | None, str], list[RangeTask]],
    ) -> list[float]:
        """Run every task on up to `workers` workers; call ``on_result(task, result, "")``
        for each one done and ``on_result(task, None, error)`` for each one that failed for
        good. The tasks `on_result` returns are run too. Returns each worker start's model
        load time in seconds."""
        dispatch = _Dispatch(self.ray, settings, retries, on_result)
        dispatch.run(tasks, workers)
        return dispatch.load_s


def _cause(exc: BaseException) -> str:
    """One line for an exception raised inside a task (Ray wraps it, traceback included)."""
    cause = getattr(exc, "cause", None)
    err = cause if isinstance(cause, BaseException) else exc
    lines = str(err).strip().splitlines()
    return lines[-1] if lines else type(err).__name__


class _Dispatch:
    """Keeps each ready worker busy with one range; replaces a worker that dies."""

    def __init__(self, ray, settings: WorkerSettings, retries: int, on_result):
        self.ray = ray
        self.settings = settings
        self.retries = retries
        self.on_result = on_result
        self.actor_class = ray.remote(RangeWorker).options(
            num_cpus=settings.cpus, num_gpus=settings.gpus, max_restarts=0, max_task_retries=0
        )
        self.starting: dict = {}  # ready ref -> actor
        self.idle: list = []
        self.busy: dict = {}  # run ref -> (actor, task)
        self.attempts: dict[str, int] = {}  # part file -> times its worker died
        self.start_failures = 0
        self.load_s: list[float] = []

    def _start_worker(self) -> None:
        actor = self.actor_class.remote(self.settings)
        self.starting[actor.ready.remote()] = actor

    def run(self, tasks: list[RangeTask], workers: int) -> None:
        queue = deque(tasks)
        for _ in range(min(workers, len(tasks))):
            self._start_worker()
        try:
            while queue or self.busy:
                if queue and not (self.idle or self.starting or self.busy):
                    self._start_worker()
                while queue and self.idle:
                    actor, task = self.idle.pop(), queue.popleft()
                    self.busy[actor.run.remote(task)] = (actor, task)
                refs = [*self.starting, *self.busy]
                ready, _ = self.ray.wait(refs, num_returns=1, timeout=WAIT_S)
                for ref in ready:
                    if ref in self.starting:
                        self._started(ref, queue)
                    else:
                        self._finished(ref, queue)
        finally:
            for actor in [*self.starting.values(), *self.idle, *(a for a, _ in self.busy.values())]:
                self.ray.kill(actor)

    def _started(self, ref, queue: deque) -> None:
        actor = self.starting.pop(ref)
        try:
            info = self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            self.start_failures += 1
            log.warning("a worker failed to start: %s", _cause(exc))
            if self.start_failures > self.retries:
                raise PoseloopError(f"workers cannot start: {_cause(exc)}") from None
            if queue:
                self._start_worker()
            return
        self.load_s.append(info["load_s"])
        log.debug("worker pid %d ready (model loaded in %.2f s)", info["pid"], info["load_s"])
        self.idle.append(actor)

    def _finished(self, ref, queue: deque) -> None:
        actor, task = self.busy.pop(ref)
        exceptions = self.ray.exceptions
        try:
            result = self.ray.get(ref)
        except exceptions.RayTaskError as exc:  # raised by our code: retrying cannot help
            self.idle.append(actor)
            queue.extend(self.on_result(task, None, _cause(exc)))
            return
        except exceptions.RayError as exc:  # the worker process or its node died
            self.ray.kill(actor)
            n = self.attempts[task.part] = self.attempts.get(task.part, 0) + 1
            where = f"{task.video} frames {task.start}-{task.stop}"
            if n > self.retries:
                queue.extend(self.on_result(task, None, f"worker died {n} times"))
            else:
                log.warning("worker died during %s (%s); retrying", where, type(exc).__name__)
                queue.appendleft(task)
            if queue:
                self._start_worker()
            return
        self.idle.append(actor)
        result["retries"] = self.attempts.get(task.part, 0)
        queue.extend(self.on_result(task, result, ""))
