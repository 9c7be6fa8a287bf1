"""API Gateway's `AWS_IAM` authorization, enforced as API Gateway does (`sam local` does not).

Which routes need it comes from the template: an API's `Auth.DefaultAuthorizer: AWS_IAM`, and an
event's `Auth.Authorizer` (`NONE` opens that route, `AWS_IAM` closes it). Who may call what also
comes from the template: each function's execution role gets the `Statement`s of its `Policies`
(SAM has already expanded its policy templates); the local cloud gives each function's
environments credentials of their own for that role (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
`AWS_SESSION_TOKEN`, as Lambda does), and creates one admin identity allowed everything, written
to the state directory in the AWS shared-credentials format.

A request to a closed route must be signed with Signature Version 4 for `execute-api` by known
credentials, within 5 minutes of now, and its caller's policy must allow `execute-api:Invoke` on
the route's ARN (`arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/PATH`; the API's id is
its logical id here), with no statement denying it. Otherwise: API Gateway's `403` and message.
The signature is computed with botocore's own SigV4 signer, as the caller's SDK does.
"""

from __future__ import annotations

import base64
import configparser
import fnmatch
import hmac
import os
import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from localcloud.errors import LocalCloudError

ACCOUNT = "123456789012"
CREDENTIALS_FILE = "admin-credentials"  # in the state directory
SERVICE = "execute-api"
MAX_SKEW = timedelta(minutes=5)
AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,\s*"
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
# API Gateway's own answers.
MISSING_TOKEN = "Missing Authentication Token"  # noqa: S105 - a message, not a secret
INVALID_TOKEN = "The security token included in the request is invalid."  # noqa: S105 - a message
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
EXPIRED = "Signature expired: the request is more than 5 minutes away from the server's time."


