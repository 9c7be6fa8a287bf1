"""Hot reload: a change to a function's code or to a layer recycles the environments."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

DEBOUNCE_S = 0.3


def watch(directories: list[Path], changed: Callable[[Path], None]) -> Callable[[], None]:
    """Calls `changed` once per burst of edits to .py files; returns the function that stops watching."""
    timer: list[threading.Timer] = []
    lock = threading.Lock()

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            path = Path(str(event.src_path))
            if event.is_directory or path.suffix != ".py" or event.event_type in {"opened", "closed_no_write"}:
                return
            with lock:
                for pending in timer:
                    pending.cancel()
                timer.clear()
                timer.append(threading.Timer(DEBOUNCE_S, changed, args=(path,)))
                timer[0].daemon = True
                timer[0].start()

    observer = Observer()
    for directory in directories:
        if directory.is_dir():
            observer.schedule(Handler(), str(directory), recursive=True)
    observer.daemon = True
    observer.start()

    def stop() -> None:
        observer.stop()
        observer.join(timeout=5)

    return stop
