"""Fixtures for the distributed tests, which run in two ways:

- ``python -m pytest``: one process, a world of size 1 (MPI's "singleton" start). The
  collectives and DistributedDataParallel run through MPI all the same; the fault test
  starts a 2-process job of its own.
- ``mpiexec -n 2 python -m pytest tests/distributed -q -p no:cacheprovider``: every rank runs
  every test, and the tests compare across ranks.

Without mpi4py, the tests that need MPI skip; the ones about the error messages still run.

Every rank must run the same collectives in the same order, so skip conditions depend only on
what all ranks share (world size, installed packages), never on the rank. A test that fails
on one rank would leave the others waiting in their next collective; under mpiexec a failure
therefore prints the report and aborts the whole job (see pytest_runtest_logreport).
"""

import importlib.util
import os
import sys

import numpy as np
import pytest

HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None


def _launcher_rank() -> int:
    """This process's rank as the MPI launcher set it (MPICH: PMI_RANK; Open MPI:
    OMPI_COMM_WORLD_RANK), 0 when not started by a launcher."""
    for name in ("PMI_RANK", "OMPI_COMM_WORLD_RANK"):
        if name in os.environ:
            return int(os.environ[name])
    return 0


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    """Under mpiexec every rank runs the same tests: only rank 0 reports, so that the output
    is one pytest report, not several interleaved ones. The other ranks' failures still
    reach stderr (pytest_runtest_logreport), and their exit status reaches mpiexec's."""
    if _launcher_rank() > 0:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            config.pluginmanager.unregister(reporter)


@pytest.fixture(scope="session")
def dist():
    """minigrad.distributed with the default process group initialized (backend "mpi")."""
    if not HAVE_MPI4PY:
        pytest.skip('needs mpi4py: pip install -e ".[distributed]"')
    import minigrad.distributed as dist

    if not dist.is_initialized():
        try:
            dist.init_process_group("mpi")
        except ImportError:  # mpi4py is there, but not the MPI library it needs
            pytest.skip('needs an MPI library for mpi4py: pip install -e ".[distributed]"')
    yield dist
    if dist.is_initialized():
        dist.destroy_process_group()


@pytest.fixture
def world(dist) -> tuple[int, int]:
    """(rank, world size)."""
    return dist.get_rank(), dist.get_world_size()


@pytest.fixture
def gather_numpy(dist):
    """gather_numpy(array) -> every rank's NumPy array, stacked (row r from rank r)."""

    def _gather(array):
        array = np.ascontiguousarray(array)
        return dist.get_communicator("cpu").allgather(array)

    return _gather


def pytest_runtest_logreport(report):
    """Under mpiexec, a failed test aborts the whole job after printing its report: the other
    ranks may be blocked in a collective this rank will never reach."""
    if not report.failed or "minigrad.distributed" not in sys.modules:
        return
    import minigrad.distributed as dist

    if dist.is_initialized() and dist.get_world_size() > 1:
        rank = dist.get_rank()
        sys.stderr.write(f"\n[rank {rank}] FAILED {report.nodeid} ({report.when}):\n"
                         f"{report.longreprtext}\n[rank {rank}] aborting the job\n")
        sys.stderr.flush()
        dist.get_communicator("cpu").abort(1)
