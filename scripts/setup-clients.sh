#!/usr/bin/env bash
# The Python tools the real-client tests run, installed from PyPI into virtualenvs inside the
# repository; a venv whose tool is already there is reused. `.ci/run` calls this very script,
# and a test that skips for want of one of these names it.
#
#   .venv/                    dbt-core + dbt-postgres   crates/aladdin/tests/dbt.rs
#   .venv-clients/dlt/        dlt[postgres]             crates/genie/tests/clients.rs
#   .venv-clients/singer/     tap-rest-api-msdk, psycopg2 crates/genie/tests/{clients,hostile_clients}.rs
#   .venv-clients/singer-target/ meltanolabs-target-postgres (a real Singer target the tap
#                             pipes into) crates/genie/tests/{clients,hostile_clients}.rs
#   .venv-clients/schemathesis/ schemathesis            crates/genie/tests/clients.rs
#   .venv-clients/airbyte/    airbyte-cdk, psycopg2     crates/genie/tests/{clients,hostile_clients}.rs
#   .venv-clients/python/     maturin, pyspark 4, pyarrow, pandas, polars, duckdb, pytest
#                             crates/aladdin/tests/python.rs (builds the faux_genie wheel)
#   .venv-clients/moto/       moto[server], pyarrow     crates/aladdin/tests/object_storage.rs (a
#                             local S3 server, and pyarrow's S3 and Azure file systems to read
#                             back what aladdin wrote)
#   .venv-clients/azurite/    azurite (npm)             crates/aladdin/tests/object_storage.rs
#                             (bin/azurite-blob links to its node_modules/.bin)
#   .venv-clients/duckdb/     duckdb 1.5.5, duckdb-extension-httpfs 1.5.5, pyarrow
#                             crates/aladdin/tests/object_storage.rs (DuckDB reads S3 back)
#   .venv-clients/mlflow/     mlflow 3 (its tracking server) crates/kingfisher/tests/mlflow.rs
#   .venv-clients/playwright/ playwright-core (npm)     crates/genie/tests/console.rs
#
# The console's browser test also wants Debian's chromium (`.ci/run` installs it) and node.
#
# Services are not installed here: the tests also want PostgreSQL on 127.0.0.1:5432 (user
# postgres, trust), RabbitMQ on 5672 and NATS JetStream on 4222 (`.ci/run` starts local ones).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== dbt for the Shiny Rocks dbt test (into .venv)"
# dbt-core 1.10: newer releases pull a parser whose install downloads a binary (fails offline)
if [ ! -x .venv/bin/dbt ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "dbt-core==1.10.*" "dbt-postgres==1.10.*"
fi
.venv/bin/dbt --version | sed -n 1,3p  # sed reads it all: no SIGPIPE under pipefail

echo "== real API clients for crates/genie/tests/clients.rs (into .venv-clients/*)"
# one venv per tool: their pins clash with each other and with dbt in .venv
clients_venv() {  # NAME EXECUTABLE PACKAGE…
  local dir=".venv-clients/$1" exe="$2"; shift 2
  if [ ! -x "$dir/bin/$exe" ] || [ -f "$dir/.incomplete" ]; then
    python3 -m venv "$dir"
    # a failed install is retried next time, not taken for a finished venv
    touch "$dir/.incomplete"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
    rm "$dir/.incomplete"
  fi
}
clients_venv dlt dlt "dlt[postgres]==1.31.*"
clients_venv singer tap-rest-api-msdk "tap-rest-api-msdk==1.4.*" "psycopg2-binary==2.9.*"
# its own venv: a target pins its own singer-sdk, which need not be the tap's (psycopg 3 inside)
clients_venv singer-target target-postgres "meltanolabs-target-postgres==0.8.*"
clients_venv schemathesis schemathesis "schemathesis==4.32.*"
clients_venv airbyte source-declarative-manifest "airbyte-cdk==7.39.*" "psycopg2-binary==2.9.*"
# the PostgreSQL loaders of tests/hostile_clients.rs (examples/genie/*/load_postgres.py,
# apply_deletes.py) need psycopg2 beside the tap and the CDK; a venv made before they did gets it
for v in singer airbyte; do
  ".venv-clients/$v/bin/python" -c "import psycopg2" 2>/dev/null \
    || ".venv-clients/$v/bin/pip" install --quiet --disable-pip-version-check "psycopg2-binary==2.9.*"
done

echo "== the Python package's build and test tools (into .venv-clients/python)"
# maturin builds crates/faux-py into a wheel that tests/python.rs installs here; pyspark 4 runs
# its data source in local mode (Java 17); pandas, Polars and DuckDB read its record batches
clients_venv python maturin "maturin==1.16.*" "pyspark==4.0.*" "pyarrow==26.*" \
  "pandas==3.*" "polars==2.*" "duckdb==2.*" "pytest==9.*"

echo "== object-storage emulators and independent readers for crates/aladdin/tests/object_storage.rs"
# its own venv: moto pins boto3/werkzeug versions the other tools need not share; its pyarrow
# reads S3 and Azure back. (No GCS emulator: the ones on PyPI lack the XML API object_store's
# GCS client speaks; see the README's object storage section.)
clients_venv moto moto_server "moto[server]==5.*" "pyarrow==26.*"
echo "== an MLflow tracking server for crates/kingfisher/tests/mlflow.rs (into .venv-clients/mlflow)"
# its own venv: mlflow pins pandas/numpy/sqlalchemy ranges of its own
clients_venv mlflow mlflow "mlflow==3.*"
.venv-clients/mlflow/bin/python -c "import mlflow; print('mlflow', mlflow.__version__)"
.venv-clients/moto/bin/python -c "import moto, pyarrow; print('moto', moto.__version__, 'pyarrow', pyarrow.__version__)"
# DuckDB with its httpfs extension from PyPI (the extension's wheel pins the DuckDB version it
# was built for, and is loaded from its file: DuckDB's own extension download needs the
# internet). 1.5.5, not the 2.x of .venv-clients/python: no httpfs wheel is built for 2.x.
clients_venv duckdb python "duckdb==1.5.5" "duckdb-extension-httpfs==1.5.5" "pyarrow==26.*"
.venv-clients/duckdb/bin/python -c "import duckdb; print('duckdb', duckdb.__version__)"
# Azurite, Microsoft's Azure Storage emulator, from npm (node runs it)
if [ ! -x .venv-clients/azurite/bin/azurite-blob ]; then
  mkdir -p .venv-clients/azurite/bin
  npm install --silent --no-audit --no-fund --prefix .venv-clients/azurite "azurite@3.37.0"
  ln -sf ../node_modules/.bin/azurite-blob .venv-clients/azurite/bin/azurite-blob
fi
echo "azurite $(.venv-clients/azurite/bin/azurite-blob --version)"
.venv-clients/dlt/bin/dlt --version
.venv-clients/schemathesis/bin/schemathesis --version
.venv-clients/python/bin/maturin --version

echo "== playwright-core for crates/genie/tests/console.rs (npm, into .venv-clients/playwright)"
# only the driver: it runs Debian's /usr/bin/chromium, no browser download
if [ ! -f .venv-clients/playwright/node_modules/playwright-core/package.json ]; then
  mkdir -p .venv-clients/playwright
  npm install --silent --no-audit --no-fund --prefix .venv-clients/playwright "playwright-core@1.65.2"
fi
node -e 'console.log("playwright-core " + require("./.venv-clients/playwright/node_modules/playwright-core/package.json").version)'
