FROM python:3.11-slim
# git for the repositories; graphviz (dot) draws the web view's line; bubblewrap (and
# util-linux's setpriv) for the job sandbox. The
# sandbox needs user namespaces or CAP_SYS_ADMIN in the container (for example
# `docker run --security-opt seccomp=unconfined --cap-add SYS_ADMIN`); without them set
# `sandbox: none` in HOME/gitline.yml, knowing that jobs then see the controller's files.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git bubblewrap util-linux curl graphviz \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/gitline
COPY pyproject.toml README.md ./
COPY controller ./controller
RUN pip install --no-cache-dir .
ENV GITLINE_HOME=/data
VOLUME /data
EXPOSE 8080
# /readyz: watching the repository, a recent reconcile pass, a writable state branch
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/readyz >/dev/null || exit 1
# `gitline init` is idempotent: it creates the home on first start and keeps it after.
CMD ["sh", "-c", "gitline init \"$GITLINE_HOME\" && exec gitline serve \"$GITLINE_HOME\" --listen 0.0.0.0:8080"]
