"""Tuning knobs of the bot process, read from `ATELIER_BOT_*` environment variables.

They live here rather than in `atelier.settings` because only this process uses them; the
connection settings (token, application, guild, API base) stay in `atelier.settings.DiscordSettings`.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class BotTuning(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ATELIER_BOT_", env_file=".env", extra="ignore")

    # How often the bot re-reads the jobs it waits on, so a job event lost on Redis (bot
    # reconnecting, Redis restarted) delays a delivery by at most this long instead of losing it.
    recheck_seconds: float = 15.0
    # Interaction tokens live 15 minutes; past this age the bot posts in the channel with its own
    # token instead of trying a followup that Discord would refuse.
    followup_seconds: float = 14 * 60.0
    # After a restart the bot resumes deliveries of Discord jobs created this recently.
    recover_hours: float = 24.0
    # A delivery that keeps failing (Discord down, channel gone) is retried on each re-check this
    # many times, then given up with an error in the log.
    max_delivery_attempts: int = 5
    # At most one progress edit of a job's queued message this often: Discord rate-limits message
    # edits per webhook and per channel, and workers report progress about every second.
    progress_edit_seconds: float = 2.0
