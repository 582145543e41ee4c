#!/usr/bin/python3
"""ESP interop: the real gatewayd against an independent implementation.

Scapy's ESP (Debian python3-scapy 2.5, so /usr/bin/python3) is the oracle: it
decrypts and verifies every packet gatewayd encrypts on its WAN port, and it
encrypts the packets gatewayd must decrypt and forward to the LAN. gatewayd
runs on two net_pcap ports (no network, no hugepages): it reads lan_in.pcap /
wan_in.pcap at start and writes lan_out.pcap / wan_out.pcap; its counters come
from --stats-json after SIGTERM.

    usage: /usr/bin/python3 tests/integration/esp_interop.py /path/to/gatewayd
    env:   GW_TEST_KEEP_LOGS=1 keeps the work directory (configs, pcaps, logs)

Runs (each a fresh gatewayd; the same config apart from `dataplane burst`):
  mode     the config holds keys: mode 0644 fails --check (exit 2, names chmod)
  probe    empty pcaps: learn the ports' MACs from gatewayd's log
  interop  burst 32: outbound for four tunnels (v4-in-v4 aes-gcm-128,
           v6-in-v6 aes-gcm-256 + ESN, v6-in-v4 aes-gcm-256, v4-in-v6
           aes-gcm-128 + ESN), inbound for the same four, a bypass flow, and
           the inbound drop reasons (flipped ciphertext / ICV bit, unknown
           SPI, SPI sent to another of our addresses, truncated, bad padding,
           dummy and bad next header, cleartext or wrong-SA traffic of a
           protect policy, bad inner IPv4 checksum) with exact counts
  replay1  burst 1 (one packet per burst): the anti-replay window edge and an
           ESN sequence crossing 2^32, packet by packet
  replay32 burst 32: the same input, where the window-edge packets share one
           burst and the 2^32 crossing happens inside a burst; the verdicts must
           not depend on how packets were batched

Prints one `ok - ...` / `not ok - ...` line per check (a failure caused by a
reported data-plane bug says `# KNOWN BUG: <where>`, and still fails); exits 0
when all pass, 1 when any fails, 77 (skipped) when not root.
"""

import hashlib
import json
import logging
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77

# --- topology -------------------------------------------------------------
# LAN host 10.1.0.2 / 2001:db8:1::2 -- [lan] gatewayd [wan] -- peer gateway
# 192.0.2.2 / 2001:db8:ff::2, which fronts the remote site's subnets below.
LAN_MAC_HOST = "02:00:00:00:0a:02"
PEER_MAC = "02:00:00:00:0b:02"
LAN4, LAN6 = "10.1.0.1", "2001:db8:1::1"
HOST4, HOST6 = "10.1.0.2", "2001:db8:1::2"
WAN4, WAN6 = "192.0.2.1", "2001:db8:ff::1"
PEER4, PEER6 = "192.0.2.2", "2001:db8:ff::2"
BYPASS_DST4 = PEER4  # no policy covers LAN -> WAN peer: forwarded in clear

# name, inner v6?, outer v6?, key bits, esn, out spi, in spi, local site, remote site,
# remote host base (remote site address stem)
TUNNELS = [
    dict(name="t44", inner6=False, outer6=False, bits=128, esn=False, out_spi=0x1001, in_spi=0x2001,
         local_net="10.1.0.0/24", remote_net="10.2.0.0/24", remote_host="10.2.0."),
    dict(name="t66", inner6=True, outer6=True, bits=256, esn=True, out_spi=0x1002, in_spi=0x2002,
         local_net="2001:db8:1::/64", remote_net="2001:db8:2::/64", remote_host="2001:db8:2::"),
    dict(name="t64", inner6=True, outer6=False, bits=256, esn=False, out_spi=0x1003, in_spi=0x2003,
         local_net="2001:db8:1::/64", remote_net="2001:db8:3::/64", remote_host="2001:db8:3::"),
    dict(name="t46", inner6=False, outer6=True, bits=128, esn=True, out_spi=0x1004, in_spi=0x2004,
         local_net="10.1.0.0/24", remote_net="10.3.0.0/24", remote_host="10.3.0."),
]
REPLAY_WINDOW = 64
SETTLE_S = 0.5     # outputs unchanged this long: gatewayd is done
MAX_RUN_S = 10.0   # bound on one run's packet processing
READY_S = 20.0     # bound on startup (EAL init, ports)


