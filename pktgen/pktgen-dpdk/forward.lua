-- Pktgen-DPDK profile: the validation suite's `forward` scenario on real NICs.
--
--   Pktgen port 0 ---- lan [gatewayd A] wan ---- wan [gatewayd B] lan ---- Pktgen port 1
--   10.10.0.2/24       10.10.0.1  198.51.100.1/30   198.51.100.2/30  10.20.0.1       10.20.0.2/24
--
-- Port 0 sends UDP from site A's host (10.10.0.2) to site B's host (10.20.0.2) over 64
-- flows (destination ports 1000-1063) to gateway A's LAN MAC; port 1 receives what gateway
-- B forwards. For each frame size: an RFC 2544 throughput search (binary search over the
-- rate until the loss is at most `loss_pct`), then trials at 10/50/90% of the found rate
-- that must lose nothing. Results go to the screen and to `<scenario>-results.txt`.
--
-- Run (see README.md beside this file for the gateways' configurations):
--   pktgen -l 0-4 -n 4 -a <port0 PCI> -a <port1 PCI> -- -P -m "[1:2].0, [3:4].1" -f forward.lua
--
-- Edit the settings below (or set GW_SCENARIO before loading this file, as encrypt.lua
-- and run-vdev.sh do). Frame sizes count the 4-byte FCS, as Pktgen's and gwgen's do.
-- Run on Pktgen-DPDK 23.06.1 (DPDK 22.11) over virtual ports, see README.md; the shims
-- below cover the 3.x names (pktgen.dst_port, pktgen.range(...)) and the nested stats.
-- Nothing here needs Pktgen's own Pktgen.lua, so it runs from any directory.

local cfg = GW_SCENARIO or {}
local scenario     = cfg.name or "forward"
local tx_port      = cfg.tx_port or "0"                      -- cabled to gateway A's lan port
local rx_port      = cfg.rx_port or "1"                      -- cabled to gateway B's lan port
local gw_a_lan_mac = cfg.gw_a_lan_mac or "02:00:00:00:0a:01" -- `port lan ... mac` in A's config
local src_ip       = cfg.src_ip or "10.10.0.2"               -- site A's host (Pktgen port 0)
local dst_ip       = cfg.dst_ip or "10.20.0.2"               -- site B's host (Pktgen port 1)
local dport_first  = cfg.dport_first or 1000                 -- 64 flows: dport 1000-1063
local dport_last   = cfg.dport_last or 1063
local sizes        = cfg.sizes or {64, 576, 1400}
local trial_ms     = cfg.trial_ms or 10000                   -- per trial; rounded up to whole seconds
-- After stop: packets in flight arrive. Pktgen 23.x's portStats() returns the snapshot its
-- stats timer takes once a second, so anything shorter than that reads stale counters.
local settle_ms    = math.max(cfg.settle_ms or 2000, 1100)
local loss_pct     = cfg.loss_pct or 0.1                     -- RFC 2544 loss threshold, % of sent
local max_trials   = cfg.max_trials or 10
local resolution   = cfg.resolution or 1.0                   -- stop when the interval is this narrow (%)
local loads        = cfg.loads or {10, 50, 90}               -- % of the found rate; must be loss-free
local logfile      = cfg.logfile or scenario .. "-results.txt"
local quit         = cfg.quit or false                       -- exit Pktgen when done (unattended runs)

-- Pktgen 3.x exported the range setters at top level and range() as a function.
local R = type(pktgen.range) == "table" and pktgen.range or pktgen
local function range_on(ports)
    if pktgen.set_range then pktgen.set_range(ports, "on") else pktgen.range(ports, "on") end
end

local log = io.open(logfile, "a")
local function say(fmt, ...)
    local s = string.format(fmt, ...)
    print(s)
    log:write(s .. "\n")
    log:flush()
end

-- Packets sent and received on a port since the last pktgen.clr(). Pktgen 22.07-25.08
-- takes a stats type and returns flat counters; 26.02 takes the port alone and nests them
-- in `curr` (read from its source, not run).
local function counters(port)
    local ok, all = pcall(pktgen.portStats, port, "port")
    if not ok then all = pktgen.portStats(port) end
    local t = all[tonumber(port)]
    if t.curr then t = t.curr end
    return t.opackets, t.ipackets
end

local function link_mbps(port)
    local s = pktgen.linkState(port)[tonumber(port)]
    return tonumber(string.match(s, "%d+")) or 10000
end

-- Line rate in packets per second at this frame size (20 B of preamble and gap per frame).
local function line_pps(size)
    return link_mbps(tx_port) * 1e6 / ((size + 20) * 8)
end

local function setup(size)
    pktgen.reset("all")
    pktgen.set("all", "burst", 32)
    pktgen.set_type("all", "ipv4")
    pktgen.set_proto(tx_port .. "," .. rx_port, "udp")
    pktgen.set_ipaddr(tx_port, "src", src_ip .. "/24")
    pktgen.set_ipaddr(tx_port, "dst", dst_ip)
    pktgen.set_ipaddr(rx_port, "src", dst_ip .. "/24")
    pktgen.set_ipaddr(rx_port, "dst", src_ip)
    pktgen.set_mac(tx_port, "dst", gw_a_lan_mac)
    pktgen.set(tx_port, "size", size)

    -- Range mode builds its packets from the range settings alone: without these two it
    -- sends TCP (Pktgen 23.06's range default) whatever set_proto says.
    if R.set_type then R.set_type(tx_port, "ipv4") end
    if R.ip_proto then R.ip_proto(tx_port, "udp") end
    R.dst_mac(tx_port, "start", gw_a_lan_mac)
    R.src_ip(tx_port, "start", src_ip)
    R.src_ip(tx_port, "inc", "0.0.0.0")
    R.src_ip(tx_port, "min", src_ip)
    R.src_ip(tx_port, "max", src_ip)
    R.dst_ip(tx_port, "start", dst_ip)
    R.dst_ip(tx_port, "inc", "0.0.0.0")
    R.dst_ip(tx_port, "min", dst_ip)
    R.dst_ip(tx_port, "max", dst_ip)
    R.src_port(tx_port, "start", 10000)
    R.src_port(tx_port, "inc", 0)
    R.src_port(tx_port, "min", 10000)
    R.src_port(tx_port, "max", 10000)
    R.dst_port(tx_port, "start", dport_first)
    R.dst_port(tx_port, "inc", 1)
    R.dst_port(tx_port, "min", dport_first)
    R.dst_port(tx_port, "max", dport_last)
    R.pkt_size(tx_port, "start", size)
    R.pkt_size(tx_port, "inc", 0)
    R.pkt_size(tx_port, "min", size)
    R.pkt_size(tx_port, "max", size)
    if R.ttl then
        R.ttl(tx_port, "start", 64)
        R.ttl(tx_port, "inc", 0)
        R.ttl(tx_port, "min", 64)
        R.ttl(tx_port, "max", 64)
    end
    range_on(tx_port)
end

-- Trials are timed by the wall clock, to the second: pktgen.delay() sleeps in 10-ms steps
-- and overruns when the main lcore shares its CPU (a 10-s delay took 14 s on the VM of
-- README.md), which would overstate the packet rate by as much.
local trial_s = math.max(1, math.ceil(trial_ms / 1000))
local function next_second()
    local t = os.time()
    while os.time() == t do pktgen.delay(5) end
    return t + 1
end

-- One trial at `rate` % of line rate: returns sent, received, loss %, packets/s sent.
local function trial(size, rate)
    pktgen.clr()
    pktgen.set(tx_port, "rate", rate)
    pktgen.set(tx_port, "count", 0)
    local t0 = next_second()
    pktgen.start(tx_port)
    while os.time() < t0 + trial_s do pktgen.delay(5) end
    pktgen.stop(tx_port)
    pktgen.delay(settle_ms)
    local sent = counters(tx_port)
    local _, received = counters(rx_port)
    local loss = sent > 0 and (sent - received) * 100 / sent or 100
    local pps = sent / trial_s
    say("[%s %4dB] rate %6.2f%%: sent %d (%.3f Mpps), received %d, loss %.4f%% -> %s",
        scenario, size, rate, sent, pps / 1e6, received, loss,
        loss <= loss_pct and "pass" or "fail")
    return sent, received, loss, pps
end

-- Binary search; returns the highest passing rate (% of line rate) and the packet rate
-- actually sent in that trial, which falls short of the nominal one when the tester
-- itself cannot keep up (as on virtual ports).
local function search(size)
    local lo, hi, rate, lo_pps = 0, 100, 100, 0
    for _ = 1, max_trials do
        local _, _, loss, pps = trial(size, rate)
        if loss <= loss_pct then lo, lo_pps = rate, pps else hi = rate end
        if hi - lo < resolution or lo == 100 then break end
        rate = (lo + hi) / 2
    end
    return lo, lo_pps
end

local function run()
    say("== %s: Pktgen port %s -> gatewayd A -> gatewayd B -> port %s, %s", scenario, tx_port,
        rx_port, os.date())
    pktgen.screen("off")
    for _, size in ipairs(sizes) do
        setup(size)
        local found, sent_pps = search(size)
        local pps = found / 100 * line_pps(size)
        say("[%s %4dB] RFC 2544 throughput (loss <= %g%%): %.2f%% of %d Mb/s = %.3f Mpps nominal, %.3f Mpps sent",
            scenario, size, loss_pct, found, link_mbps(tx_port), pps / 1e6, sent_pps / 1e6)
        for _, pct in ipairs(loads) do
            if found > 0 then
                local _, _, loss = trial(size, found * pct / 100)
                say("[%s %4dB] at %d%% of the throughput: loss %.4f%% %s", scenario, size, pct, loss,
                    loss == 0 and "(ok)" or "(FAIL: must be 0)")
            end
        end
    end
    say("== done; compare with `gwctl show runtime|errors|latency` on both gateways and docs/validation.md")
end

-- An error is logged (and, unattended, still ends Pktgen) rather than leaving it running.
local ok, err = pcall(run)
if not ok then
    pcall(pktgen.stop, tx_port)
    say("== %s: ERROR %s", scenario, tostring(err))
end
pktgen.screen("on")
log:close()
if quit then pktgen.quit() end
