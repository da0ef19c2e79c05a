FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/gitline
COPY pyproject.toml README.md ./
COPY controller ./controller
RUN pip install --no-cache-dir .
ENV GITLINE_HOME=/data
VOLUME /data
EXPOSE 8080
# `gitline init` is idempotent: it creates the home on first start and keeps it after.
CMD ["sh", "-c", "gitline init \"$GITLINE_HOME\" && exec gitline serve \"$GITLINE_HOME\""]