@dataclass(frozen=True)
class Principal:
    arn: str
    access_key: str
    secret_key: str
    session_token: str | None
    statements: tuple[dict[str, Any], ...]  # allow everything when empty and `admin`
    admin: bool = False

    def environment(self) -> dict[str, str]:
        """The credentials as Lambda gives them to an execution environment."""
        variables = {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        if self.session_token:
            variables["AWS_SESSION_TOKEN"] = self.session_token
        return variables

    def may_invoke(self, arn: str) -> bool:
        if self.admin:
            return True
        matching = [statement for statement in self.statements if _applies(statement, arn)]
        return any(s.get("Effect") == "Allow" for s in matching) and not any(s.get("Effect") == "Deny" for s in matching)


@dataclass(frozen=True)
class Door:
    api: str  # the API's logical id
    stage: str
    iam: bool  # AWS_IAM authorization


@dataclass
class AccessControl:
    region: str
    doors: dict[tuple[str, str, str], Door]  # (function, METHOD, route path) → its door
    principals: dict[str, Principal] = field(default_factory=dict)  # by access key
    roles: dict[str, Principal] = field(default_factory=dict)  # by function

    @classmethod
    def from_template(cls, resources: dict[str, Any], region: str) -> AccessControl:
        apis = {name: r.get("Properties") or {} for name, r in resources.items() if r.get("Type") == "AWS::Serverless::Api"}
        doors: dict[tuple[str, str, str], Door] = {}
        access = cls(region, doors)
        for name, resource in resources.items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            properties = resource.get("Properties") or {}
            for event in (properties.get("Events") or {}).values():
                if event.get("Type") != "Api":
                    continue
                settings = event.get("Properties") or {}
                api_id = str(settings.get("RestApiId") or "ServerlessRestApi")
                api = apis.get(api_id, {})
                authorizer = (settings.get("Auth") or {}).get("Authorizer") or (api.get("Auth") or {}).get("DefaultAuthorizer")
                if authorizer not in {None, "NONE", "AWS_IAM"}:
                    raise LocalCloudError(f"{name}: authorizer {authorizer!r} is not enforced by the local cloud (AWS_IAM or NONE)")
                door = Door(api_id, str(api.get("StageName", "Prod")), authorizer == "AWS_IAM")
                doors[(name, str(settings["Method"]).upper(), str(settings["Path"]))] = door
            statements = tuple(
                statement
                for policy in properties.get("Policies") or []
                if isinstance(policy, dict)
                for statement in _as_list(policy.get("Statement"))
            )
            role = Principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}Role/{name}", _key("ASIA"), _secret(), _secret(), statements)
            access.roles[name] = access._add(role)
        return access

    def _add(self, principal: Principal) -> Principal:
        self.principals[principal.access_key] = principal
        return principal

    def admin(self, credentials_file: Path, profile: str) -> Principal:
        """The admin identity, kept in `credentials_file` (AWS shared-credentials format, mode
        0600) across restarts, so a configured profile or curl command keeps working."""
        parser = configparser.ConfigParser()
        if credentials_file.exists():
            parser.read(credentials_file)
        if not parser.has_option(profile, "aws_access_key_id") or not parser.has_option(profile, "aws_secret_access_key"):
            parser[profile] = {"aws_access_key_id": _key("AKIA"), "aws_secret_access_key": _secret(), "region": self.region}
            credentials_file.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as output:
                parser.write(output)
        os.chmod(credentials_file, 0o600)
        section = parser[profile]
        user = f"arn:aws:iam::{ACCOUNT}:user/{profile}"
        return self._add(Principal(user, section["aws_access_key_id"], section["aws_secret_access_key"], None, (), admin=True))

    def refusal(self, function: str, event: dict[str, Any], now: datetime | None = None) -> tuple[str, Principal | None]:
        """Why API Gateway would refuse this request to `function` ("" when it may pass), and its
        caller when the request was signed by one."""
        door = self.doors.get((function, str(event.get("httpMethod", "")).upper(), str(event.get("resource", ""))))
        if door is None:  # a way in the template does not declare: closed, whatever it is
            return MISSING_TOKEN, None
        if not door.iam:
            return "", None
        headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
        match = AUTHORIZATION.match(headers.get("authorization", ""))
        if not match:
            return MISSING_TOKEN, None
        principal = self.principals.get(match["key"])
        if principal is None or match["service"] != SERVICE or match["region"] != self.region:
            return INVALID_TOKEN, None
        token = headers.get("x-amz-security-token", "")
        if principal.session_token is not None and not hmac.compare_digest(token, principal.session_token):
            return INVALID_TOKEN, None
        signed = match["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed or any(name not in headers for name in signed):
            return BAD_SIGNATURE, None
        try:
            when = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return BAD_SIGNATURE, None
        if abs((now or datetime.now(UTC)) - when) > MAX_SKEW:
            return EXPIRED, None
        if not hmac.compare_digest(self._signature(principal, event, headers, signed), match["signature"]):
            return BAD_SIGNATURE, None
        arn = f"arn:aws:execute-api:{self.region}:{ACCOUNT}:{door.api}/{door.stage}/{event['httpMethod']}{event.get('path', '')}"
        if not principal.may_invoke(arn):
            return f"User: {principal.arn} is not authorized to perform: execute-api:Invoke on resource: {arn}", principal
        return "", principal

    def _signature(self, principal: Principal, event: dict[str, Any], headers: dict[str, str], signed: list[str]) -> str:
        query = event.get("multiValueQueryStringParameters") or {}
        pairs = sorted((name, value) for name, values in query.items() for value in values)
        url = f"http://{headers['host']}{quote(str(event.get('path', '')), safe='/~')}" + (
            f"?{urlencode(pairs, quote_via=quote)}" if pairs else ""
        )
        body = event.get("body") or ""
        data = _decoded(body) if event.get("isBase64Encoded") else body.encode()
        request = AWSRequest(method=str(event["httpMethod"]), url=url, data=data, headers={name: headers[name] for name in signed})
        request.context["timestamp"] = headers["x-amz-date"]
        signer = SigV4Auth(Credentials(principal.access_key, principal.secret_key, principal.session_token), SERVICE, self.region)
        canonical = signer.canonical_request(request)
        return str(signer.signature(signer.string_to_sign(request, canonical), request))


def _applies(statement: dict[str, Any], arn: str) -> bool:
    actions = [str(action).lower() for action in _as_list(statement.get("Action"))]
    if not any(fnmatch.fnmatchcase("execute-api:invoke", action) for action in actions):
        return False
    return any(fnmatch.fnmatchcase(arn, str(resource)) for resource in _as_list(statement.get("Resource")))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _decoded(body: str) -> bytes:
    return base64.b64decode(body)


def _key(prefix: str) -> str:
    return prefix + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))


def _secret() -> str:
    return secrets.token_urlsafe(30)
