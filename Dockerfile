# Infusion Outcomes dashboard: python:3.11-slim + Debian's chromium (figure export via kaleido).
#   docker build -t infusion-outcomes .
#   docker run -p 8501:8501 infusion-outcomes      # then open http://localhost:8501
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium curl \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 app
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=app:app analysis/ analysis/
COPY --chown=app:app dashboard/ dashboard/
COPY --chown=app:app data/sample/ data/sample/
COPY --chown=app:app .streamlit/ .streamlit/
COPY --chown=app:app app.py pyproject.toml README.md ./
# the package itself, editable (paths stay in /app: the bundled sample is found), so a "Python
# code" snippet runs in the container from any folder
RUN pip install --no-deps -e .
# plotly.js's basic bundle, which draws the charts (dashboard/chart.py), into /app/static
RUN python -m dashboard.chart && mkdir -p static && chown -R app:app static

USER app
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD curl --fail --silent http://localhost:8501/_stcore/health || exit 1

CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0", "--server.headless=true"]