def key_bytes(tunnel, direction):
    """Deterministic key || salt for one SA."""
    material = hashlib.sha256(f"{tunnel['name']}-{direction}".encode()).digest()
    material += hashlib.sha256(material).digest()
    return material[:tunnel["bits"] // 8 + 4]


class Checks:
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def ok(self, cond, what, detail="", known_bug=""):
        """One check. `known_bug` marks the failure line with a reported,
        not yet fixed data-plane bug; the check still fails."""
        if cond:
            self.passed += 1
            print(f"ok - {what}", flush=True)
        else:
            self.failed += 1
            print(f"not ok - {what}" + (f" # KNOWN BUG: {known_bug}" if known_bug else ""), flush=True)
            if detail:
                for line in str(detail).splitlines():
                    print(f"#   {line}", flush=True)
        return bool(cond)


# --- gatewayd runs ----------------------------------------------------------

class Gatewayd:
    """One gatewayd process on a run directory; always reaped by stop()."""

    def __init__(self, exe, run_dir, config, prefix):
        self.exe = exe
        self.dir = run_dir
        self.config = config
        self.prefix = prefix
        self.stdout = os.path.join(run_dir, "gatewayd.stdout")
        self.stderr = os.path.join(run_dir, "gatewayd.stderr")
        self.stats = os.path.join(run_dir, "stats.json")
        self.proc = None
        self.rc = None

    def start(self):
        with open(self.stdout, "wb") as out, open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen(
                [self.exe, "--config", self.config, "--log-level", "info", "--stats-json", self.stats],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)

    def log(self):
        try:
            with open(self.stderr, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_ready(self):
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if "ready:" in self.log():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.02)
        return False

    def wait_settled(self, outputs):
        """Polls the output pcaps until each holds at least its expected
        number of packets and none grew for SETTLE_S (so extra, unexpected
        packets are caught too); bounded by MAX_RUN_S. `outputs` maps path to
        expected count. Every run ends its input with packets that produce
        output, so reaching the counts means every input was processed."""
        deadline = time.monotonic() + MAX_RUN_S
        last = None
        stable_since = time.monotonic()
        while time.monotonic() < deadline:
            counts = {path: pcap_records(path) for path in outputs}
            now = time.monotonic()
            if counts != last:
                last = counts
                stable_since = now
            elif now - stable_since >= SETTLE_S and all(counts[p] >= n for p, n in outputs.items()):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def stop(self, timeout=15.0):
        """SIGTERM, then SIGKILL if it does not stop; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.rc = self.proc.returncode
        cleanup_prefix(self.prefix)
        return self.rc

    def tail(self, n=30):
        text = []
        for label, path in (("stderr", self.stderr), ("stdout", self.stdout)):
            try:
                with open(path, errors="replace") as f:
                    lines = f.read().splitlines()[-n:]
            except OSError:
                lines = []
            text.append(f"--- gatewayd {label} ({self.dir}) ---")
            text.extend(lines)
        return "\n".join(text)


def pcap_records(path):
    """Complete packet records in a pcap file being written (0 if absent)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return 0
    if len(data) < 24:
        return 0
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    n, off = 0, 24
    while off + 16 <= len(data):
        caplen = struct.unpack_from(endian + "I", data, off + 8)[0]
        if off + 16 + caplen > len(data):
            break
        n += 1
        off += 16 + caplen
    return n


def cleanup_prefix(prefix):
    # With --no-huge --no-shconf EAL still creates its runtime directory.
    path = os.path.join("/var/run/dpdk", prefix)
    if prefix and os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)


def make_config(run_dir, prefix, burst):
    lines = [
        "# esp_interop: written by tests/integration/esp_interop.py",
        "eal no-huge",
        "eal memory 512",
        f"eal file-prefix {prefix}",
        f"dataplane burst {burst}",
        f"port lan dev net_pcap0,rx_pcap={run_dir}/lan_in.pcap,tx_pcap={run_dir}/lan_out.pcap",
        f"port wan dev net_pcap1,rx_pcap={run_dir}/wan_in.pcap,tx_pcap={run_dir}/wan_out.pcap",
        f"port lan address {LAN4}/24",
        f"port lan address {LAN6}/64",
        f"port wan address {WAN4}/24",
        f"port wan address {WAN6}/64",
        "worker 1",
        f"neighbor lan {HOST4} {LAN_MAC_HOST}",
        f"neighbor lan {HOST6} {LAN_MAC_HOST}",
        f"neighbor wan {PEER4} {PEER_MAC}",
        f"neighbor wan {PEER6} {PEER_MAC}",
    ]
    for t in TUNNELS:
        via = PEER6 if t["inner6"] else PEER4
        lines.append(f"route {t['remote_net']} via {via}")
    priority = 10
    for t in TUNNELS:
        local, remote = (WAN6, PEER6) if t["outer6"] else (WAN4, PEER4)
        esn = " esn" if t["esn"] else ""
        cipher = f"aes-gcm-{t['bits']}"
        lines.append(f"ipsec sa {t['name']}-out out spi {t['out_spi']:#x} {cipher} "
                     f"key {key_bytes(t, 'out').hex()} tunnel {local} {remote}{esn}")
        lines.append(f"ipsec sa {t['name']}-in in spi {t['in_spi']:#x} {cipher} "
                     f"key {key_bytes(t, 'in').hex()} tunnel {local} {remote}{esn} "
                     f"replay-window {REPLAY_WINDOW}")
        lines.append(f"ipsec policy out priority {priority} src {t['local_net']} dst {t['remote_net']} "
                     f"protect {t['name']}-out")
        lines.append(f"ipsec policy in priority {priority} src {t['remote_net']} dst {t['local_net']} "
                     f"protect {t['name']}-in")
        priority += 10
    path = os.path.join(run_dir, "gatewayd.conf")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path


