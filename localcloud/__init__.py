"""The docker-free local cloud: `sam local start-api` + LocalStack for machines without Docker.

It reads template.yaml with SAM CLI's own providers, serves every `Api` route through SAM CLI's
own local API Gateway service (so the events are exactly `sam local start-api`'s), and runs each
function in real Lambda execution environments: separate processes running the real runtime
client (`awslambdaric`) against a Lambda Runtime API served here, with cold starts, warm reuse,
freeze between invocations, timeouts and `REPORT` lines. Next to it: a real PostgreSQL, moto's
server for the AWS APIs, and an OTLP receiver writing Collector `file` exporter JSON lines.
"""
