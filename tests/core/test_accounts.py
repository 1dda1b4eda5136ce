from datetime import timedelta

import pytest

from core.accounts import (
    authenticate,
    create_user,
    issue_token,
    parse_role,
    require_role,
    revoke_token,
    user_for_token,
)
from core.database import unit_of_work
from core.errors import Conflict, Forbidden, Invalid, Unauthorized
from core.models import Role, TokenKind, User


async def _user(sessions, email="lan@example.org", role=Role.librarian) -> User:
    async with unit_of_work(sessions) as session:
        return await create_user(session, email, "correct horse", role)


async def test_password_is_stored_as_argon2_hash_and_verifies(sessions):
    user = await _user(sessions)
    assert user.password_hash.startswith("$argon2")
    assert "correct horse" not in user.password_hash
    async with sessions() as session:
        assert (await authenticate(session, "LAN@example.org ", "correct horse")).id == user.id
        with pytest.raises(Unauthorized):
            await authenticate(session, "lan@example.org", "wrong horse")
        with pytest.raises(Unauthorized):
            await authenticate(session, "nobody@example.org", "correct horse")


async def test_duplicate_email_is_a_conflict_and_keeps_the_first_account(sessions):
    first = await _user(sessions)
    with pytest.raises(Conflict, match="already an account"):
        await _user(sessions, email="Lan@Example.org", role=Role.member)
    async with sessions() as session:
        assert (await authenticate(session, "lan@example.org", "correct horse")).id == first.id


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        ("not-an-email", "long enough", "email"),
        ("a@b.org", "short", "password"),
    ],
)
async def test_bad_account_input_names_the_field(sessions, email, password, field):
    async with unit_of_work(sessions) as session:
        with pytest.raises(Invalid) as err:
            await create_user(session, email, password, Role.member)
    assert err.value.field == field


async def test_token_is_stored_hashed_and_resolves_until_revoked(sessions):
    user = await _user(sessions)
    async with unit_of_work(sessions) as session:
        raw = await issue_token(session, user, TokenKind.bearer, timedelta(hours=1))
    async with sessions() as session:
        from sqlalchemy import select

        from core.models import Token

        stored = (await session.scalars(select(Token.token_hash))).all()
        assert raw not in stored and len(stored) == 1
        assert (await user_for_token(session, raw, {TokenKind.bearer})).id == user.id
        # A bearer token is not a cookie session, and the other way round.
        with pytest.raises(Unauthorized):
            await user_for_token(session, raw, {TokenKind.session})
    async with unit_of_work(sessions) as session:
        await revoke_token(session, raw)
    async with sessions() as session:
        with pytest.raises(Unauthorized, match="revoked"):
            await user_for_token(session, raw, {TokenKind.bearer})


async def test_expired_and_garbage_tokens_are_refused(sessions):
    user = await _user(sessions)
    async with unit_of_work(sessions) as session:
        raw = await issue_token(session, user, TokenKind.bearer, timedelta(seconds=-1))
    async with sessions() as session:
        with pytest.raises(Unauthorized, match="expired"):
            await user_for_token(session, raw, {TokenKind.bearer})
        for garbage in ("", "x", "A" * 5000):
            with pytest.raises(Unauthorized):
                await user_for_token(session, garbage, {TokenKind.bearer})


def test_roles_are_ranked_and_checked():
    member = User(email="m@x.org", role_name="member", password_hash="", active=True)
    librarian = User(email="l@x.org", role_name="librarian", password_hash="", active=True)
    assert require_role(librarian, Role.docent) is librarian
    with pytest.raises(Forbidden, match="librarian"):
        require_role(member, Role.librarian)
    with pytest.raises(Unauthorized):
        require_role(None, Role.member)
    with pytest.raises(Invalid, match="Unknown role"):
        parse_role("wizard")
    with pytest.raises(Invalid):
        parse_role("visitor")
