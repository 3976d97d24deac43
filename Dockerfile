# syntax=docker/dockerfile:1
# OmniRoute gateway. Two stages: the first builds wheels for the package and
# its dependencies, the second installs only those wheels into a clean slim
# image, so no compiler, pip cache or source tree ends up in it. The official
# python images are multi-platform: `docker buildx build --platform
# linux/amd64,linux/arm64 .` builds both (every dependency ships wheels for both).
ARG PYTHON=3.11

FROM python:${PYTHON}-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY omniroute ./omniroute
COPY web ./web
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:${PYTHON}-slim
# A fixed uid, so a bind-mounted /data can be given to it: chown 10001 DIR.
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin omniroute \
    && mkdir -p /data && chown omniroute:omniroute /data && chmod 700 /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels /wheels/omniroute-*.whl && rm -rf /wheels
# Inside a container the gateway must listen on every interface to be
# reached through a published port; publish it on 127.0.0.1 (see compose.yaml).
ENV DATA_DIR=/data OMNIROUTE_HOST=0.0.0.0 PYTHONUNBUFFERED=1
# By number: a runtime that cannot read the image's /etc/passwd still
# runs it as this user.
USER 10001:10001
VOLUME ["/data"]
EXPOSE 20128
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health' % os.environ.get('OMNIROUTE_PORT', '20128'), timeout=4)"]
ENTRYPOINT ["omniroute"]
CMD ["serve"]
