# Gallery, bot and migrations: no torch, a small CPU image.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY atelier ./atelier
COPY bot ./bot
COPY gallery ./gallery
COPY workers ./workers
COPY migrations ./migrations
RUN pip install --no-cache-dir .
USER nobody
