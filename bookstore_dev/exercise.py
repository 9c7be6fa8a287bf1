"""`make exercise`: "something is wrong — find it". Against a running local cloud (`make run`), it
turns on one fault at a time, picked with a seed (the same seed, the same faults, for every
trainee's laptop), for a round; the trainees find it in the traces, logs and metrics (with `make
load` running, say). At the end of each round it says what it was, and turns it off; when it ends
(or is interrupted) every fault is off.

    python -m bookstore_dev.exercise [--seed 7] [--rounds 3] [--minutes 5] [--url http://127.0.0.1:3000]

The faults are the feature flags' (every variant but `off` of flags/bookstore.flagd.json) and a
few of the platform's (localcloud.platform_faults) on the order's functions, as the template
names them.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from bookstore_dev.startup import FLAGS
from bookstore_dev.template import load

# Platform faults worth a round, on functions of the order flow ({function} is each one of them).
PLATFORM = ("{function}:delay=1500@50", "{function}:error@30", "{function}:cold@100", "{function}:throttle=1", "receiver:slow=1500")
ORDER_FLOW = ("CriarOrdemFunction", "ObterLivroFunction", "ReservarEstoqueFunction", "CriarPagamentoFunction")


@dataclass(frozen=True)
class Fault:
    command: str  # the control route that turns it on: flag/NAME=VARIANT or fault/SPEC
    answer: str  # what it was, said at the end of its round

    def turn_on(self, api: httpx.Client) -> None:
        kind, argument = self.command.split("/", 1)
        api.post(f"/_localcloud/{kind}/{quote(argument, safe='')}").raise_for_status()


def catalogue() -> list[Fault]:
    """Every fault an exercise may pick, in a fixed order (the seed then picks the same ones)."""
    flags = json.loads(FLAGS.read_text())["flags"]
    faults = [
        Fault(f"flag/{name}={variant}", f"feature flag {name} = {variant}: {flag['metadata']['description']}")
        for name, flag in sorted(flags.items())
        for variant in flag["variants"]
        if variant != flag["defaultVariant"]
    ]
    functions = set(load()["Resources"])
    for pattern in PLATFORM:
        for function in ORDER_FLOW if "{function}" in pattern else ("",):
            if function and function not in functions:
                raise SystemExit(f"exercise: the template has no {function}")
            spec = pattern.format(function=function)
            faults.append(Fault(f"fault/{spec}", f"platform fault {spec} (python -m localcloud fault)"))
    return faults


def pick(seed: int, rounds: int) -> list[Fault]:
    """`rounds` different faults, the same ones for the same seed."""
    faults = catalogue()
    return random.Random(seed).sample(faults, min(rounds, len(faults)))  # noqa: S311 - a class exercise, not a secret


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 1000, help="the same seed picks the same faults")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=5.0, help="how long each round lasts")
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    args = parser.parse_args(argv)
    api = httpx.Client(base_url=args.url, timeout=30)
    picked = pick(args.seed, args.rounds)
    print(f"exercise (seed {args.seed}): {len(picked)} rounds of {args.minutes:g} min; something will be wrong — find it.", flush=True)
    try:
        api.post("/_localcloud/faults-off").raise_for_status()
        for number, fault in enumerate(picked, 1):
            fault.turn_on(api)
            print(f"round {number}: something is wrong now. Look at the traces, the logs, the metrics.", flush=True)
            time.sleep(args.minutes * 60)
            api.post("/_localcloud/faults-off").raise_for_status()
            print(f"round {number} is over. It was: {fault.answer}. Everything is off again.", flush=True)
    except httpx.HTTPError as error:
        print(f"exercise: the local cloud at {args.url} did not answer ({error}); is make run running?", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        try:
            api.post("/_localcloud/faults-off").raise_for_status()
        except httpx.HTTPError as error:
            print(f"exercise interrupted; the local cloud did not turn the faults off ({error})", file=sys.stderr)
            return 2
        print("exercise interrupted: every fault off", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
