"""Errors that stop the local cloud with a one-line message naming the cause. Through a control
route (or the console), each is an HTTP answer: its class says which."""


class LocalCloudError(Exception):
    status = 400  # what was asked cannot be done as asked (a bad fault spec, an unknown flag…)


class NotFound(LocalCloudError):
    status = 404  # what the route names does not exist (a schedule)


class Conflict(LocalCloudError):
    status = 409  # not with how this cloud was started (no --flags, telemetry sent elsewhere)


class Unavailable(LocalCloudError):
    status = 503  # something the cloud relies on did not answer (the OTLP receiver, the flags file)
