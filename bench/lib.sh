# Shared by the bench scripts (sourced): logging, and the published gateway they measure.
# Needs REPO and WORK set; sets AGW (the command that runs the gateway).

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# publish_gateway: AGW_BIN (an already published directory) or a fresh Release publish into $WORK/bin.
publish_gateway() {
  local bin
  if [[ -n ${AGW_BIN:-} ]]; then
    bin=$AGW_BIN
  else
    log "publishing the gateway (Release) to $WORK/bin"
    # --artifacts-path keeps obj/ and bin/ out of src/, so this never collides with a developer's build.
    dotnet publish "$REPO/src/AgenticGateway" -c Release -o "$WORK/bin" --artifacts-path "$WORK/artifacts" \
      -nologo -v quiet >"$WORK/publish.log" 2>&1 || { tail -n 40 "$WORK/publish.log" >&2; die "publish failed"; }
    bin=$WORK/bin
  fi
  if [[ -x $bin/AgenticGateway ]]; then AGW=("$bin/AgenticGateway"); else AGW=(dotnet "$bin/AgenticGateway.dll"); fi
}

# A scratch directory ($WORK) and the processes the benchmark starts ($PIDS, append to it): on exit the processes are
# stopped and the directory removed, kept (and said) when the run failed or KEEP=1.
bench_workdir() {
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  PIDS=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $rc -ne 0 || ${KEEP:-0} == 1 ]]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
