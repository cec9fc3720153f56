"""A throw-away single-node SLURM cluster (Debian's slurm-wlm + munge) for the SLURM test.

Everything runs as root on this machine: munged, slurmctld and slurmd are started in their
own sessions, their PIDs are recorded, and :meth:`SlurmCluster.stop` ends exactly those
processes (SIGTERM, wait, SIGKILL only if they ignore it). Nothing is ever stopped by name.

Known traps (see ../shared/SLURM.md):

- the config must be at /etc/slurm/slurm.conf: the job-step plugin drops ``SLURM_CONF``
  before the ``srun`` inside each job;
- a count-only GPU line in gres.conf is dropped by Slurm 22.05: the node declares two fake
  GPUs backed by ``/dev/null`` and ``/dev/zero`` (``--gpus=1`` jobs get ``CUDA_VISIBLE_DEVICES``
  but no GPU, so they must fall back to the CPU), two so that two model jobs run at once;
- there is no accounting database, so Snakemake must poll with ``squeue`` (``MinJobAge``
  keeps finished jobs visible long enough) and must not guess an account.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SLURM_CONF = Path("/etc/slurm/slurm.conf")
GRES_CONF = Path("/etc/slurm/gres.conf")
MARKER = "# written by harxai tests/workflow/slurm_cluster.py"
PACKAGES = ("slurm-wlm", "munge")
BINARIES = ("sbatch", "squeue", "scontrol", "sinfo", "scancel", "slurmctld", "slurmd", "munged", "munge")
PARTITION = "debug"
NODE = "localhost"  # slurmd -N localhost: the machine's hostname need not resolve to itself

SLURM_CONF_TEMPLATE = """{marker}
ClusterName=harxai
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={state}/slurmctld
SlurmdSpoolDir={state}/slurmd
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/log/slurmctld.log
SlurmdLogFile={state}/log/slurmd.log
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=5,bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=300
GresTypes=gpu
NodeName={node} CPUs={cpus} Boards=1 SocketsPerBoard=1 CoresPerSocket={cpus} ThreadsPerCore=1 \
RealMemory={memory} Gres=gpu:2 State=UNKNOWN
PartitionName={partition} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""
GRES_CONF_TEMPLATE = "{marker}\nNodeName={node} Name=gpu File=/dev/null,/dev/zero Count=2\n"


class SlurmUnavailable(RuntimeError):
    """SLURM cannot be installed or started here; the message says why (the test skips on it)."""


def _missing_binaries() -> list[str]:
    return [b for b in BINARIES if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]


def ensure_installed(timeout: float = 900) -> None:
    """Install slurm-wlm and munge with apt-get when they are missing.

    Raises
    ------
    SlurmUnavailable
        When a binary is missing and this process is not root or there is no apt-get.
    subprocess.CalledProcessError
        When apt-get itself fails (a real error, not a reason to skip).
    """
    missing = _missing_binaries()
    if not missing:
        return
    if os.geteuid() != 0:
        raise SlurmUnavailable(f"SLURM binaries {missing} are missing and installing them needs root")
    if shutil.which("apt-get") is None:
        raise SlurmUnavailable(
            f"SLURM binaries {missing} are missing and there is no apt-get to install them"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=timeout, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *PACKAGES],
        check=True,
        env=env,
        timeout=timeout,
        capture_output=True,
    )
    still = _missing_binaries()
    if still:
        raise RuntimeError(f"apt-get installed {PACKAGES} but {still} are still missing")


