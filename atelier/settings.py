"""Settings, one class per concern, read from `ATELIER_*` environment variables or `.env`.

With nothing configured Atelier runs on the embedded default: SQLite under `./data`, an embedded
Redis server whose socket lives under `./data`, and the model store in `./models`. Production
sets the URLs explicitly, and then placeholder secrets are refused.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me"


def _config() -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix="ATELIER_", env_file=".env", extra="ignore")


class PathSettings(BaseSettings):
    """Where Atelier keeps its files."""

    model_config = _config()

    data_dir: Path = Path("data")
    models_dir: Path = Path("models")

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    @property
    def embedded_redis_socket(self) -> Path:
        return self.data_dir / "redis.sock"


class DatabaseSettings(BaseSettings):
    """The record of truth. Empty means the embedded SQLite file under the data dir."""

    model_config = _config()

    database_url: str = ""


class RedisSettings(BaseSettings):
    """Broker and event bus. Empty means the embedded Redis server under the data dir."""

    model_config = _config()

    redis_url: str = ""


class RenderSettings(BaseSettings):
    """Limits that keep one job from holding a worker forever."""

    model_config = _config()

    # Longest render we expect, in seconds: the broker's visibility timeout and the claim lease
    # are derived from it, so a slow render is never handed to a second worker.
    max_render_seconds: int = 1800
    max_attempts: int = 3
    # A worker renews its claim every few seconds while it renders; a claim not renewed for
    # `lease_seconds` means the worker died, and the sweeper hands the job to another.
    lease_seconds: float = 60.0
    sweep_interval_seconds: float = 15.0
    default_checkpoint: str = "atelier-tiny-v1"
    # Checkpoints a worker loads at start and takes from their own queues (comma-separated);
    # empty means the default checkpoint.
    worker_checkpoints: str = ""
    device: str = "auto"
    # CPU threads for torch in a worker; 0 = one fewer than the machine's cores, leaving one for
    # the gallery and the bot (oversubscribed OpenMP threads spin and can slow renders 100x).
    torch_threads: int = 0
    # Memory a worker may fill with warm pipelines, in GiB (0: half the machine's RAM; 90% of the GPU's).
    ram_budget_gb: float = 0.0
    vram_budget_gb: float = 0.0
    # Images one sampler call may render for compatible jobs of different members (1: no batching).
    max_batch_images: int = 8
    # On SIGTERM a worker finishes its render if it ends within this many seconds, else gives the job back.
    shutdown_grace_seconds: float = 30.0


class SchedulingSettings(BaseSettings):
    """Fair sharing of the GPUs between members; per-role values are JSON objects in the environment,
    e.g. `ATELIER_SHARE_WEIGHTS='{"member": 1, "moderator": 2}'`."""

    model_config = _config()

    # Round-robin between members, weighted by role: a weight-2 member gets two turns per round.
    share_weights: dict[str, float] = {"member": 1.0, "moderator": 1.0, "admin": 1.0}
    # Jobs one member may have waiting at once (0: no cap); more are refused at submit.
    max_queued_per_member: int = 20
    # GPU-seconds of rendering per member per UTC day, by role (0 or absent: unlimited).
    daily_gpu_seconds: dict[str, float] = {}


class DiscordSettings(BaseSettings):
    """The bot starts only when a token is set."""

    model_config = _config()

    discord_token: str = ""
    discord_app_id: str = ""
    discord_guild_id: str = ""
    # Points the bot at another Discord API endpoint (a proxy, or the project's fake Discord in tests).
    discord_api_base: str = ""


class WebSettings(BaseSettings):
    """The gallery's address, its login and its signing key."""

    model_config = _config()

    gallery_host: str = "127.0.0.1"
    gallery_port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    # "Log in with Discord": the OAuth2 application's id and secret. With both empty the gallery offers
    # only the local login (requests from this machine itself) and lets anyone draw.
    oauth_client_id: str = ""
    oauth_client_secret: str = ""
    # Discord role ids (comma-separated) whose holders moderate the gallery; read from the member's
    # roles in `ATELIER_DISCORD_GUILD_ID` at each login.
    moderator_role_ids: str = ""
    secret_key: str = PLACEHOLDER_SECRET
    # How long a login lasts before the member logs in again.
    session_days: float = 7.0
    # Votes (and un-votes) one member may cast per minute.
    votes_per_minute: int = 30
    # Public pages served to visitors without a login are kept this many seconds at most (0: never),
    # PostgreSQL only: any change they show empties the cache at once (gallery.page_cache); the limit
    # only bounds relative times ("5 minutes ago") and the top-of-day window.
    page_cache_seconds: float = 30.0
    page_cache_megabytes: int = 64
    # Worker threads per gallery process for pages and API answers (gallery.threads): their work is
    # mostly Python, which runs one thread at a time, so more threads only wait for one another. Raise
    # it when the database is on another machine (a thread then waits out each round trip).
    page_threads: int = Field(default=2, ge=1, le=64)

    @property
    def oauth_configured(self) -> bool:
        return bool(self.oauth_client_id and self.oauth_client_secret)

    @property
    def moderator_roles(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.moderator_role_ids.split(",") if part.strip())


class Settings(BaseSettings):
    """All settings together; `embedded` tells whether we run on the zero-server default."""

    model_config = _config()

    paths: PathSettings = PathSettings()
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    render: RenderSettings = RenderSettings()
    scheduling: SchedulingSettings = SchedulingSettings()
    discord: DiscordSettings = DiscordSettings()
    web: WebSettings = WebSettings()

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if not self.embedded and self.web.secret_key == PLACEHOLDER_SECRET:
            raise ValueError(
                "ATELIER_SECRET_KEY is still the placeholder; set a long random value "
                "before running against an external database or Redis"
            )
        return self

    @property
    def embedded(self) -> bool:
        return not self.database.database_url and not self.redis.redis_url

    @property
    def database_url(self) -> str:
        if self.database.database_url:
            return self.database.database_url
        return f"sqlite:///{(self.paths.data_dir / 'atelier.db').resolve()}"

    @property
    def redis_url(self) -> str:
        if self.redis.redis_url:
            return self.redis.redis_url
        return f"unix://{self.paths.embedded_redis_socket.resolve()}"


def load_settings() -> Settings:
    """Read settings afresh (tests and child processes change the environment)."""
    return Settings(
        paths=PathSettings(),
        database=DatabaseSettings(),
        redis=RedisSettings(),
        render=RenderSettings(),
        scheduling=SchedulingSettings(),
        discord=DiscordSettings(),
        web=WebSettings(),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
