"""Votes on real databases and real Redis: toggle, one row per member and image, no self-votes,
hidden images, the rate limit, and the stored tally (images.score) the feed's top sorts read: exact
after every add and remove, also under concurrent votes on PostgreSQL."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.db import session_factory
from atelier.errors import Forbidden, NotFound, Refused
from atelier.schema import Image, Job, JobSource, JobState, User, Vote
from atelier.services import votes
from tests.helpers.private_services import unreachable_redis


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    with session_factory(database_url)() as opened:
        yield opened


@pytest.fixture
def rate_redis(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def member(session: Session, name: str) -> int:
    user = User(name=name)
    session.add(user)
    session.commit()
    return user.id


def image(session: Session, owner_id: int | None = None, *, hidden: bool = False) -> int:
    job = Job(owner_id=owner_id, source=JobSource.WEB, recipe={"prompt": "a red circle"}, state=JobState.DONE)
    session.add(job)
    session.flush()
    row = Image(job_id=job.id, index=0, seed=1, file_path="ab/x.png", thumbnail_path="ab/x.webp", width=64,
                height=64, infotext="x", hidden=hidden)  # fmt: skip
    session.add(row)
    session.commit()
    return row.id


def vote_rows(session: Session, image_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(Vote).where(Vote.image_id == image_id)) or 0)


def test_toggle_votes_then_takes_the_vote_back(session: Session) -> None:
    """The first toggle records a vote (score 1), the second removes it (score 0)."""
    voter, picture = member(session, "bo"), image(session)
    assert votes.toggle(session, voter, picture) == votes.VoteResult(picture, True, 1)
    assert votes.toggle(session, voter, picture) == votes.VoteResult(picture, False, 0)
    assert vote_rows(session, picture) == 0


def test_setting_a_vote_twice_keeps_one_row(session: Session) -> None:
    """Voting again (a second reaction, a double click) changes nothing: one row, score 1."""
    voter, picture = member(session, "bo"), image(session)
    votes.set_vote(session, voter, picture, True)
    assert votes.set_vote(session, voter, picture, True).score == 1
    assert vote_rows(session, picture) == 1


def test_concurrent_votes_by_one_member_make_one_row(database_url: str, session: Session) -> None:
    """Two requests voting at the same moment for the same member and image leave exactly one row."""
    voter, picture = member(session, "bo"), image(session)
    factory = session_factory(database_url)
    barrier = threading.Barrier(2)
    results: list[votes.VoteResult] = []
    errors: list[BaseException] = []

    def vote() -> None:
        with factory() as own:
            try:
                barrier.wait(5)
                results.append(votes.set_vote(own, voter, picture, True))
            except BaseException as error:  # surfaced below
                errors.append(error)

    threads = [threading.Thread(target=vote) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert [result.voted for result in results] == [True, True]
    session.expire_all()
    assert vote_rows(session, picture) == 1


def test_database_refuses_a_second_row(session: Session) -> None:
    """The unique (user_id, image_id) constraint itself refuses a duplicate vote row."""
    voter, picture = member(session, "bo"), image(session)
    session.add(Vote(user_id=voter, image_id=picture, value=1))
    session.commit()
    session.add(Vote(user_id=voter, image_id=picture, value=1))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_no_vote_for_ones_own_image(session: Session) -> None:
    """A member cannot vote for an image they drew; nothing is recorded."""
    owner = member(session, "cy")
    picture = image(session, owner)
    with pytest.raises(Forbidden, match="yours"):
        votes.toggle(session, owner, picture)
    assert vote_rows(session, picture) == 0


def test_hidden_image_cannot_be_voted_on_except_by_moderators(session: Session) -> None:
    """A hidden image is not found for a member's vote; a moderator (who can see it) may vote."""
    voter, picture = member(session, "bo"), image(session, hidden=True)
    with pytest.raises(NotFound):
        votes.toggle(session, voter, picture)
    assert votes.toggle(session, voter, picture, moderator=True).voted


def test_missing_image_is_not_found(session: Session) -> None:
    """A vote for an image that does not exist is NotFound, not a database error."""
    with pytest.raises(NotFound):
        votes.toggle(session, member(session, "bo"), 999_999)


def test_rate_limit_refuses_past_the_limit(session: Session, rate_redis: redis.Redis) -> None:
    """With 3 votes a minute, the 4th toggle within the minute is refused with when to retry."""
    voter = member(session, "bo")
    pictures = [image(session) for _ in range(4)]
    for picture in pictures[:3]:
        votes.toggle(session, voter, picture, client=rate_redis, per_minute=3)
    with pytest.raises(Refused, match=r"more than 3 votes in a minute; try again in \d+ s"):
        votes.toggle(session, voter, pictures[3], client=rate_redis, per_minute=3)
    assert vote_rows(session, pictures[3]) == 0


def test_rate_limit_is_per_member(session: Session, rate_redis: redis.Redis) -> None:
    """One member at the limit does not stop another from voting."""
    first, second, picture = member(session, "bo"), member(session, "cy"), image(session)
    votes.check_rate(rate_redis, first, 1)
    with pytest.raises(Refused):
        votes.check_rate(rate_redis, first, 1)
    assert votes.toggle(session, second, picture, client=rate_redis, per_minute=1).voted


