"""The console's load generator never outlives the cloud that started it, even a cloud killed
outright (kill -9 runs no clean-up): the kernel's parent-death signal ends it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from localcloud.process import wait_until

# A cloud stand-in: starts a generator through the console's LoadGenerator (from a request-like
# thread that ends at once, as a web request's does), prints the generator's pid, then waits.
CLOUD = textwrap.dedent(
    """
    import sys, threading, time
    from localcloud.console.load import LoadGenerator
    forever = [sys.executable, "-c", "import time\\nwhile True: time.sleep(0.1)"]
    generator = LoadGenerator(forever, lambda line: print(line, file=sys.stderr))
    request = threading.Thread(target=lambda: print("generator", generator.start()["pid"], flush=True))
    request.start()
    request.join()
    print("request ended", flush=True)
    while True:
        time.sleep(0.1)
    """
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


def test_a_killed_cloud_takes_its_load_generator_with_it() -> None:
    # Given a cloud whose console started the load generator from a request's thread
    cloud = subprocess.Popen([sys.executable, "-c", CLOUD], stdout=subprocess.PIPE, text=True)  # noqa: S603 - our module
    try:
        assert cloud.stdout is not None
        line = cloud.stdout.readline()
        assert line.startswith("generator "), line
        generator = int(line.split()[1])
        # And the generator outlives that request's thread
        assert cloud.stdout.readline() == "request ended\n"
        assert alive(generator)
        # When the cloud is killed outright
        cloud.send_signal(signal.SIGKILL)
        cloud.wait()
        # Then the generator ends too
        wait_until(lambda: not alive(generator) or None, "the load generator to end with its cloud")
    finally:
        cloud.kill()
        cloud.wait()
