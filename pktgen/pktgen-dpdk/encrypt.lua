-- Pktgen-DPDK profile: the validation suite's `encrypt` scenario on real NICs.
--
-- The same traffic and procedure as forward.lua, against two gateways joined by an ESP
-- tunnel (AES-128-GCM, SPIs 0x1001 A->B and 0x2001 B->A; README.md has both configs):
-- Pktgen sees cleartext on both ports, the WAN link carries only ESP. Frames up to
-- 1400 B fit a 1500-byte WAN MTU after ESP's 54-57 bytes; to test 1518-byte frames, give
-- both WAN ports `mtu 1600` and add 1518 to `sizes`.
--
-- Run:
--   pktgen -l 0-4 -n 4 -a <port0 PCI> -a <port1 PCI> -- -P -m "[1:2].0, [3:4].1" -f encrypt.lua
-- While it runs, `gwctl show ipsec sa` on each gateway shows the SA packet counters
-- growing and no replay or authentication drops.
-- Run on Pktgen-DPDK 23.06.1 over virtual ports, through two gatewayd with these SAs
-- (README.md, run-vdev.sh --gateways); not on NICs yet.

-- Settings already in GW_SCENARIO (trial length, MACs, quit, ...) are kept.
GW_SCENARIO = GW_SCENARIO or {}
GW_SCENARIO.name = GW_SCENARIO.name or "encrypt"
GW_SCENARIO.sizes = GW_SCENARIO.sizes or {64, 576, 1400}

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or ""
dofile(here .. "forward.lua")