# --- packets -----------------------------------------------------------------

def import_scapy():
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    logging.getLogger("scapy.loading").setLevel(logging.ERROR)
    global Ether, IP, IPv6, UDP, TCP, ICMP, ICMPv6EchoRequest, Raw, ESP, SecurityAssociation
    global _ESPPlain, rdpcap, wrpcap, AESGCM, conf
    from scapy.config import conf
    conf.verb = 0
    from scapy.layers.l2 import Ether
    from scapy.layers.inet import IP, UDP, TCP, ICMP
    from scapy.layers.inet6 import IPv6, ICMPv6EchoRequest
    from scapy.packet import Raw
    from scapy.layers.ipsec import ESP, SecurityAssociation, _ESPPlain
    from scapy.utils import rdpcap, wrpcap
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def pattern(n, seed):
    return bytes((seed * 7 + i) & 0xFF for i in range(n))


def inner_set(src, dst, v6, seed):
    """Cleartext packets of several protocols and sizes; the UDP ones cover
    every ESP pad length 0..3."""
    def l3(**kw):
        if v6:
            return IPv6(src=src, dst=dst, hlim=64, tc=kw.get("tos", 0))
        return IP(src=src, dst=dst, ttl=64, id=0x4000 + seed, flags=kw.get("flags", 0), tos=kw.get("tos", 0))

    icmp = ICMPv6EchoRequest(id=seed, seq=1, data=pattern(56, seed)) if v6 else \
        ICMP(type=8, id=seed, seq=1) / Raw(pattern(56, seed))
    pkts = [l3() / icmp]
    for n in range(20, 24):  # four consecutive sizes: every pad length once
        pkts.append(l3(flags="DF") / UDP(sport=40000 + n, dport=53) / Raw(pattern(n, seed + n)))
    pkts.append(l3() / UDP(sport=40100, dport=9) / b"")
    pkts.append(l3(flags="DF") / TCP(sport=40200, dport=443, flags="S", seq=1000 + seed,
                                     options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)),
                                              ("NOP", None), ("WScale", 7)]))
    pkts.append(l3(tos=0xB8) / TCP(sport=40201, dport=443, flags="PA", seq=2000, ack=3000)
                / Raw(pattern(1000, seed)))
    pkts.append(l3() / UDP(sport=40300, dport=4791) / Raw(pattern(1350, seed)))
    return [p.__class__(bytes(p)) for p in pkts]


def forwarded(pkt):
    """What a router makes of `pkt`: TTL / hop limit minus one."""
    p = pkt.__class__(bytes(pkt))
    if isinstance(p, IPv6):
        p.hlim -= 1
    else:
        p.ttl -= 1
        del p.chksum
    return bytes(p.__class__(bytes(p)))


def l2(dst, src, l3):
    """An Ethernet frame around IP bytes `l3`, as the gateway writes it."""
    return bytes(Ether(dst=dst, src=src, type=0x86DD if l3[0] >> 4 == 6 else 0x0800)) + l3


def pad_len(inner_len):
    return (-(inner_len + 2)) % 4


def tunnel_header(t, inbound):
    local, remote = (WAN6, PEER6) if t["outer6"] else (WAN4, PEER4)
    src, dst = (remote, local) if inbound else (local, remote)
    return IPv6(src=src, dst=dst) if t["outer6"] else IP(src=src, dst=dst)


def scapy_sa(t, inbound):
    return SecurityAssociation(ESP, spi=t["in_spi"] if inbound else t["out_spi"], crypt_algo="AES-GCM",
                               crypt_key=key_bytes(t, "in" if inbound else "out"),
                               tunnel_header=tunnel_header(t, inbound), esn_en=t["esn"])


def scapy_encrypt(t, inner, seq64, iv=None):
    """Outer IP packet from Scapy for the inbound SA of `t` at 64-bit `seq64`.
    (Scapy treats seq_num=0 and esn=0 arguments as "unset", so both go
    through the SA's attributes.)"""
    sa = scapy_sa(t, inbound=True)
    sa.seq_num = seq64 & 0xFFFFFFFF
    sa.esn = seq64 >> 32
    if iv is None:
        iv = struct.pack("!Q", seq64 ^ 0x5A5A000000000000)
    return sa.encrypt(inner, iv=iv)


def esp_from_plain(t, seq64, payload, padding, nh, padlen=None):
    """Outer packet whose ESP plaintext trailer is ours to choose (malformed
    padding or next header), encrypted by Scapy's AES-GCM."""
    sa = scapy_sa(t, inbound=True)
    iv = struct.pack("!Q", seq64 ^ 0xA5A5000000000000)
    plain = _ESPPlain(spi=t["in_spi"], seq=seq64 & 0xFFFFFFFF, iv=iv, data=Raw(payload), padding=padding,
                      padlen=len(padding) if padlen is None else padlen, nh=nh)
    esp = sa.crypt_algo.encrypt(sa, plain, sa.crypt_key, None, esn_en=t["esn"], esn=seq64 >> 32)
    outer = tunnel_header(t, inbound=True)
    return outer.__class__(bytes(outer / esp))


