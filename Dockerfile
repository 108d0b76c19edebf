# docjobs: one image for every role. Build: docker build -t docjobs .

# The C accelerator of the extract's records (handlers/xlsx/_records.c) is compiled in a stage of its
# own: the image gets the built module, not the compiler. Same base image, so the same Python ABI.
FROM python:3.11-slim AS native
WORKDIR /build
# The compiler only (the python images have Python's headers); unpinned, as the base image's Debian moves.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY requirements-build.txt setup.py ./
COPY handlers/xlsx/_records.c handlers/xlsx/_cell_scan.c handlers/xlsx/_cell_scan.h handlers/xlsx/
RUN pip install --no-cache-dir -r requirements-build.txt \
    && python setup.py --quiet build_ext --inplace

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY server.py openapi.yaml ./
# The image's own settings: config.toml without the demo endpoints (no /api/v1/demo/echo in production).
COPY deploy/config.toml ./config.toml
COPY jobs ./jobs
COPY handlers ./handlers
COPY --from=native /build/handlers/xlsx/_records.*.so ./handlers/xlsx/
# The image must use it: a build whose module does not import fails here, not slowly in production.
RUN python -c "from handlers.xlsx import native; assert native.BUILT, 'the C accelerator does not import'"

RUN groupadd --gid 10001 docjobs \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin docjobs
USER 10001:10001

# Containers must listen on all interfaces; platforms such as Cloud Run set PORT.
ENV DOCJOBS_SERVER_HOST=0.0.0.0 \
    PORT=8080
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/readyz', timeout=4)"]

CMD ["python", "server.py"]
