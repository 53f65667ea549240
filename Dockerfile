FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY ratelimit ./ratelimit
COPY cache ./cache
COPY bench ./bench
RUN pip install --no-cache-dir . && useradd --system --uid 10001 sluice
USER sluice
EXPOSE 8080 8081
VOLUME ["/config"]
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8081/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["sluice", "serve", "/config/sluice.yaml", "--listen", "0.0.0.0:8080", "--admin-listen", "0.0.0.0:8081"]