def test_rate_window_resets_each_minute(rate_redis: redis.Redis) -> None:
    """The count starts again in the next minute."""
    votes.check_rate(rate_redis, 7, 1, now=600.0)
    with pytest.raises(Refused):
        votes.check_rate(rate_redis, 7, 1, now=659.0)
    votes.check_rate(rate_redis, 7, 1, now=660.0)


def test_rate_counter_down_lets_votes_through(session: Session) -> None:
    """Redis being unreachable does not stop voting (the database still allows one vote each)."""
    assert votes.toggle(session, member(session, "bo"), image(session), client=unreachable_redis(), per_minute=1).voted


def test_tally_and_voted_images(session: Session) -> None:
    """The tally sums the votes; `voted_images` says which of the images a member voted for."""
    first, second = member(session, "bo"), member(session, "cy")
    liked, other = image(session), image(session)
    votes.set_vote(session, first, liked, True)
    votes.set_vote(session, second, liked, True)
    assert (votes.tally(session, liked), votes.tally(session, other)) == (2, 0)
    assert votes.voted_images(session, first, [liked, other]) == {liked}
    assert votes.voted_images(session, None, [liked]) == set()


# --- the stored tally (images.score) ---------------------------------------------------------------

ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def stored_score(session: Session, image_id: int) -> int:
    """The committed score (what a new transaction reads)."""
    session.rollback()
    return stored_score_in_transaction(session, image_id)


def stored_score_in_transaction(session: Session, image_id: int) -> int:
    return int(session.scalar(select(Image.score).where(Image.id == image_id)) or 0)


def test_score_follows_votes_added_and_removed(session: Session) -> None:
    """Each vote adds its value to the image's stored score and taking it back subtracts it; a vote
    set twice or removed twice changes nothing."""
    first, second, picture = member(session, "bo"), member(session, "cy"), image(session)
    assert stored_score(session, picture) == 0
    votes.set_vote(session, first, picture, True)
    votes.set_vote(session, second, picture, True)
    votes.set_vote(session, second, picture, True)
    assert stored_score(session, picture) == 2 == vote_rows(session, picture)
    votes.set_vote(session, first, picture, False)
    votes.set_vote(session, first, picture, False)
    assert stored_score(session, picture) == 1 == vote_rows(session, picture)
    assert votes.toggle(session, second, picture).score == 0 == stored_score(session, picture)


def test_record_and_remove_leave_the_commit_to_the_caller(session: Session) -> None:
    """`record_vote` and `remove_vote` change row and score in the caller's transaction: a rollback
    undoes both."""
    voter, picture = member(session, "bo"), image(session)
    votes.record_vote(session, voter, picture, 3)
    assert stored_score_in_transaction(session, picture) == 3
    session.rollback()
    assert stored_score(session, picture) == 0 == vote_rows(session, picture)
    votes.record_vote(session, voter, picture, 3)
    session.commit()
    assert votes.remove_vote(session, voter, picture)
    session.rollback()
    assert stored_score(session, picture) == 3


def test_a_duplicate_vote_does_not_move_the_score(session: Session) -> None:
    """The second insert fails on the unique constraint before its UPDATE commits."""
    voter, picture = member(session, "bo"), image(session)
    votes.record_vote(session, voter, picture)
    session.commit()
    with pytest.raises(IntegrityError):
        votes.record_vote(session, voter, picture)
    session.rollback()
    assert stored_score(session, picture) == 1


@ON_POSTGRESQL
def test_concurrent_votes_keep_the_score_equal_to_the_votes(database_url: str, session: Session) -> None:
    """Twelve members voting and un-voting the same two images at once (each toggle its own
    transaction, as from the web, reactions and the bot's button): afterwards every stored score
    equals COUNT(votes) of its image."""
    pictures = [image(session), image(session)]
    voters = [member(session, f"m{number}") for number in range(12)]
    factory = session_factory(database_url)
    barrier = threading.Barrier(len(voters))
    errors: list[BaseException] = []

    def storm(voter: int) -> None:
        rng = random.Random(voter)
        with factory() as own:
            try:
                barrier.wait(10)
                for _ in range(15):
                    votes.toggle(own, voter, rng.choice(pictures))
            except BaseException as error:  # surfaced below
                errors.append(error)

    threads = [threading.Thread(target=storm, args=(voter,)) for voter in voters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    for picture in pictures:
        assert stored_score(session, picture) == vote_rows(session, picture)
    assert sum(vote_rows(session, picture) for picture in pictures) > 0


@ON_POSTGRESQL
def test_concurrent_duplicate_votes_count_once(database_url: str, session: Session) -> None:
    """Eight requests by one member voting for one image at the same moment: one row, score 1."""
    voter, picture = member(session, "bo"), image(session)
    factory = session_factory(database_url)
    barrier = threading.Barrier(8)

    def vote() -> None:
        with factory() as own:
            barrier.wait(10)
            votes.set_vote(own, voter, picture, True)

    threads = [threading.Thread(target=vote) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert (stored_score(session, picture), vote_rows(session, picture)) == (1, 1)