def to_wan(outer):
    return Ether(dst=MACS["wan"], src=PEER_MAC) / outer


def to_lan(inner):
    return Ether(dst=MACS["lan"], src=LAN_MAC_HOST) / inner


def open_esp(key_salt, spi, seq64, esn, esp):
    """RFC 4106 by hand with `cryptography`'s AESGCM: the whole ESP plaintext,
    trailer included (Scapy does not expose the padding bytes reliably)."""
    key, salt = key_salt[:-4], key_salt[-4:]
    aad = struct.pack("!III", spi, seq64 >> 32, seq64 & 0xFFFFFFFF) if esn else \
        struct.pack("!II", spi, seq64 & 0xFFFFFFFF)
    return AESGCM(key).decrypt(salt + esp[8:16], esp[16:], aad)


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"first difference at byte {i}: {x:#04x} != {y:#04x} (lengths {len(a)} / {len(b)})"
    return f"lengths {len(a)} / {len(b)}"


MACS = {}


def read_pcap(path):
    if not os.path.exists(path) or os.path.getsize(path) <= 24:
        return []
    return [bytes(p) for p in rdpcap(path)]


# --- the runs ----------------------------------------------------------------

class Runner:
    def __init__(self, exe, work, checks):
        self.exe = exe
        self.work = work
        self.c = checks
        self.procs = []

    def run(self, name, burst, lan_in, wan_in, lan_expected=0, wan_expected=0):
        """Writes inputs, runs gatewayd until its outputs settle, stops it.
        Returns (lan_out, wan_out, stats dict or None, Gatewayd)."""
        run_dir = os.path.join(self.work, name)
        os.mkdir(run_dir)
        wrpcap(os.path.join(run_dir, "lan_in.pcap"), lan_in, linktype=1)
        wrpcap(os.path.join(run_dir, "wan_in.pcap"), wan_in, linktype=1)
        prefix = f"gwesp{os.getpid()}-{name}"
        cfg = make_config(run_dir, prefix, burst)
        gw = Gatewayd(self.exe, run_dir, cfg, prefix)
        self.procs.append(gw)
        gw.start()
        ready = gw.wait_ready()
        settled = ready and gw.wait_settled({os.path.join(run_dir, "lan_out.pcap"): lan_expected,
                                             os.path.join(run_dir, "wan_out.pcap"): wan_expected})
        rc = gw.stop()
        clean = ready and settled and rc == 0
        self.c.ok(clean, f"{name}: gatewayd started, settled and stopped cleanly on SIGTERM (exit {rc})",
                  "" if clean else f"ready {ready}, settled {settled}\n{gw.tail()}")
        stats = None
        if os.path.exists(gw.stats):
            with open(gw.stats) as f:
                stats = json.load(f)
        self.c.ok(stats is not None, f"{name}: --stats-json written", "" if stats else gw.tail())
        lan_out = read_pcap(os.path.join(run_dir, "lan_out.pcap"))
        wan_out = read_pcap(os.path.join(run_dir, "wan_out.pcap"))
        if stats is not None:
            ports = {p["name"]: p for p in stats.get("ports", [])}
            self.c.ok(ports.get("lan", {}).get("ipackets") == len(lan_in) and
                      ports.get("wan", {}).get("ipackets") == len(wan_in),
                      f"{name}: gatewayd read every input packet (lan {len(lan_in)}, wan {len(wan_in)})",
                      f"ports: {ports}")
            self.c.ok(ports.get("lan", {}).get("opackets") == len(lan_out) and
                      ports.get("wan", {}).get("opackets") == len(wan_out),
                      f"{name}: port tx counters match the output pcaps (lan {len(lan_out)}, wan {len(wan_out)})",
                      f"ports: {ports}")
            self.c.ok(stats.get("mbufs_leaked") == 0, f"{name}: no mbufs leaked",
                      f"mbufs_leaked = {stats.get('mbufs_leaked')}")
        macs = dict(re.findall(r"port '(\w+)' \(.*?\): ethdev \d+, mac ([0-9a-f:]{17})", gw.log()))
        if MACS and macs:
            self.c.ok(macs == MACS, f"{name}: port MACs as probed", f"{macs} != {MACS}")
        return lan_out, wan_out, stats, gw

    def expect_drops(self, name, stats, expected, known_bugs=None):
        """Exact drop counts: every expected reason with its count, nothing else."""
        known_bugs = known_bugs or {}
        drops = (stats or {}).get("drops", {})
        for reason, count in expected.items():
            got = drops.get(reason, 0)
            self.c.ok(got == count, f"{name}: drop {reason} = {count}", f"counted {got}; all drops: {drops}",
                      known_bugs.get(reason, ""))
        extra = {k: v for k, v in drops.items() if k not in expected}
        self.c.ok(not extra, f"{name}: no other drop reason counted", f"unexpected drops: {extra}")


