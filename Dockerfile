# syntax=docker/dockerfile:1
# One image for the four services: each Deployment runs its own command (bf-api, bf-bridge, bf-writer,
# bf-consumer; bf-smoke for helm test). Built and pushed by scripts/push-images.
#   docker build -t black-friday .        --build-arg PYTHON_IMAGE=... for another (pinned) base
ARG PYTHON_IMAGE=docker.io/library/python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# Behind a TLS-intercepting proxy or with a private index: --build-arg PIP_INDEX_URL=... / PIP_CERT=<a CA
# bundle mounted into the build>; both stay in this stage.
ARG PIP_INDEX_URL
ARG PIP_CERT
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml constraints.txt ./
# Dependencies first (a layer that changes only with the lock), pinned by constraints.txt.
RUN python3 -m venv /opt/venv \
 && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && /opt/venv/bin/pip install --no-compile -c constraints.txt -r requirements.txt \
 && python3 -m venv /opt/tools \
 && /opt/tools/bin/pip install -c constraints.txt grpcio-tools
COPY protos ./protos
COPY scripts/gen-protos ./scripts/gen-protos
COPY apps ./apps
# The gRPC stubs are generated here, by the build; the code generator stays in this stage.
RUN PYTHON_BIN=/opt/tools/bin/python scripts/gen-protos \
 && /opt/venv/bin/pip install --no-deps -c constraints.txt . \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# Read-only root filesystem friendly: nothing is written but to /tmp (an emptyDir in the chart).
WORKDIR /tmp
USER 10001:10001
EXPOSE 8080 8081 50051 9464 9465
CMD ["bf-api"]
