# Shared steps of scripts/serve and scripts/test: source it, then call what you need.
# Each step checks first, so running a script twice does no work twice.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_apt COMMAND:PACKAGE ... installs each package whose command is missing; a /path instead
# of a command stands for a file the package brings (a header, for a library's -dev package).
ensure_apt() {
    local missing=() pair need
    for pair in "$@"; do
        need="${pair%%:*}"
        if [[ "$need" == /* ]]; then [ -e "$need" ]; else command -v "$need" >/dev/null 2>&1; fi \
            || missing+=("${pair#*:}")
    done
    [ ${#missing[@]} -eq 0 ] || install_apt "${missing[@]}"
}

install_apt() {
    echo "installing $* from Debian's packages"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# What pip needs to build python-ldap (django-auth-ldap's client), which has no binary wheel.
ensure_build_dependencies() {
    ensure_apt gcc:gcc python3-config:python3-dev /usr/include/ldap.h:libldap2-dev /usr/include/sasl/sasl.h:libsasl2-dev
}

# ensure_venv REQUIREMENTS_FILE: a virtualenv in .venv with those requirements.
ensure_venv() {
    local requirements="$1" stamp
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        install_apt python3-venv
    fi
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    stamp="$VENV/.installed-$(cat "$REPO_ROOT/requirements.txt" "$REPO_ROOT/$requirements" | sha256sum | cut -c1-16)"
    if [ ! -e "$stamp" ]; then
        "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REPO_ROOT/$requirements"
        touch "$stamp"
    fi
}

# ensure_node_modules FOLDER: the npm packages of FOLDER's package-lock.json, installed once per lock.
ensure_node_modules() {
    local folder="$REPO_ROOT/$1" stamp
    stamp="$folder/node_modules/.installed-$(sha256sum "$folder/package-lock.json" | cut -c1-16)"
    if [ ! -e "$stamp" ]; then
        npm ci --prefix "$folder" --no-audit --no-fund --loglevel=error
        touch "$stamp"
    fi
}

ensure_postgres() {
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        echo "starting PostgreSQL"
        as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
        for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 1; done
        echo "PostgreSQL did not start" >&2
        return 1
    fi
}

ensure_redis() {
    if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        echo "starting Redis"
        as_root mkdir -p /var/lib/redis /var/log/redis
        as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
            --dir /var/lib/redis --logfile /var/log/redis/ci.log
        for _ in $(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0; sleep 1; done
        echo "Redis did not start" >&2
        return 1
    fi
}
