"""The local redis-server's configuration: no password, a password, an ACL user."""

from pathlib import Path

from infra.redis_server import RedisServerConfig, render_redis_conf


def _conf(**auth: str) -> list[str]:
    return render_redis_conf(RedisServerConfig("127.0.0.1", 6380, Path("/tmp/r"), **auth)).splitlines()  # noqa: S108


def test_without_a_password_nothing_is_required() -> None:
    assert not [line for line in _conf() if line.startswith(("requirepass", "user"))]


def test_a_password_alone_protects_the_default_user() -> None:
    assert 'requirepass "s3 \\"cr\\" et"' in _conf(password='s3 "cr" et')  # noqa: S106


def test_a_user_in_the_url_becomes_an_acl_user_and_the_default_user_is_off() -> None:
    lines = _conf(password="pw", username="mobius-worker")  # noqa: S106
    assert "user default off" in lines
    assert 'user mobius-worker on ">pw" ~* &* +@all -@dangerous' in lines
    assert not [line for line in lines if line.startswith("requirepass")]
