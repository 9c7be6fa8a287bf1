#!/usr/bin/env bash
# Builds template.yaml and deploys it into LocalStack with SAM CLI, then prints each API's URL.
# Two passes: the first creates the APIs; the second tells Ordem de Compra where Cadastro de
# Livros and Pagamento answer from inside the Docker network (LocalStack's own URLs).
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
    "$PYTHON" -c 'import sys, boto3
print(boto3.client("cloudformation").describe_stack_resource(StackName=sys.argv[1], LogicalResourceId=sys.argv[2])["StackResourceDetail"]["PhysicalResourceId"])' "$STACK" "$1"
}

"$SAM" build
deploy
livros=$(api_id LivrosApi)
ordens=$(api_id OrdensApi)
pagamentos=$(api_id PagamentosApi)
inside="http://localstack:4566/restapis"
deploy "LivrosApiUrl=$inside/$livros/$STAGE/_user_request_" "PagamentosApiUrl=$inside/$pagamentos/$STAGE/_user_request_"

outside="$AWS_ENDPOINT_URL/restapis"
echo
echo "Bookstore on LocalStack (stack $STACK):"
echo "  Cadastro de Livros  $outside/$livros/$STAGE/_user_request_/livros"
echo "  Ordem de Compra     $outside/$ordens/$STAGE/_user_request_/ordens"
echo "  Pagamento           $outside/$pagamentos/$STAGE/_user_request_/pagamentos"
echo "Traces: http://localhost:16686 (Jaeger), and make traces (.local/telemetry/traces.jsonl)"
