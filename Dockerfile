# fibersim: the simulator, the scenario runner and the mock Focus Server in one image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY fibersim ./fibersim
RUN pip install .

COPY scenarios ./scenarios

# Run as an unprivileged user; reports go to a mounted /reports.
RUN useradd --create-home fibersim && mkdir /reports && chown fibersim /reports
USER fibersim

# The image is the fibersim command: `docker run IMAGE run scenarios/zero_prr.yaml`, compose's
# `command:` and Kubernetes' `args:` are fibersim's own arguments.
EXPOSE 8500 9108
ENTRYPOINT ["fibersim"]
CMD ["--help"]