def check_mode(c, exe, work):
    """Keys in a file others can read: refused before anything starts."""
    d = os.path.join(work, "mode")
    os.mkdir(d)
    cfg = make_config(d, f"gwesp{os.getpid()}-mode", 32)
    rc = subprocess.run([exe, "--config", cfg, "--check"], capture_output=True, text=True, timeout=30)
    c.ok(rc.returncode == 0, "config of mode 0600 passes --check", rc.stderr + rc.stdout)
    loose = os.path.join(d, "loose.conf")
    shutil.copyfile(cfg, loose)
    os.chmod(loose, 0o644)
    rc = subprocess.run([exe, "--config", loose, "--check"], capture_output=True, text=True, timeout=30)
    c.ok(rc.returncode == 2 and "chmod" in rc.stderr,
         "config with keys of mode 0644 fails --check with exit 2 and names chmod",
         f"exit {rc.returncode}; stderr: {rc.stderr.strip()}")
    c.ok(not any(key_bytes(t, way).hex() in rc.stderr + rc.stdout for t in TUNNELS for way in ("in", "out")),
         "the refusal does not print key material")


def probe_macs(r):
    lan_out, wan_out, stats, gw = r.run("probe", 32, [], [])
    macs = dict(re.findall(r"port '(\w+)' \(.*?\): ethdev \d+, mac ([0-9a-f:]{17})", gw.log()))
    r.c.ok(set(macs) == {"lan", "wan"} and macs["lan"] != macs["wan"],
           f"probe: port MACs from gatewayd's log (lan {macs.get('lan')}, wan {macs.get('wan')})", gw.tail())
    MACS.update(macs)
    r.c.ok(not lan_out and not wan_out, "probe: nothing sent on its own (static neighbors, no ARP/ND)",
           f"lan_out {len(lan_out)}, wan_out {len(wan_out)}")
    return set(macs) == {"lan", "wan"}


