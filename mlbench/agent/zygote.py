"""The kernel fork server's process (``python -m mlbench.agent.zygote``).

It imports ipykernel and IPython once, then forks a new kernel for each request it reads on
stdin; the child starts ``IPKernelApp`` at once, skipping the imports that are most of a fresh
kernel's start-up. Protocol, one JSON object per line:

- stdin:  ``{"id": n, "connection_file": ..., "env": {...}, "cwd": ...}``
- stdout: ``{"id": n, "pid": p}`` (or ``{"id": n, "error": ...}``) and, when a kernel ends,
  ``{"exited": p, "status": code}`` (negative: killed by that signal), like ``Popen.returncode``.

The server runs no thread, so forking is safe; it exits when its parent (the agent) is gone or
closes stdin, and its kernels follow it (they watch their parent, as ipykernel kernels do).
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
from typing import Any


def main() -> int:
    # What a kernel would import at start-up: paid once here instead of once per kernel.
    import ipykernel.ipkernel
    import ipykernel.kernelapp  # noqa: F401
    import IPython  # noqa: F401

    parent = os.getppid()
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # nothing else may write to the protocol pipe
    stdin = sys.stdin.buffer
    # A kernel's exit wakes the loop at once (the agent waits on it to free a job's GPUs).
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    _send(out, {"ready": os.getpid()})
    while True:
        readable, _, _ = select.select([stdin, wake_r], [], [], 0.5)
        if wake_r in readable:
            os.read(wake_r, 512)
        _reap(out)
        if os.getppid() != parent:
            return 0
        if stdin not in readable:
            continue
        line = stdin.readline()
        if not line:
            return 0
        try:
            request = json.loads(line)
            pid = os.fork()
        except Exception as exc:
            _send(out, {"id": None, "error": f"{type(exc).__name__}: {exc}"})
            continue
        if pid == 0:
            for fd in (wake_r, wake_w):
                os.close(fd)
            _become_kernel(request, out)
        _send(out, {"id": request.get("id"), "pid": pid})


def _become_kernel(request: dict[str, Any], out: Any) -> None:
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        out.close()
        os.close(0)
        os.open(os.devnull, os.O_RDONLY)  # becomes fd 0
        os.setsid()  # its own process group: interrupts and kills reach it and its children
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        sys.path[0] = request["cwd"]  # as for `python -m ipykernel_launcher` started there
        os.environ.clear()
        os.environ.update(request["env"])
        parent = str(os.getppid())
        os.environ["JPY_PARENT_PID"] = parent
        from ipykernel.kernelapp import IPKernelApp

        sys.argv = [sys.executable, "-m", "ipykernel_launcher", "-f", request["connection_file"]]
        # The kernel exits when this server does. Its trait default was read from the
        # environment when ipykernel was imported here, so pass it explicitly.
        IPKernelApp.launch_instance(argv=[*sys.argv[3:], f"--IPKernelApp.parent_handle={parent}"])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def _reap(out: Any) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(out, {"exited": pid, "status": os.waitstatus_to_exitcode(status)})


def _send(out: Any, message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")


if __name__ == "__main__":
    sys.exit(main())
