"""What a member reads when a render fails: our errors as they are, anything else by kind only."""

from __future__ import annotations

from workers.batching import RenderOutOfMemory
from workers.engine import ModelNotLoadable
from workers.tasks import failure_reason, outcome_summary


def test_our_errors_reach_the_member_as_written() -> None:
    assert failure_reason(RenderOutOfMemory("out of memory even one image at a time")) == (
        "out of memory even one image at a time"
    )
    assert failure_reason(ModelNotLoadable("x.safetensors: not found in the model store")).startswith("x.safetensors")


def test_unexpected_errors_name_only_their_kind() -> None:
    reason = failure_reason(KeyError("/internal/path/secret"))
    assert "secret" not in reason and "KeyError" in reason and "log" in reason


def test_a_batch_that_went_alike_is_summed_up_in_one_word() -> None:
    assert outcome_summary([(7, "done"), (8, "done")]) == "done"


def test_a_mixed_batch_names_the_jobs_of_each_outcome() -> None:
    """A member cancelled job 8 while it rendered with 7 and 9: the log says which ones were done."""
    summary = outcome_summary([(7, "done"), (8, "cancelled"), (9, "done")])
    assert summary == "done (7, 9); cancelled (8)"
