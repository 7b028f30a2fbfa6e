# timeoutlab: the gateway emulator, the report handlers and the Locust users in one image.
#   docker build -t timeoutlab:local .
#   docker run --rm -p 127.0.0.1:3000:3000 -p 127.0.0.1:3001:3001 timeoutlab:local
# docker-compose.yml runs it against LocalStack, with a Locust master and workers.

# Build stage: install the project from its source into a virtual environment, so the runtime
# stage gets the installed packages and not a second copy of the source (which, in the working
# directory, would shadow a locustfiles/ mounted over PYTHONPATH: Locust puts the cwd first).
FROM python:3.11.14-slim-trixie AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/timeoutlab
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY emulator/ emulator/
COPY reportapp/ reportapp/
COPY reportclient/ reportclient/
COPY scenarios/ scenarios/
COPY locustfiles/ locustfiles/
COPY timeoutlab/ timeoutlab/
# Every dependency at the version constraints.txt names: one source, one image.
RUN /opt/timeoutlab/bin/pip install --no-cache-dir -c constraints.txt /src

# Runtime stage: same base (the venv's interpreter path must exist), non-root, no build tools.
FROM python:3.11.14-slim-trixie

ENV PATH=/opt/timeoutlab/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /opt/timeoutlab /opt/timeoutlab
RUN groupadd --gid 10001 timeoutlab \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin timeoutlab
# Numeric, so orchestrators that enforce "run as non-root" can check it without /etc/passwd.
USER 10001:10001
WORKDIR /home/timeoutlab

# 3000: REST API and /_emulator/; 3001: WebSocket API and @connections; 8089: Locust's web UI.
EXPOSE 3000 3001 8089

# No curl in slim images: Python's urllib asks the emulator's own health endpoint. The start
# period covers the backend bootstrap (LocalStack and remote Lambdas take longer than moto).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/_emulator/health', timeout=4)"]

CMD ["timeoutlab", "up", "--host", "0.0.0.0"]
