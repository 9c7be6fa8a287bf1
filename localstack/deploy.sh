#!/usr/bin/env bash
# Builds template.yaml and deploys it into LocalStack with SAM CLI, then prints each API's URL.
# The build is LocalStack's own (.aws-sam/localstack): LocalStack's community image accepts
# Lambda layers but never mounts them, so localstack/inline_layers.py copies the shared layer
# into every function's package (.aws-sam/build, for AWS and `sam local`, keeps the layer).
# One pass: `ExecuteApiEndpoint` tells the services that call other APIs where those answer (from
# inside the Docker network, or this host under make localstack): LocalStack's path-style
# execute-api URLs, which need no DNS.
# The APIs printed come from the template (python -m bookstore_dev.services apis).
#   localstack/deploy.sh [Name=Value ...]      (make deploy ARGS="TelemetryExport=flush")
# Environment: LOCALSTACK_ENDPOINT (http://localhost:4566), STACK_NAME (bookstore), STAGE (dev),
# LOCALSTACK_SESSION (make localstack's session file, read by localstack/docker-path.sh; while it
# runs, LocalStack's endpoint defaults to the session's).
# The region is the Docker path's (localstack/docker-path.sh): a preset AWS_REGION or
# AWS_DEFAULT_REGION that differs is refused, since make up wrote the secrets there.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=localstack/docker-path.sh
DOCKER_PATH_READS_SESSION=1 source localstack/docker-path.sh

export AWS_ENDPOINT_URL=${LOCALSTACK_ENDPOINT:-${LOCALSTACK_SESSION_ENDPOINT:-http://localhost:4566}} SAM_CLI_TELEMETRY=0
STACK=${STACK_NAME:-bookstore}
STAGE=${STAGE:-dev}
SAM=${SAM:-sam}
PYTHON=${PYTHON:-python3}
BUILD_DIR=${BUILD_DIR:-.aws-sam/localstack}

parameters=("Stage=$STAGE" "ExecuteApiEndpoint=$FUNCTIONS_REACH_LOCALSTACK" "${DOCKER_PATH_PARAMETERS[@]}" "$@")

api_id() {
    # (stdin closed: it is called inside the loop that reads the list of APIs)
    "$PYTHON" -c 'import sys, boto3
print(boto3.client("cloudformation").describe_stack_resource(StackName=sys.argv[1], LogicalResourceId=sys.argv[2])["StackResourceDetail"]["PhysicalResourceId"])' "$STACK" "$1" </dev/null
}

# One line per API: logical id, service.name, its `<ApiLogicalId>Url` parameter or -.
apis=$("$PYTHON" -m bookstore_dev.services apis)

"$SAM" build --build-dir "$BUILD_DIR"
"$PYTHON" localstack/inline_layers.py "$BUILD_DIR"
"$SAM" deploy --template-file "$BUILD_DIR/template.yaml" --stack-name "$STACK" --resolve-s3 \
    --region "$DOCKER_PATH_REGION" --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
    --no-confirm-changeset --no-fail-on-empty-changeset --parameter-overrides "${parameters[@]}"
# LocalStack's path-style execute-api route, from the host as the functions use it: it needs no
# DNS (the host-style <id>.execute-api.localhost.localstack.cloud does: LocalStack's DNS in the
# network, a public resolver from the host). It replaces `/restapis/<id>/<stage>/_user_request_`,
# deprecated since LocalStack 3.8.
urls=()
while IFS=$'\t' read -r api name _; do
    urls+=("$(printf '  %-20s %s' "$name" "$AWS_ENDPOINT_URL/_aws/execute-api/$(api_id "$api")/$STAGE")")
done <<<"$apis"

echo
echo "Bookstore on LocalStack (stack $STACK), each service.name and its API's base URL:"
printf '%s\n' "${urls[@]}"
if [ -z "$LOCALSTACK_SESSION_ENDPOINT" ]; then
    echo "Traces: http://localhost:16686 (Jaeger), and make traces (.local/telemetry/traces.jsonl)"
else
    # make localstack's session file (read by docker-path.sh) names the receiver's directory
    traces=${LOCALSTACK_SESSION_TELEMETRY:-.local/telemetry}/traces.jsonl
    printf "Traces: %s, written by make localstack's OTLP receiver (make traces ARGS=%q)\n" "$traces" "$traces"
fi
