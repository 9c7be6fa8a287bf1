"""A function with an internal extension: registered from the runtime's own process during the
init, it works after each response, before the environment may freeze."""

import json
import os
import queue
import threading
import time
import urllib.error
import urllib.request

EXTENSION_API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2020-01-01/extension"
RECORD = os.path.join(os.environ["RECORD_DIR"], f"internal-{os.getpid()}.jsonl")
WORK_S = 0.4


def _call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{EXTENSION_API}{path}", data=data, method=method, headers=headers or {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=None) as answer:  # noqa: S310
            return answer.status, dict(answer.headers), json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def _record(kind, **fields):
    with open(RECORD, "a", encoding="utf-8") as file:
        file.write(json.dumps({"kind": kind, "at_ms": time.time() * 1000, **fields}) + "\n")


# An internal extension may not ask for SHUTDOWN.
REFUSED = _call("POST", "/register", {"events": ["INVOKE", "SHUTDOWN"]}, {"Lambda-Extension-Name": "wants-shutdown"})
_, _headers, _ = _call("POST", "/register", {"events": ["INVOKE"]}, {"Lambda-Extension-Name": "post-runtime-worker"})
IDENTIFIER = _headers["Lambda-Extension-Identifier"]
_answered = queue.SimpleQueue()


def _worker():
    while True:
        _, _, event = _call("GET", "/event/next", headers={"Lambda-Extension-Identifier": IDENTIFIER})
        _answered.get()  # the handler has returned: its response is on its way
        time.sleep(WORK_S)  # the work done after the response
        _record("worked", request_id=event["requestId"])


threading.Thread(target=_worker, daemon=True).start()


def handler(event, context):
    body = {"pid": os.getpid(), "request_id": context.aws_request_id, "refused": {"status": REFUSED[0], "body": REFUSED[2]}}
    if (event.get("queryStringParameters") or {}).get("register") == "late":
        status, _, answer = _call("POST", "/register", {"events": ["INVOKE"]}, {"Lambda-Extension-Name": "too-late"})
        body["late"] = {"status": status, "body": answer}
    _answered.put(context.aws_request_id)
    return {"statusCode": 200, "body": json.dumps(body)}
