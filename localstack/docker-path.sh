#!/usr/bin/env bash
# What the Docker path's commands share, sourced by provision.sh and deploy.sh:
# one region and one set of LocalStack credentials, whatever the shell had exported, and the
# template parameters that place the functions inside the Docker network.
#   source localstack/docker-path.sh
# A shell's AWS settings must not reach LocalStack or its functions: a preset region
# other than this one would deploy the functions where their secrets are not (LocalStack keeps
# each region apart), a real access key would pick another LocalStack account (and send a real
# key to an emulator), and a session token or profile would be passed into every container.

# The region `make up` writes the secrets to and `make deploy` uses.
DOCKER_PATH_REGION=us-east-1
for preset in AWS_REGION AWS_DEFAULT_REGION; do
    if [ -n "${!preset:-}" ] && [ "${!preset}" != "$DOCKER_PATH_REGION" ]; then
        echo "docker path: $preset=${!preset} is preset, but make up writes the secrets to $DOCKER_PATH_REGION;" \
            "unset $preset (LocalStack keeps each region apart: the functions would not find their secrets)" >&2
        exit 1
    fi
done
export AWS_REGION=$DOCKER_PATH_REGION AWS_DEFAULT_REGION=$DOCKER_PATH_REGION
# LocalStack takes any credentials; "test" is its default account (000000000000).
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ENDPOINT_URL

# Where the functions reach LocalStack and the Collector: inside the Docker network, by their
# compose service names.
FUNCTIONS_REACH_LOCALSTACK=http://localstack:4566
FUNCTIONS_REACH_COLLECTOR=http://otel-collector:4318
# make deploy only (DOCKER_PATH_READS_SESSION=1): while make localstack runs (LocalStack without
# Docker), its session file says where instead, since the functions are processes on this host.
# The file is read, not sourced, and trusted only while its pid is that runner (not a file left by
# a killed run, not a reused pid) and it names the LocalStack deployed to (LOCALSTACK_ENDPOINT,
# when set). Provisioning runs containers: it never reads it.
LOCALSTACK_SESSION_ENDPOINT=
LOCALSTACK_SESSION_TELEMETRY=
localstack_session=${LOCALSTACK_SESSION:-"$(dirname "${BASH_SOURCE[0]}")/../.local/localstack/session.env"}
# shellcheck disable=SC2034 # the session's endpoint and telemetry folder are deploy.sh's
if [ "${DOCKER_PATH_READS_SESSION:-}" = 1 ] && [ -f "$localstack_session" ]; then
    # (never fails: the scripts that source this run with set -euo pipefail)
    session_value() { sed -n "s/^$1=//p" "$localstack_session" | head -n 1 || true; }
    session_pid=$(session_value LOCALSTACK_HOST_PID)
    session_endpoint=$(session_value LOCALSTACK_HOST_ENDPOINT)
    if [[ "$session_pid" =~ ^[0-9]+$ ]] && [[ "$(ps -o args= -p "$session_pid" 2>/dev/null || true)" == *localcloud.localstack_host* ]] &&
        { [ -z "${LOCALSTACK_ENDPOINT:-}" ] || [ "$LOCALSTACK_ENDPOINT" = "$session_endpoint" ]; }; then
        FUNCTIONS_REACH_LOCALSTACK=$(session_value FUNCTIONS_REACH_LOCALSTACK)
        FUNCTIONS_REACH_COLLECTOR=$(session_value FUNCTIONS_REACH_COLLECTOR)
        LOCALSTACK_SESSION_ENDPOINT=$session_endpoint
        LOCALSTACK_SESSION_TELEMETRY=$(session_value TELEMETRY_DIR)
    fi
    unset -f session_value
    unset session_pid session_endpoint
fi
unset localstack_session

# Template parameters of make deploy, on Docker and on make localstack. AwsEndpointUrl: the
# template's empty default would hide the endpoint LocalStack injects.
# DependencyTimeoutSeconds: a dependency's first call waits for a new environment (a container is
# created, started, then the function's init: 3-8 s on a laptop, against 0.5-1.5 s on Lambda), so
# 8 s instead of the template's 4.
# shellcheck disable=SC2034 # used by the scripts that source this file
DOCKER_PATH_PARAMETERS=(
    "OtlpEndpoint=$FUNCTIONS_REACH_COLLECTOR"
    "AwsEndpointUrl=$FUNCTIONS_REACH_LOCALSTACK"
    "DependencyTimeoutSeconds=8"
)
