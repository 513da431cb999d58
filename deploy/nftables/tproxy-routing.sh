#!/bin/sh
# Policy routing for method "tproxy": packets marked $TPROXY_MARK by trproxy-tproxy.nft are
# delivered to this machine (table 100: every destination is local), so the IP_TRANSPARENT
# listener receives flows to any address. Run once at boot (e.g. from a systemd unit before
# trproxy), with TPROXY_MARK matching settings.nft. Idempotent.
set -eu
mark="${TPROXY_MARK:-0x1}"
table="${TPROXY_TABLE:-100}"
for family in -4 -6; do
  ip "$family" rule del fwmark "$mark" lookup "$table" 2>/dev/null || true
  ip "$family" rule add fwmark "$mark" lookup "$table"
  ip "$family" route replace local default dev lo table "$table"
done
