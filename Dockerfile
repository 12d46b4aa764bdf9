# One image for every Rapport service; the command picks the service (see docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY events events
COPY projections projections
COPY services services
RUN pip install --no-cache-dir . && useradd --create-home rapport && mkdir /data && chown rapport /data
USER rapport
ENV RAPPORT_DATA_DIR=/data
VOLUME ["/data"]
ENTRYPOINT ["rapport"]
CMD ["--help"]
