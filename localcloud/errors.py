"""Errors that stop the local cloud with a one-line message naming the cause."""


class LocalCloudError(Exception):
    pass