def check_interop(r):
    c = r.c

    # Outbound: cleartext from the LAN host for every tunnel, interleaved so
    # that bursts mix SAs (per-SA order is what must hold), plus one flow no
    # policy covers.
    tagged = []
    for k, t in enumerate(TUNNELS):
        src = HOST6 if t["inner6"] else HOST4
        dst = t["remote_host"] + str(10 + k)
        pkts = inner_set(src, dst, t["inner6"], seed=k + 1)
        pads = {pad_len(len(p)) for p in pkts}
        c.ok(pads == {0, 1, 2, 3}, f"outbound {t['name']}: test packets need ESP pad lengths {sorted(pads)}")
        tagged += [(t["name"], p) for p in pkts]
    bypass = IP(bytes(IP(src=HOST4, dst=BYPASS_DST4, ttl=64) / UDP(sport=5000, dport=5001) / Raw(b"in clear")))
    tagged.append((None, bypass))
    random.Random(4303).shuffle(tagged)
    lan_in = [to_lan(p) for _, p in tagged]
    sent_out = {t["name"]: [p for name, p in tagged if name == t["name"]] for t in TUNNELS}

    # Inbound: Scapy encrypts, per tunnel, then every way to get it wrong.
    wan_in = []
    expect_lan = []
    next_seq = {}
    for k, t in enumerate(TUNNELS):
        src = t["remote_host"] + str(20 + k)
        dst = HOST6 if t["inner6"] else HOST4
        pkts = inner_set(src, dst, t["inner6"], seed=k + 11)
        for i, p in enumerate(pkts, start=1):
            wan_in.append(to_wan(scapy_encrypt(t, p, i)))
            expect_lan.append(l2(LAN_MAC_HOST, MACS["lan"], forwarded(p)))
        next_seq[t["name"]] = len(pkts) + 1

    def seq(t):
        s = next_seq[t["name"]]
        next_seq[t["name"]] += 1
        return s

    t44, t66, t64, t46 = TUNNELS
    probe4 = IP(src="10.2.0.99", dst=HOST4, ttl=64) / UDP(sport=7, dport=7) / Raw(pattern(33, 99))
    probe6 = IPv6(src="2001:db8:2::99", dst=HOST6, hlim=64) / UDP(sport=7, dport=7) / Raw(pattern(33, 98))
    negatives = []
    # ICV failures: one bit of ciphertext, one bit of the tag.
    good = bytes(to_wan(scapy_encrypt(t44, probe4, seq(t44))))
    flipped = bytearray(good)
    flipped[14 + 20 + 16 + 5] ^= 0x10
    negatives.append(("ciphertext bit flipped (v4)", bytes(flipped)))
    good = bytes(to_wan(scapy_encrypt(t66, probe6, seq(t66))))
    flipped = bytearray(good)
    flipped[-1] ^= 0x01
    negatives.append(("ICV bit flipped (v6, ESN)", bytes(flipped)))
    # Unknown SPI: a well-formed packet under an SPI nobody configured.
    other = dict(t44, in_spi=0x0BADBEEF)
    negatives.append(("unknown SPI", bytes(to_wan(scapy_encrypt(other, probe4, 1)))))
    # A known SPI sent to another of our addresses: the SA is bound to its
    # tunnel endpoint, so it is no SA for this packet.
    misaddressed = IP(bytes(scapy_encrypt(t44, probe4, seq(t44))))
    misaddressed.dst = LAN4
    del misaddressed.chksum
    negatives.append(("t44's SPI addressed to the gateway's LAN address, not the SA's endpoint",
                      bytes(to_wan(IP(bytes(misaddressed))))))
    # Authentic ESP around an inner IPv4 header with a wrong checksum: the
    # decapsulated packet is checked like a received one.
    bad_sum = IP(bytes(IP(src="10.2.0.97", dst=HOST4, ttl=64) / UDP(sport=7, dport=7) / Raw(pattern(9, 5))))
    bad_sum.chksum ^= 0x0101
    negatives.append(("inner IPv4 header checksum wrong (authentic)",
                      bytes(to_wan(scapy_encrypt(t44, IP(bytes(bad_sum)), seq(t44))))))
    # Truncated: shorter than header + IV + trailer + ICV.
    negatives.append(("truncated ESP (v4, 16 bytes)", bytes(to_wan(
        IP(src=PEER4, dst=WAN4) / ESP(spi=t44["in_spi"], seq=seq(t44), data=b"\x00" * 8)))))
    negatives.append(("truncated ESP (v6, 33 bytes)", bytes(to_wan(
        IPv6(src=PEER6, dst=WAN6) / ESP(spi=t66["in_spi"], seq=seq(t66), data=b"\x00" * 25)))))
    # Authentic, but a broken trailer.
    body = bytes(IP(src="10.2.0.98", dst=HOST4, ttl=64) / UDP(sport=7, dport=7) / Raw(pattern(22, 7)))
    assert pad_len(len(body)) == 0
    negatives.append(("padding bytes not 1, 2, ... (authentic)",
                      bytes(to_wan(esp_from_plain(t44, seq(t44), body, b"\x01\x03\x03\x04", 4)))))
    negatives.append(("pad length beyond the payload (authentic)",
                      bytes(to_wan(esp_from_plain(t44, seq(t44), b"\x45\x00", b"", 4, padlen=200)))))
    negatives.append(("next header 59, dummy packet (authentic)",
                      bytes(to_wan(esp_from_plain(t46, seq(t46), pattern(30, 3), b"\x01\x02\x03\x04", 59)))))
    negatives.append(("next header 17, not a tunnel (authentic)",
                      bytes(to_wan(esp_from_plain(t44, seq(t44), body, b"", 17)))))
    # Traffic an inbound protect policy covers, arriving in clear or through
    # an SA other than the policy's.
    negatives.append(("cleartext v4 covered by an inbound protect policy", bytes(to_wan(probe4))))
    negatives.append(("cleartext v6 covered by an inbound protect policy", bytes(to_wan(probe6))))
    negatives.append(("v4 inner of t44's policy arriving through t46's SA",
                      bytes(to_wan(scapy_encrypt(t46, probe4, seq(t46))))))
    for _, frame in negatives:
        wan_in.append(Ether(frame))

    for what, _ in negatives:
        print(f"#   inbound negative case: {what}")
    lan_out, wan_out, stats, _ = r.run("interop", 32, lan_in, wan_in, lan_expected=len(expect_lan),
                                       wan_expected=len(tagged))

    # Outbound: every ESP packet on the WAN decrypts with Scapy to what was sent.
    by_spi = {}
    clear = []
    for frame in wan_out:
        e = Ether(frame)
        outer = e.payload
        if (isinstance(outer, IP) and outer.proto == 50) or (isinstance(outer, IPv6) and outer.nh == 50):
            by_spi.setdefault(outer[ESP].spi, []).append((e, frame))
        else:
            clear.append(frame)
    for t in TUNNELS:
        name = t["name"]
        got = by_spi.pop(t["out_spi"], [])
        want = sent_out[name]
        c.ok(len(got) == len(want), f"outbound {name}: {len(want)} ESP packets with spi {t['out_spi']:#x}",
             f"got {len(got)}")
        sa = scapy_sa(t, inbound=False)
        key_salt = key_bytes(t, "out")
        hdr_bad, dec_bad, trl_bad, seqs, ivs = [], [], [], [], []
        for i, ((e, frame), inner) in enumerate(zip(got, want), start=1):
            outer = e.payload
            esp_raw = bytes(outer[ESP])
            seqs.append(outer[ESP].seq)
            ivs.append(esp_raw[8:16])
            # L2 and outer header fields.
            problems = []
            if e.dst != PEER_MAC or e.src != MACS["wan"]:
                problems.append(f"ether {e.src} -> {e.dst}")
            tos_inner = inner.tc if t["inner6"] else inner.tos
            if t["outer6"]:
                if not isinstance(outer, IPv6) or (outer.src, outer.dst, outer.hlim) != (WAN6, PEER6, 64) \
                        or outer.plen != len(frame) - 14 - 40 or outer.tc != tos_inner:
                    problems.append(outer.summary())
            else:
                rebuilt = IP(bytes(outer))
                del rebuilt.chksum
                rebuilt = IP(bytes(rebuilt))
                if not isinstance(outer, IP) or (outer.src, outer.dst, outer.ttl, outer.ihl) != (WAN4, PEER4, 64, 5) \
                        or outer.len != len(frame) - 14 or outer.frag != 0 or outer.tos != tos_inner \
                        or rebuilt.chksum != outer.chksum:
                    problems.append(f"{outer.summary()} ttl={outer.ttl} tos={outer.tos} len={outer.len} "
                                    f"chksum={outer.chksum:#x}")
            if problems:
                hdr_bad.append(f"packet {i}: " + "; ".join(problems))
            # Scapy decrypts and verifies the ICV.
            want_inner = forwarded(inner)
            try:
                plain = sa.decrypt(outer.__class__(bytes(outer)), verify=True)
                if bytes(plain) != want_inner:
                    dec_bad.append(f"packet {i}: inner differs: {first_diff(bytes(plain), want_inner)}")
            except Exception as exc:  # IPSecIntegrityError and parse errors alike
                dec_bad.append(f"packet {i}: Scapy: {type(exc).__name__}: {exc}")
                continue
            # The trailer, which Scapy does not check: pad 1, 2, ..., minimal, next header.
            try:
                pt = open_esp(key_salt, t["out_spi"], outer[ESP].seq, t["esn"], esp_raw)
                pad = pt[-2]
                nh = pt[-1]
                want_pad = pad_len(len(want_inner))
                if pad != want_pad or pt[-2 - pad:-2] != bytes(range(1, pad + 1)) \
                        or nh != (41 if t["inner6"] else 4) or len(pt) % 4 != 0:
                    trl_bad.append(f"packet {i}: pad {pad} (want {want_pad}) bytes "
                                   f"{pt[-2 - pad:-2].hex()} next header {nh}")
            except Exception as exc:
                trl_bad.append(f"packet {i}: AESGCM: {type(exc).__name__}")
        c.ok(got and not hdr_bad, f"outbound {name}: Ethernet and outer "
             f"{'IPv6' if t['outer6'] else 'IPv4'} header (endpoints, proto 50, TTL 64, inner DSCP copied, "
             "length, checksum)", "\n".join(hdr_bad))
        c.ok(got and seqs == list(range(1, len(want) + 1)),
             f"outbound {name}: sequence numbers 1..{len(want)} in order", f"got {seqs}")
        c.ok(got and len(set(ivs)) == len(ivs), f"outbound {name}: explicit IVs unique", f"ivs {ivs}")
        c.ok(got and not dec_bad,
             f"outbound {name}: Scapy decrypts every packet (aes-gcm-{t['bits']}"
             f"{', esn' if t['esn'] else ''}, verify=True) to the original with "
             f"{'hop limit' if t['inner6'] else 'TTL'} - 1", "\n".join(dec_bad))
        c.ok(got and not trl_bad, f"outbound {name}: ESP trailer: minimal padding 1, 2, .. (0..3 bytes), "
             f"next header {41 if t['inner6'] else 4}", "\n".join(trl_bad))
    c.ok(not by_spi, "outbound: no ESP packet under another SPI", f"spis {[hex(s) for s in by_spi]}")
    want_clear = l2(PEER_MAC, MACS["wan"], forwarded(bypass))
    c.ok(clear == [want_clear], "outbound: only the flow no policy covers leaves in clear (TTL - 1)",
         f"{len(clear)} cleartext frames: " + "; ".join(Ether(f).summary() for f in clear))

    # Inbound: exactly the authentic, policy-conforming packets reach the LAN.
    c.ok(len(lan_out) == len(expect_lan),
         f"inbound: {len(expect_lan)} decrypted packets on the LAN, nothing else",
         f"got {len(lan_out)}: " + "; ".join(Ether(f).summary() for f in lan_out[len(expect_lan):]))
    bad = [f"packet {i}: {first_diff(g, w)}" for i, (g, w) in enumerate(zip(lan_out, expect_lan), start=1)
           if g != w]
    c.ok(lan_out and not bad, "inbound: Scapy-encrypted packets of all four tunnels decrypted, forwarded with "
         "TTL / hop limit - 1 to the LAN host's MAC, in order", "\n".join(bad))

    r.expect_drops("interop", stats, {
        "esp-auth-failed": 2,
        "esp-unknown-spi": 2,
        "esp-truncated": 2,
        "esp-bad-padding": 2,
        "esp-dummy": 1,
        "esp-bad-next-header": 1,
        "ipsec-policy-mismatch": 3,
        "ip4-bad-checksum": 1,
    })


