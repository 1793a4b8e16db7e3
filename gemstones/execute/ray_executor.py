"""The ``ray`` executor: each unit is a Ray task with a resource request and Ray's own retries.

Without an address a local Ray instance is started (and stopped again by :meth:`RayExecutor.close`);
with one (``ray://host:10001`` or ``auto``) the tasks run on that cluster. When Ray is already
initialised in this process (a notebook, a test) that connection is used and left open.

Scheduling, placement and retries are Ray's: a task declares ``num_cpus``/``num_gpus``, and a task
whose worker process dies is re-run up to ``max_retries`` times. Results come back to the driver,
which hands them to ``on_result`` one by one (:func:`gemstones.execute.run_units` saves them there),
so a retried unit is recorded once.

On a remote cluster (``--address``) the workers must have ``gemstones`` installed, and the files a
unit names (an evaluation corpus, the Hugging Face cache) must be reachable at the same paths
(a shared filesystem); on a local instance they are. Worker output is not echoed to the driver;
a unit's failure comes back as its exception.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gemstones.errors import GemstonesInputError

from .base import DEFAULT_RESOURCES, Executor, R, Resources, U, UnitFailure, UnitsFailed


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise GemstonesInputError(
            "--executor ray needs Ray: pip install 'gemstones[distributed]'"
        ) from None
    return ray


#: Seconds allowed to open a TCP connection to ``--address`` before Ray is asked to join it (Ray
#: itself keeps retrying an unreachable cluster for minutes).
PROBE_TIMEOUT_S = 10.0


def probe_address(address: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Fail fast when ``host:port`` (or ``ray://host:port``) does not accept a TCP connection.

    ``auto`` and addresses without a port are left to Ray.

    Raises:
        GemstonesInputError: nothing listens there (naming the address and what to do).
    """
    import re
    import socket

    match = re.fullmatch(r"(?:ray://)?\[?([^\]/]+?)\]?:(\d{1,5})", address.strip())
    if match is None:
        return
    host, port = match.group(1), int(match.group(2))
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as error:
        raise GemstonesInputError(
            f"cannot reach a Ray cluster at --address {address!r} ({error.strerror or error}); "
            "start it (`ray start --head`) or drop --address to run a local Ray instance"
        ) from None


def _cause(error: BaseException) -> BaseException:
    """The exception a Ray task raised, unwrapped from Ray's ``RayTaskError``."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, BaseException) else error


class RayExecutor(Executor):
    """Run units as Ray tasks.

    Args:
        address: a running cluster (``auto``, ``ray://host:port``); None starts a local instance.
        num_cpus: CPUs of the local instance (None: all of this machine's); ignored with an address.
        describe: how a unit is named in failure messages.

    Example:
        >>> with RayExecutor(num_cpus=2) as executor:  # doctest: +SKIP
        ...     executor.map(abs, [-1, 2], resources=Resources(cpus=1))
        [1, 2]
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        describe: Callable[[object], str] = str,
    ) -> None:
        self._ray = _import_ray()
        if address is not None:
            probe_address(address)
        self._address = address
        self._num_cpus = num_cpus
        self._describe = describe
        self._started = False

    def _connect(self) -> None:
        ray = self._ray
        if ray.is_initialized():
            return
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if self._address is None:
            options["num_cpus"] = self._num_cpus
        try:  # "local": a new instance, even when a `ray start` cluster runs on this machine
            ray.init(address=self._address or "local", **options)
        except (ConnectionError, ValueError, RuntimeError) as error:
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise GemstonesInputError(
                f"cannot connect to Ray at --address {self._address!r}: {first}"
            ) from None
        self._started = True

    def map(
        self,
        fn: Callable[[U], R],
        units: Sequence[U],
        *,
        resources: Resources = DEFAULT_RESOURCES,
        on_result: Callable[[U, R], None] | None = None,
    ) -> list[R | None]:
        """Submit one Ray task per unit and collect results as they finish; see :meth:`Executor.map`."""
        if not units:
            return []
        ray = self._ray
        self._connect()
        remote = ray.remote(
            num_cpus=resources.cpus, num_gpus=resources.gpus, max_retries=resources.max_retries
        )(fn)
        index = {remote.remote(unit): i for i, unit in enumerate(units)}
        results: list[R | None] = [None] * len(units)
        failures: list[UnitFailure] = []
        pending = list(index)
        try:
            for _ in range(len(units)):  # each pass takes one finished task
                if not pending:
                    break
                (ready,), pending = ray.wait(pending, num_returns=1)
                unit = units[index[ready]]
                try:
                    result = ray.get(ready)
                except ray.exceptions.RayError as error:
                    failures.append(UnitFailure(unit, _cause(error)))
                    continue
                results[index[ready]] = result
                if on_result is not None:
                    on_result(unit, result)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        if failures:
            raise UnitsFailed(failures, len(units), self._describe)
        return results

    def close(self) -> None:
        """Shut down the local Ray instance this executor started (a shared one stays up)."""
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
        self._started = False
