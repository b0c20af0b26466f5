#!/bin/bash
# `wsgm reproduce phi4-scaling` (issue 11) on a GPU machine, resumable, with its results
# packed for copying back: bash benchmarks/phi4_scaling_gpu.sh [SECONDS] [OUTDIR].
#
# - The run directory is runs/phi4_scaling; if it is missing, it starts from the committed
#   state in docs/results/phi4_scaling/run (finished models' EMA weights, their run
#   configs and training seconds, finished sweeps), so only what is missing is computed.
#   The data are regenerated (the phi4 chains are deterministic: the same SHA-256 on any
#   machine, which the resumed runs check).
# - SECONDS (default 470) bounds the command: it gets SIGINT then, which saves the training
#   checkpoint or the finished sweep points; rerun the script to go on.
# - PyWavelets may be missing on a GPU image: wheels in .whl/ are installed to /tmp/site.
# - OUTDIR (default $OUT or out/) receives log.txt, results.tgz (everything but data and
#   weights) and models_L<L>.tgz (EMA weights and normalization statistics).
set -u
LIMIT=${1:-470}
DEST=${2:-${OUT:-out}}
mkdir -p "$DEST" && DEST=$(cd "$DEST" && pwd)
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 9
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD/src:${PYTHONPATH:-} PYTHONUNBUFFERED=1
if [ ! -d runs/phi4_scaling ] && [ -d docs/results/phi4_scaling/run ]; then
  mkdir -p runs && cp -r docs/results/phi4_scaling/run runs/phi4_scaling
fi
nvidia-smi -L 2>/dev/null; nproc
t0=$(date +%s)
timeout -s INT -k 40 "$LIMIT" python3 -c "import sys; from wsgm.cli import main; sys.exit(main())" \
  reproduce phi4-scaling --out runs/phi4_scaling --sizes 16,32,64 --repeats 2 --threads 8 \
  --no-progress > "$DEST/log.txt" 2>&1
echo "rc $? wall $(( $(date +%s) - t0 )) s"
grep -v "^  " "$DEST/log.txt" | tail -40
(cd runs && tar czf "$DEST/results.tgz" --exclude='*.npz' --exclude='*.safetensors' \
  --exclude=lock phi4_scaling)
for L in 16 32 64; do
  m=(runs/phi4_scaling/L$L/runs/*/model)
  [ -d "${m[0]}" ] && (cd runs && tar czf "$DEST/models_L$L.tgz" \
    phi4_scaling/L$L/runs/*/model/ema.safetensors phi4_scaling/L$L/runs/*/model/stats.safetensors)
done
ls -la "$DEST"