def replay_input():
    """wan_in for the anti-replay runs and the inner packets that must come
    out, in order. Laid out so that, with burst 32, the five window-edge
    packets share burst 0 and the ESN SA crosses 2^32 inside burst 1."""
    t44, t66 = TUNNELS[0], TUNNELS[1]
    frames, expect = [], []

    def inner4(s):
        return IP(bytes(IP(src="10.2.0.50", dst=HOST4, ttl=64, id=s & 0xFFFF) / UDP(sport=1000, dport=2000)
                        / Raw(struct.pack("!Q", s) + pattern(12 + s % 4, s))))

    def inner6(s):
        return IPv6(bytes(IPv6(src="2001:db8:2::50", dst=HOST6, hlim=64) / UDP(sport=1000, dport=2000)
                          / Raw(struct.pack("!Q", s) + pattern(12 + s % 4, s))))

    def add(t, s, accepted, iv_salt=0):
        p = inner6(s) if t["inner6"] else inner4(s)
        iv = struct.pack("!Q", (s * 2 + iv_salt) ^ 0x0123456789ABCDEF)
        frames.append(to_wan(scapy_encrypt(t, p, s, iv=iv)))
        if accepted:
            expect.append(l2(LAN_MAC_HOST, MACS["lan"], forwarded(p)))

    # 32-bit sequence numbers, window 64: 100 opens the window [37, 100].
    add(t44, 100, True)
    add(t44, 37, True)       # left edge: inside
    add(t44, 36, False)      # just left of the window: esp-too-old
    add(t44, 100, False, 1)  # same number, another IV: esp-replay
    add(t44, 101, True)
    # ESN: approach 2^32 (27 packets fill burst 0) ...
    hi0 = 0xFFFFFFE0
    for s in range(hi0, hi0 + 27):
        add(t66, s, True)
    assert len(frames) == 32
    # ... and cross it inside burst 1.
    for s in range(hi0 + 27, 1 << 32):
        add(t66, s, True)
    for s in range(1 << 32, (1 << 32) + 3):
        add(t66, s, True)                # low 32 bits 0, 1, 2: inferred high half 1
    add(t66, 1 << 32, False, 1)          # replay just after the wrap: esp-replay
    add(t66, (1 << 32) - 2, False, 1)    # replay below the wrap, window spans both halves: esp-replay
    # Far left of the window across the boundary: RFC 4303 A2.2 infers it into
    # the upper half, so the ICV (AAD with high half 1) fails.
    add(t66, 0xFFFFFF00, False)
    add(t66, (1 << 32) + 3, True)
    return frames, expect


