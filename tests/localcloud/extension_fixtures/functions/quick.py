import json
import os
import signal
import sys
import time

RECORD = os.path.join(os.environ["RECORD_DIR"], f"runtime-{os.getpid()}.jsonl")


def _terminated(signum, frame):
    # Lambda sends SIGTERM to the runtime before it ends an environment that has extensions.
    with open(RECORD, "a", encoding="utf-8") as file:
        file.write(json.dumps({"kind": "sigterm", "at_ms": time.time() * 1000}) + "\n")
    sys.exit(0)


signal.signal(signal.SIGTERM, _terminated)


def handler(event, context):
    print(f"quick handler for {context.aws_request_id}")
    return {"statusCode": 200, "body": json.dumps({"pid": os.getpid(), "request_id": context.aws_request_id})}
