"""A worker that fails must stop the whole job, with its error, never leave it hanging.

Without care it would: rank 1 raises and exits, while rank 0 waits in its next collective for
a partner that will never come. init_process_group therefore installs an exception hook that
prints the traceback and calls MPI_Abort, which makes mpiexec end every rank.
"""

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

FAILING_SCRIPT = textwrap.dedent("""
    import time

    import minigrad as mg
    import minigrad.distributed as dist

    dist.init_process_group("mpi")
    t = mg.ones(3)
    dist.all_reduce(t)                    # both ranks are up and connected
    if dist.get_rank() == 1:
        raise ValueError("worker 1 failed on purpose")
    dist.all_reduce(t)                    # rank 0 would wait here forever
    time.sleep(60)
""")


KILLED_SCRIPT = textwrap.dedent("""
    import os
    import signal
    import time

    import minigrad as mg
    import minigrad.distributed as dist

    dist.init_process_group("mpi")
    t = mg.ones(3)
    dist.all_reduce(t)                    # both ranks are up and connected
    if dist.get_rank() == 1:
        os.kill(os.getpid(), signal.SIGKILL)  # no exception hook can run: the OS kills it
    dist.all_reduce(t)                    # rank 0 would wait here forever
    time.sleep(60)
""")


def mpiexec() -> str | None:
    """The mpiexec of the MPI that mpi4py uses: the MPICH wheel puts it next to python."""
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def run_two_workers(tmp_path, world, source: str) -> tuple[subprocess.CompletedProcess, float]:
    """`mpiexec -n 2 python script` of ``source``: (the finished job, its seconds)."""
    if world[1] > 1:
        pytest.skip("starts a 2-process job of its own: run it outside mpiexec")
    if mpiexec() is None:
        pytest.skip("needs mpiexec (the MPICH wheel brings it)")
    script = tmp_path / "job.py"
    script.write_text(source)
    # Not the environment of a launcher that may have started this process.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "MPI_LOCAL", "OMPI_"))}
    start = time.monotonic()
    done = subprocess.run([mpiexec(), "-n", "2", sys.executable, str(script)], env=env,
                          capture_output=True, text=True, timeout=120)
    return done, time.monotonic() - start


def test_a_killed_worker_ends_the_job_quickly(tmp_path, dist, world):
    # SIGKILL leaves no chance to call MPI_Abort: the launcher notices the dead process and
    # ends the others (MPICH's hydra: "BAD TERMINATION ... Killed (signal 9)").
    done, elapsed = run_two_workers(tmp_path, world, KILLED_SCRIPT)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert elapsed < 20, f"the job took {elapsed:.0f} s to stop"
    assert "signal 9" in output or "Killed" in output, output


def test_a_failing_worker_aborts_the_job_quickly(tmp_path, dist, world):
    done, elapsed = run_two_workers(tmp_path, world, FAILING_SCRIPT)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert elapsed < 20, f"the job took {elapsed:.0f} s to stop"
    assert "ValueError: worker 1 failed on purpose" in output
    assert "rank 1 of 2 stopped with the uncaught ValueError" in output
    assert "aborting the whole job" in output


def test_the_exception_hook_is_installed_for_several_workers_only(dist, world):
    from minigrad.distributed import process_group

    hooked = sys.excepthook is process_group._abort_on_uncaught_exception
    assert hooked == (world[1] > 1)
