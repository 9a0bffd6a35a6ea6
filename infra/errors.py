"""Errors raised while standing up the local services.

ServiceError            base: a message meant for a person, printed without a traceback
├── ToolMissing         java, mvn or redis-server is not installed (says how to install it)
├── PortInUse           another process holds a port a service needs
├── SettingMissing      the settings ask for something a service cannot do as given (names the variable)
└── ServiceFailedToStart the process exited or never became ready (points at its log)
"""


class ServiceError(Exception):
    """A local service could not be managed; str(error) tells a person what to do."""


class ToolMissing(ServiceError):
    """A program the local stack needs is not installed; the message says how to install it."""

    pass


class PortInUse(ServiceError):
    """A port the local stack needs is taken; the message names the setting that moves it."""

    pass


class SettingMissing(ServiceError):
    """A setting a local service needs is missing or unusable; the message names the variable."""

    pass


class ServiceFailedToStart(ServiceError):
    """A local service exited or was not ready in time; the message has its log's tail."""

    pass