def _sbin(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _node_hardware() -> tuple[int, int]:
    """CPUs and a safe RealMemory (MB) for the node line, from ``slurmd -C``."""
    out = subprocess.run([_sbin("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
    fields = dict(tok.split("=", 1) for tok in out.split() if "=" in tok)
    cpus = int(fields.get("CPUs", os.cpu_count() or 1))
    memory = int(int(fields.get("RealMemory", 4000)) * 0.9)
    return cpus, memory


def _wait_for(
    check: Callable[[], bool], what: str, timeout: float, procs: list[subprocess.Popen[bytes]]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} while waiting for {what}")
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def _ok(cmd: list[str], needle: str = "") -> bool:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and needle in proc.stdout


def munge_works() -> bool:
    """True when a munged answers on the default socket."""
    try:
        cred = subprocess.run(["munge", "-n"], capture_output=True, timeout=10, check=True).stdout
        proc = subprocess.run(["unmunge"], input=cred, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def stop_leftover_daemons(timeout: float = 30) -> list[int]:
    """Stop slurmctld/slurmd left running by an earlier, aborted test session.

    Only daemons named in the PID files of a slurm.conf written by this module are touched,
    and only when that PID still runs the daemon the file names. Returns the stopped PIDs.
    """
    text = SLURM_CONF.read_text(errors="replace")
    if MARKER not in text:
        return []
    settings = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
    )
    stopped = []
    for key, daemon in (("SlurmdPidFile", "slurmd"), ("SlurmctldPidFile", "slurmctld")):
        pid_file = Path(settings.get(key, "/nonexistent"))
        try:
            pid = int(pid_file.read_text().split()[0])
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except (OSError, ValueError, IndexError):
            continue
        if name != daemon:
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        stopped.append(pid)
    return stopped


@dataclass
class SlurmCluster:
    """A running single-node cluster; ``stop()`` ends the daemons this object started."""

    state_dir: Path
    cpus: int = 0
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    wrote_config: bool = False

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "log"

    def start(self) -> SlurmCluster:
        """Write the config, start munged (unless one works), slurmctld and slurmd; wait for idle."""
        if os.geteuid() != 0:
            raise SlurmUnavailable("the single-node SLURM cluster runs its daemons as root")
        for conf in (SLURM_CONF, GRES_CONF):
            if conf.exists() and MARKER not in conf.read_text(errors="replace"):
                raise SlurmUnavailable(f"{conf} exists and was not written by this test; not overwriting it")
        if SLURM_CONF.exists():
            stop_leftover_daemons()
        if _ok(["scontrol", "ping"], "UP"):
            raise SlurmUnavailable("a slurmctld is already running here; not starting a second cluster")
        for sub in ("slurmctld", "slurmd", "log"):
            (self.state_dir / sub).mkdir(parents=True, exist_ok=True)
        self.cpus, memory = _node_hardware()
        values = {"marker": MARKER, "state": self.state_dir, "node": NODE, "partition": PARTITION}
        SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SLURM_CONF.write_text(SLURM_CONF_TEMPLATE.format(cpus=self.cpus, memory=memory, **values))
        GRES_CONF.write_text(GRES_CONF_TEMPLATE.format(**values))
        self.wrote_config = True
        try:
            self._start_munge()
            self._spawn("slurmctld", [_sbin("slurmctld"), "-D", "-i"])
            _wait_for(lambda: _ok(["scontrol", "ping"], "UP"), "slurmctld", 30, list(self.procs.values()))
            self._spawn("slurmd", [_sbin("slurmd"), "-D", "-N", NODE])
            _wait_for(self._node_idle, "an idle node", 60, list(self.procs.values()))
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, cmd: list[str], **kwargs: object) -> None:
        out = open(self.log_dir / f"{name}.out", "wb")  # noqa: SIM115 - lives as long as the daemon
        self.procs[name] = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kwargs,
        )
        out.close()

    def _start_munge(self) -> None:
        if munge_works():
            return  # a munged is already running (not ours: leave it alone)
        run_dir = Path("/run/munge")
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            subprocess.run(["mungekey", "--create", "--keyfile", str(key)], check=True, capture_output=True)
            shutil.chown(key, "munge", "munge")
            key.chmod(0o400)
        self._spawn("munged", [_sbin("munged"), "-F"], user="munge", group="munge", extra_groups=[])
        _wait_for(munge_works, "munged", 20, [self.procs["munged"]])

    def _node_idle(self) -> bool:
        proc = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=10, check=False
        )
        state = proc.stdout.strip()
        if state.startswith(("inval", "drain")):
            reason = subprocess.run(
                ["sinfo", "-R"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
            raise RuntimeError(f"SLURM node is {state}: {reason}")
        return state.startswith("idle")

    def cancel_jobs(self, timeout: float = 30) -> None:
        """Cancel every job of this private cluster and wait until the queue is empty."""
        if "slurmctld" not in self.procs or self.procs["slurmctld"].poll() is not None:
            return
        subprocess.run(
            ["scancel", "--full", f"--partition={PARTITION}"], capture_output=True, timeout=30, check=False
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            squeue = ["squeue", "-h", "-t", "all", "-o", "%T"]
            out = subprocess.run(squeue, capture_output=True, text=True, timeout=30, check=False).stdout
            if not {s for s in out.split() if s in ("PENDING", "RUNNING", "COMPLETING", "CONFIGURING")}:
                return
            time.sleep(0.5)

    def stop(self, timeout: float = 30) -> None:
        """Cancel leftover jobs, SIGTERM each daemon we started (by PID, newest first), drop the config."""
        try:
            self.cancel_jobs()
        finally:
            for name in reversed(list(self.procs)):
                proc = self.procs.pop(name)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=timeout)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(timeout=timeout)
            if self.wrote_config:  # its state and log folders are temporary: drop the config too
                for conf in (SLURM_CONF, GRES_CONF):
                    if conf.exists() and MARKER in conf.read_text(errors="replace"):
                        conf.unlink()
                self.wrote_config = False

    def logs(self, tail: int = 3000) -> str:
        """The tail of every daemon log (for failure messages)."""
        parts = []
        for path in sorted(self.log_dir.glob("*")):
            text = path.read_text(errors="replace")
            parts.append(f"--- {path.name} ---\n{text[-tail:]}")
        return "\n".join(parts)
