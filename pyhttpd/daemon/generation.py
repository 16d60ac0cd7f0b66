"""A generation: one config's workers, and how a config becomes one (at start and on HUP).

Everything that can fail is done here, before any worker changes: the config is read and
checked, the worker identity resolved, the handler imported and tried by a throw-away interpreter,
and new listeners bound. Any failure raises and leaves the running generation untouched.
"""

from dataclasses import dataclass, replace

from ..config import Config, ConfigError, load_config
from ..tls import TLSConfigError, load_material
from .handler_check import HandlerCheckFailed, check_handler, needs_check
from .listener_set import ListenerSet
from .privileges import Credentials, PrivilegeError, ensure_can_switch, resolve_credentials
from .sockets import BoundListener, ListenError
from .worker_handle import WORKER_COMMAND

# What can refuse a generation; str() of each is one readable line.
GENERATION_ERRORS = (ConfigError, PrivilegeError, HandlerCheckFailed, ListenError, TLSConfigError)


@dataclass
class Generation:
    """One config's workers: its number, the config, its bound listeners, who workers run as."""

    number: int
    config: Config
    listeners: list[BoundListener]
    credentials: Credentials | None


def check_identity(config: Config) -> Credentials | None:
    """The worker identity ``config`` asks for; raises PrivilegeError if we cannot assume it."""
    credentials = resolve_credentials(config.user, config.group)
    ensure_can_switch(credentials)
    return credentials


def build_generation(config: Config, number: int, listener_set: ListenerSet,
                     command: tuple[str, ...] = WORKER_COMMAND) -> Generation:
    """Generation ``number`` for ``config``: identity checked, handler checked, listeners bound.

    Raises one of GENERATION_ERRORS; on failure nothing new stays bound.
    """
    credentials = check_identity(config)
    if needs_check(config, credentials):
        check_handler(config, credentials, config.worker_ready_timeout, command)
    tls_by_name = check_certificates(config)
    bound = listener_set.bind(config.listeners)
    proxied = {listener.name or str(listener) for listener in config.listeners if listener.proxy_protocol}
    listeners = [replace(listener, tls=tls_by_name.get(listener.name),
                         proxy_protocol=listener.name in proxied) for listener in bound]
    return Generation(number, config, listeners, credentials)


def check_certificates(config: Config) -> dict:
    """{listener name: TLSMaterial} for the HTTPS listeners, each certificate read and checked.

    The master reads the files once (workers may not be able to): every worker of the
    generation, even one started later, gets what was checked here. Raises TLSConfigError
    for one that is unreadable, does not match its key, or has expired.
    """
    tls_by_name = {}
    for listener in config.listeners:
        if listener.tls:
            tls_by_name[listener.name or str(listener)] = load_material(listener.tls)
    return tls_by_name


def reload_generation(argv: list[str], number: int, listener_set: ListenerSet,
                      command: tuple[str, ...] = WORKER_COMMAND) -> Generation:
    """Read the config again from the original command line and build generation ``number``.

    Raises one of GENERATION_ERRORS.
    """
    return build_generation(load_config(argv), number, listener_set, command)
