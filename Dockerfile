# The Harbor-lite application image: gunicorn (web), Celery worker and beat all run from it.
# Two stages: wheels are built where compilers exist, the final image only installs them.
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev libldap2-dev libsasl2-dev \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/requirements.txt
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r /tmp/requirements.txt

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    REGISTRY_DATA_DIR=/var/lib/harbor-lite \
    REGISTRY_STORAGE_ROOT=/var/lib/harbor-lite/storage \
    REGISTRY_SIGNING_KEY_DIR=/var/lib/harbor-lite/keys \
    REGISTRY_BIND=0.0.0.0:5000
# uid/gid 101: the same as the `nginx` user of the official nginx image, which serves the blob
# volume read-only (X-Accel-Redirect); with one owner no file mode can keep nginx out.
RUN groupadd --system --gid 101 registry \
    && useradd --system --uid 101 --gid registry --home-dir /var/lib/harbor-lite --shell /usr/sbin/nologin registry \
    && mkdir -p /var/lib/harbor-lite/storage /var/lib/harbor-lite/keys /app \
    && chown -R registry:registry /var/lib/harbor-lite
# python-ldap's libraries (OpenLDAP's libldap is libldap2 from Debian 13 on, libldap-2.5-0 before).
RUN apt-get update \
    && (apt-get install -y --no-install-recommends libldap2 libsasl2-2 \
        || apt-get install -y --no-install-recommends libldap-2.5-0 libsasl2-2) \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels /wheels/* && rm -rf /wheels
WORKDIR /app
COPY --chown=root:root . /app
# The dashboard's CSS and JS, served by whitenoise. A throwaway key: without one, settings would
# write a secret key into the image.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0
USER registry
EXPOSE 5000
# Migrations and the first administrator run in the `web` service's command (docker-compose.yml).
CMD ["gunicorn", "-c", "registry_ui/gunicorn_conf.py", "registry_ui.wsgi"]
