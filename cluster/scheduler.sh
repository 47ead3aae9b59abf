#!/usr/bin/env bash
# Start the Dask scheduler of a zeekflow cluster with the settings in cluster/config (DASK_* variables override).
#
#   cluster/scheduler.sh --host 10.0.0.1                      # scheduler on 10.0.0.1:8786
#   cluster/scheduler.sh --host 10.0.0.1 --port 8786 --dashboard-address 127.0.0.1:8787
#
# Any `dask scheduler` option may follow (TLS: --protocol tls --tls-ca-file --tls-cert --tls-key).
# Defaults are loopback only: nothing listens on a network interface unless --host says so, and the dashboard
# stays on 127.0.0.1:8787 (reach it through an SSH tunnel) unless --dashboard-address says otherwise.
# ZEEKFLOW_DASK_CONFIG=DIR uses another config folder; DASK=PATH another `dask` executable.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DASK_CONFIG="${ZEEKFLOW_DASK_CONFIG:-$here/config}"
exec "${DASK:-dask}" scheduler --host 127.0.0.1 --dashboard-address 127.0.0.1:8787 "$@"
