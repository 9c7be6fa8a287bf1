#!/usr/bin/env bash
# Builds template.yaml and deploys it into LocalStack with SAM CLI, then prints each API's URL.
# Two passes: the first creates the APIs; the second tells the services that call other APIs
# where those answer from inside the Docker network (LocalStack's own URLs). The APIs come from
# the template (python -m bookstore_dev.services apis), by its convention: a parameter named
# `<ApiLogicalId>Url` overrides where other services reach that API.
#   localstack/deploy.sh                 (make deploy)
# Environment: LOCALSTACK_ENDPOINT (http://localhost:4566), STACK_NAME (bookstore), STAGE (dev).
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_ENDPOINT_URL=${LOCALSTACK_ENDPOINT:-http://localhost:4566}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} SAM_CLI_TELEMETRY=0
STACK=${STACK_NAME:-bookstore}
STAGE=${STAGE:-dev}
SAM=${SAM:-sam}
PYTHON=${PYTHON:-python3}
# Inside the Docker network, the Collector and LocalStack by their compose service names.
# (AwsEndpointUrl: the template's empty default would hide the endpoint LocalStack injects.)
COMMON=("Stage=$STAGE" "OtlpEndpoint=http://otel-collector:4318" "AwsEndpointUrl=http://localstack:4566")

deploy() {
    "$SAM" deploy --stack-name "$STACK" --resolve-s3 \
        --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
        --no-confirm-changeset --no-fail-on-empty-changeset \
        --parameter-overrides "${COMMON[@]}" "$@"
}

api_id() {
    # (stdin closed: it is called inside the loop that reads the list of APIs)
    "$PYTHON" -c 'import sys, boto3
print(boto3.client("cloudformation").describe_stack_resource(StackName=sys.argv[1], LogicalResourceId=sys.argv[2])["StackResourceDetail"]["PhysicalResourceId"])' "$STACK" "$1" </dev/null
}

# One line per API: logical id, service.name, its `<ApiLogicalId>Url` parameter or -.
apis=$("$PYTHON" -m bookstore_dev.services apis)

"$SAM" build
deploy
inside="http://localstack:4566/restapis"
outside="$AWS_ENDPOINT_URL/restapis"
overrides=()
urls=()
while IFS=$'\t' read -r api name url_parameter; do
    id=$(api_id "$api")
    if [ "$url_parameter" != "-" ]; then
        overrides+=("$url_parameter=$inside/$id/$STAGE/_user_request_")
    fi
    urls+=("$(printf '  %-20s %s' "$name" "$outside/$id/$STAGE/_user_request_")")
done <<<"$apis"
if [ ${#overrides[@]} -gt 0 ]; then
    deploy "${overrides[@]}"
fi

echo
echo "Bookstore on LocalStack (stack $STACK), each service.name and its API's base URL:"
printf '%s\n' "${urls[@]}"
echo "Traces: http://localhost:16686 (Jaeger), and make traces (.local/telemetry/traces.jsonl)"
