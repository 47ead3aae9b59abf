#!/usr/bin/env bash
# Start zeekflow workers on this host, connected to SCHEDULER, with the settings in cluster/config.
#
#   cluster/worker.sh tcp://10.0.0.1:8786                     # one single-threaded worker process per CPU
#   cluster/worker.sh tcp://10.0.0.1:8786 --nworkers 4 --memory-limit 2GiB
#
# Any `dask worker` option may follow and overrides the defaults below (TLS: --tls-ca-file --tls-cert --tls-key).
# zeekflow's tasks are pure-Python parsing, bound by the GIL: one thread per worker process, one process per
# CPU. Workers need zeekflow installed and must see the inputs and the work dir at the client's paths.
# ZEEKFLOW_DASK_CONFIG=DIR uses another config folder; DASK=PATH another `dask` executable.
set -euo pipefail
if [[ $# -lt 1 || "$1" == -* ]]; then
    echo "usage: $0 SCHEDULER_ADDRESS [dask worker options...]" >&2
    exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DASK_CONFIG="${ZEEKFLOW_DASK_CONFIG:-$here/config}"
scheduler="$1"
shift
exec "${DASK:-dask}" worker "$scheduler" --nthreads 1 --nworkers -1 --no-dashboard "$@"