def check_replay(r, name, burst, known_bugs=None):
    c = r.c
    wan_in, expect = replay_input()
    lan_out, _, stats, _ = r.run(name, burst, [], wan_in, lan_expected=len(expect))
    bad = [f"packet {i}: {first_diff(g, w)}" for i, (g, w) in enumerate(zip(lan_out, expect), start=1) if g != w]
    c.ok(len(lan_out) == len(expect) and not bad,
         f"{name}: accepted 100, 37, 101 (window {REPLAY_WINDOW}) and ESN 2^32-32 .. 2^32+3 across the wrap, "
         f"in order ({len(expect)} packets)", f"got {len(lan_out)}, want {len(expect)}\n" + "\n".join(bad))
    r.expect_drops(name, stats, {"esp-too-old": 1, "esp-replay": 3, "esp-auth-failed": 1}, known_bugs)


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} /path/to/gatewayd", file=sys.stderr)
        return 2
    exe = sys.argv[1]
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        print(f"esp_interop: gatewayd binary '{exe}' not found or not executable", file=sys.stderr)
        return 1
    if os.geteuid() != 0:
        print("SKIP: esp_interop needs root (DPDK EAL)")
        return SKIP
    try:
        import_scapy()
    except ImportError as exc:
        print(f"esp_interop: {exc}: needs Debian's python3-scapy under /usr/bin/python3 "
              "(run scripts/install-deps.sh)", file=sys.stderr)
        return 1

    started = time.monotonic()
    checks = Checks()
    work = tempfile.mkdtemp(prefix="esp_interop.")
    runner = Runner(exe, work, checks)
    try:
        check_mode(checks, exe, work)
        if probe_macs(runner):
            check_interop(runner)
            check_replay(runner, "replay1", 1)
            # 36 is judged after 100 moved the window inside the same burst,
            # by the post-ICV re-check: it must still say too old, not replayed.
            check_replay(runner, "replay32", 32)
    except Exception as exc:
        import traceback
        checks.ok(False, f"test harness: {type(exc).__name__}: {exc}", traceback.format_exc())
    finally:
        for gw in runner.procs:
            gw.stop()
        if checks.failed:
            for gw in runner.procs:
                if gw.rc not in (0, None):
                    print("# " + gw.tail().replace("\n", "\n# "))
        if os.environ.get("GW_TEST_KEEP_LOGS"):
            print(f"# work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - started
    print(f"# {checks.passed} passed, {checks.failed} failed in {elapsed:.1f} s")
    return 1 if checks.failed else 0


def _terminate(signum, _frame):
    # meson's timeout and Ctrl-C: unwind through main's finally (stops gatewayd, removes files).
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    sys.exit(main())
