"""SIGTERM as a preemption notice: a request to save the step reached and exit 0.

`jgan train` catches it before loading JAX's backends, so a notice during start-up or compilation
is honoured too; before that (Python's imports) the process ends by the signal, having written
nothing. Multi-process jobs use Orbax's preemption sync point instead (jgan.run.checkpoint).
"""
import signal
import threading

REQUESTED = threading.Event()


def catch():
    """Installs the handler (main thread only); returns the previous one, or None."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, lambda *_: REQUESTED.set())


def release(previous) -> None:
    """Puts `previous` back and forgets a notice (one in-process run does not stop the next)."""
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)
    REQUESTED.clear()


def ignore() -> None:
    """Ignores SIGTERM from now on: for a process whose run has ended. Python puts the default
    action back for a handler of its own while it shuts down, and a late notice would then end
    the process by the signal instead of its exit status; an ignored signal stays ignored."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
