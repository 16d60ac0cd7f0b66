"""Small pure pieces of the master: privileges, backoff, worker settings, states, log lines."""

import json
import random
from dataclasses import fields

import pytest

from pyhttpd.config import load_config
from pyhttpd.daemon import states
from pyhttpd.daemon.backoff import MAX_DELAY_S, SlotBackoff, backoff_delay, is_early_death
from pyhttpd.daemon.master_log import log_targets
from pyhttpd.daemon.privileges import (
    PrivilegeError,
    ensure_can_switch,
    identity_environment,
    popen_identity,
    resolve_credentials,
)
from pyhttpd.daemon.proctitle import master_title
from pyhttpd.daemon.worker_handle import WorkerHandle
from pyhttpd.daemon.worker_settings import jittered_max_requests, worker_settings
from pyhttpd.protocol import Limits

# -- privileges ---------------------------------------------------------------------------------


def test_no_user_and_no_group_means_no_switch():
    assert resolve_credentials(None, None) is None
    assert popen_identity(None) == {} and identity_environment(None) == {}
    ensure_can_switch(None, euid=1000)


def test_a_user_resolves_to_its_ids_and_primary_group():
    credentials = resolve_credentials("nobody", None)
    assert credentials.user == "nobody" and credentials.uid == 65534
    assert credentials.gid == 65534 and 65534 in credentials.groups
    assert popen_identity(credentials) == {"user": 65534, "group": 65534,
                                           "extra_groups": list(credentials.groups)}
    assert identity_environment(credentials)["USER"] == "nobody"


def test_numeric_ids_and_an_explicit_group():
    credentials = resolve_credentials("0", "nogroup")
    assert credentials.user == "root" and credentials.uid == 0 and credentials.gid == 65534


@pytest.mark.parametrize(("user", "group", "message"), [
    ("no-such-user-x", None, "unknown user: no-such-user-x"),
    ("nobody", "no-such-group-x", "unknown group: no-such-group-x"),
])
def test_unknown_names_are_one_line_errors(user, group, message):
    with pytest.raises(PrivilegeError, match=message):
        resolve_credentials(user, group)


def test_switching_users_needs_root():
    credentials = resolve_credentials("nobody", None)
    with pytest.raises(PrivilegeError, match="user/group is set .* but pyhttpd is not running as root"):
        ensure_can_switch(credentials, euid=1000)
    ensure_can_switch(credentials, euid=0)


# -- backoff ------------------------------------------------------------------------------------


def test_backoff_doubles_from_the_second_early_death_up_to_the_cap():
    assert [backoff_delay(n) for n in range(0, 5)] == [0.0, 0.0, 0.5, 1.0, 2.0]
    assert backoff_delay(100) == MAX_DELAY_S


def test_what_counts_as_an_early_death():
    assert is_early_death(60.0, was_ready=False, exit_code=1)  # never served
    assert is_early_death(1.0, was_ready=True, exit_code=-9)  # crashed young
    assert not is_early_death(1.0, was_ready=True, exit_code=0)  # recycled (max_requests)
    assert not is_early_death(60.0, was_ready=True, exit_code=-9)  # crashed after a long life


def test_slot_backoff_waits_and_resets_after_a_healthy_life():
    slot = SlotBackoff()
    assert slot.record_exit(100.0, early=True) == 0.0 and slot.may_spawn(100.0)
    assert slot.record_exit(101.0, early=True) == 0.5
    assert not slot.may_spawn(101.2) and slot.may_spawn(101.5)
    assert slot.record_exit(200.0, early=False) == 0.0 and slot.consecutive_failures == 0


# -- worker settings ----------------------------------------------------------------------------

_KEYS = {"handler", "server", "directory", "protocol", "cgi", "content_type", "response_headers",
         "server_tokens", "trusted_proxies", "health_path",
         "threads", "max_connections", "max_requests", "timeouts", "limits", "name", "logs", "static"}


def test_worker_settings_has_exactly_the_contract_keys(tmp_path):
    config = load_config(["-d", str(tmp_path), "-H", "X-A", "1", "--max-requests", "100",
                          "--max-requests-jitter", "10", "--name", "web"])
    settings = worker_settings(config, 0, random.Random(1))
    assert set(settings) == _KEYS
    assert settings["handler"] is None and settings["directory"] == str(tmp_path)
    assert settings["response_headers"] == [["X-A", "1"]]
    assert 100 <= settings["max_requests"] <= 110
    assert set(settings["timeouts"]) == {"keepalive", "request_head", "request_body", "request", "graceful",
                                         "retire_idle", "min_rate"}
    assert set(settings["limits"]) == {f.name for f in fields(Limits)}
    assert settings["name"] == "web"
    assert set(settings["logs"]) == {"access_log", "error_log", "level"}
    json.dumps(settings)


def test_cgi_and_custom_handlers(tmp_path):
    cgi = worker_settings(load_config(["-d", str(tmp_path), "--cgi"]), 0)
    assert cgi["handler"] is None and cgi["cgi"] is True
    custom = worker_settings(load_config(["-d", str(tmp_path), "--handler", "app.web:Handler"]), 0)
    assert custom["handler"] == "app.web:Handler"


def test_jitter_spreads_limits_and_zero_never_recycles():
    rng = random.Random(7)
    limits = {jittered_max_requests(1000, 50, rng) for _ in range(200)}
    assert min(limits) >= 1000 and max(limits) <= 1050 and len(limits) > 10
    assert jittered_max_requests(0, 50, rng) == 0


def test_a_daemon_logs_to_its_log_directory(tmp_path):
    config = load_config(["-d", str(tmp_path), "--daemon"])
    assert log_targets(config) == ("off", "off")
    (tmp_path / "logs").mkdir()
    toml = tmp_path / "c.toml"
    toml.write_text(f'daemon = true\n[logs]\ndirectory = "{tmp_path / "logs"}"\n')
    config = load_config(["-d", str(tmp_path), "--config", str(toml)])
    assert log_targets(config) == (str(tmp_path / "logs/access.log"), str(tmp_path / "logs/error.log"))


# -- states, titles, log lines --------------------------------------------------------------------


def test_lifecycle_edges():
    assert states.can_transition(states.STARTING, states.READY)
    assert states.can_transition(states.READY, states.DRAINING)
    assert not states.can_transition(states.DRAINING, states.READY)
    assert states.TRANSITIONS[states.EXITED] == frozenset()


def test_a_worker_handle_moves_only_along_the_lifecycle_edges():
    handle = WorkerHandle(0, 1, {}, [])  # not spawned: only its state is exercised
    assert handle.state == "starting" and json.dumps(handle.state) == '"starting"'
    handle.state = states.READY
    with pytest.raises(states.InvalidTransition, match="ready -> starting"):
        handle.state = states.STARTING
    assert handle.state == states.READY  # a refused move changes nothing
    handle.state = states.DRAINING
    handle.state = states.EXITED
    for state in states.ALL_STATES:
        with pytest.raises(states.InvalidTransition):
            handle.state = state  # EXITED is final


def test_master_title():
    assert master_title("web", 3, 2, 4) == "pyhttpd: master [web] gen=3 workers=2/4"
    assert master_title(None, 1, 4, 4) == "pyhttpd: master gen=1 workers=4/4"
