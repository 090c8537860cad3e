# shellcheck shell=bash disable=SC2034
# Shared by the lab/arm64-node scripts (sourced, not run): the lab guests' common functions, for an
# arm64-node state directory (marker .fleet-arm64-node).
LAB_KIND=arm64-node
# shellcheck source=lab/microserver/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../microserver/common.sh"
