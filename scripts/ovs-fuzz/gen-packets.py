#!/usr/bin/env python3
"""Random flow tables and random packets for the forwarding differential against real OVS.

Usage: gen-packets.py SEED COUNT OUTDIR [PACKETS]
  writes OUTDIR/pk-SEED-NNN/{bridge.spec,flows.txt,packets.txt[,ofctl-opts]} in the formats of
  test/oracles/ovs/README.md; PACKETS (default 16) packet lines per case.

Each case is one bridge (1-6 ports, some access/trunk VLAN ports) and a pipeline of 1-4 tables:
rules at random priorities matching in_port, MACs (with masks), VLANs, ARP, IPv4/IPv6 prefixes,
ToS/TTL, L4 ports (with masks), ICMP/ICMPv6 types, ND targets and registers set earlier in the
pipeline, with actions from output/NORMAL/FLOOD/IN_PORT/drop, VLAN push/pop/mod, set_field and
mod_* rewrites, load/move into registers, resubmit (OpenFlow 1.0) or goto_table (OpenFlow 1.3
cases), dec_ttl and, now and then, learn. Packets are built from the values the rules use (to
hit them) and from neighbours of those values (to miss them), so the lookup paths that decide
the megaflow are exercised. Packet lines are side-effect-free `trace` lines or stateful `packet`
lines (MAC learning and learn() carry over, as with ofproto/trace -generate).

The answers come from the real OVS (record-packets.sh), never from here. Deterministic per SEED.
"""
import os, random, sys

R = random.Random()

MACS = ["00:00:00:00:00:%02x" % i for i in range(1, 7)] + ["00:00:00:00:aa:01", "00:00:00:00:ab:02"]
BCAST = "ff:ff:ff:ff:ff:ff"
MCAST = "01:00:5e:00:00:01"
IP4 = ["10.0.0.1", "10.0.0.2", "10.0.1.5", "10.1.0.9", "192.168.1.1", "172.16.0.3"]
IP6 = ["2001:db8::1", "2001:db8::2", "2001:db8:1::5", "fe80::1", "fe80::2", "2001:db8::aa"]
VIDS = [10, 20, 30]
L4P = [22, 53, 80, 443, 8080, 1024, 5000]


def chance(p):
    return R.random() < p


class Case:
    def __init__(self, of13):
        self.of13 = of13
        nports = R.randint(2, 6)
        self.ports = []
        for i in range(1, nports + 1):
            cols = []
            r = R.random()
            if r < 0.15:
                cols.append("tag=%d" % R.choice(VIDS))
            elif r < 0.25:
                cols.append("trunks=%s" % ",".join(str(v) for v in sorted(R.sample(VIDS, 2))))
            self.ports.append((i, cols))
        self.ntables = R.randint(1, 4)
        self.tables = sorted(R.sample(range(0, 12), self.ntables))
        self.regs = []  # (reg, value) pairs loaded by some rule
        self.rules = []
        self.matched = []  # dict of packet-field hints used by rules

    def port(self):
        return R.randint(1, len(self.ports))

    # ---- matches -------------------------------------------------------------------------
    def match(self, ti):
        m = []
        hint = {}
        proto = R.choice([None, None, "ip", "ipv6", "tcp", "udp", "icmp", "icmp6", "arp", "tcp6", "udp6", "nd"])
        if chance(0.35):
            p = self.port()
            m.append("in_port=%d" % p)
            hint["in_port"] = p
        if chance(0.2):
            mac = R.choice(MACS)
            if chance(0.3):
                m.append("dl_src=%s/ff:ff:ff:ff:ff:00" % mac)
            else:
                m.append("dl_src=%s" % mac)
            hint["dl_src"] = mac
        if chance(0.25):
            r = R.random()
            if r < 0.15:
                m.append("dl_dst=01:00:00:00:00:00/01:00:00:00:00:00")
                hint["dl_dst"] = R.choice([BCAST, MCAST])
            else:
                mac = R.choice(MACS)
                m.append("dl_dst=%s" % mac)
                hint["dl_dst"] = mac
        if chance(0.25):
            r = R.random()
            if r < 0.5:
                v = R.choice(VIDS)
                m.append("dl_vlan=%d" % v)
                hint["vlan"] = v
            elif r < 0.7:
                m.append("vlan_tci=0x0000/0x1000")
                hint["vlan"] = None
            elif r < 0.85:
                m.append("vlan_tci=0x1000/0x1000")
                hint["vlan"] = R.choice(VIDS)
            else:
                v = R.choice(VIDS)
                m.append("dl_vlan=%d,dl_vlan_pcp=%d" % (v, R.choice([0, 3, 5])))
                hint["vlan"] = v
        if ti > 0 and self.regs and chance(0.5):
            reg, val = R.choice(self.regs)
            if chance(0.3):
                m.append("%s=0x%x/0xff" % (reg, val & 0xff))
            else:
                m.append("%s=%d" % (reg, val))
        if proto is not None:
            m.append("icmp6,icmp_type=135" if proto == "nd" else proto)
            hint["proto"] = proto
            self.l3(proto, m, hint)
        self.matched.append(hint)
        return m

    def l3(self, proto, m, hint):
        v6 = proto in ("ipv6", "icmp6", "tcp6", "udp6", "nd")
        if proto == "arp":
            if chance(0.4):
                op = R.choice([1, 2])
                m.append("arp_op=%d" % op)
                hint["arp_op"] = op
            if chance(0.4):
                a = R.choice(IP4)
                m.append("arp_tpa=%s" % (a if chance(0.6) else a.rsplit(".", 1)[0] + ".0/24"))
                hint["arp_tpa"] = a
            if chance(0.2):
                a = R.choice(IP4)
                m.append("arp_spa=%s" % a)
                hint["arp_spa"] = a
            return
        if v6:
            if chance(0.4):
                a = R.choice(IP6)
                m.append("ipv6_src=%s" % (a if chance(0.5) else a.rsplit(":", 1)[0] + ":/%d" % R.choice([32, 48, 64])))
                hint["ipv6_src"] = a
            if chance(0.4):
                a = R.choice(IP6)
                m.append("ipv6_dst=%s" % (a if chance(0.5) else a.rsplit(":", 1)[0] + ":/%d" % R.choice([32, 64])))
                hint["ipv6_dst"] = a
        else:
            if chance(0.5):
                a = R.choice(IP4)
                m.append("nw_src=%s" % (a if chance(0.5) else "%s/%d" % (a, R.choice([8, 16, 24]))))
                hint["nw_src"] = a
            if chance(0.5):
                a = R.choice(IP4)
                m.append("nw_dst=%s" % (a if chance(0.5) else "%s/%d" % (a, R.choice([8, 16, 24, 31]))))
                hint["nw_dst"] = a
        if chance(0.12):
            t = R.choice([0, 32, 184])
            m.append("nw_tos=%d" % t)
            hint["nw_tos"] = t
        if chance(0.08):
            m.append("nw_ttl=%d" % R.choice([1, 64]))
        if proto in ("tcp", "udp", "tcp6", "udp6"):
            for f in ("tp_src", "tp_dst"):
                if chance(0.45):
                    p = R.choice(L4P)
                    if chance(0.25):
                        m.append("%s=0x%x/0xff00" % (f, p & 0xff00))
                    else:
                        m.append("%s=%d" % (f, p))
                    hint[f] = p
        if proto in ("icmp", "icmp6") and chance(0.6):
            t = R.choice([0, 8, 3] if proto == "icmp" else [128, 129, 133, 134, 136])
            m.append("icmp_type=%d" % t)
            hint["icmp_type"] = t
            if chance(0.3):
                m.append("icmp_code=0")
        if proto == "nd" and chance(0.5):
            a = R.choice(IP6)
            m.append("nd_target=%s" % a)
            hint["nd_target"] = a

    # ---- actions -------------------------------------------------------------------------
    def later(self, ti):
        return [t for t in self.tables if t > self.tables[ti]]

    def actions(self, ti, proto):
        acts = []
        n = R.randint(0, 3)
        v6 = proto in ("ipv6", "icmp6", "tcp6", "udp6", "nd")
        v4 = proto in ("ip", "tcp", "udp", "icmp")
        for _ in range(n):
            r = R.random()
            if r < 0.12:
                acts.append("mod_vlan_vid:%d" % R.choice(VIDS))
            elif r < 0.2:
                acts.append("strip_vlan")
            elif r < 0.27:
                acts.append("push_vlan:0x8100,set_field:%d->vlan_vid" % (0x1000 | R.choice(VIDS)) if self.of13 else "mod_vlan_vid:%d" % R.choice(VIDS))
            elif r < 0.32:
                acts.append("mod_vlan_pcp:%d" % R.choice([1, 5]))
            elif r < 0.42:
                acts.append(R.choice(["mod_dl_src", "mod_dl_dst"]) + ":" + R.choice(MACS))
            elif r < 0.5 and v4:
                acts.append(R.choice(["mod_nw_src", "mod_nw_dst"]) + ":" + R.choice(IP4))
            elif r < 0.55 and v4:
                acts.append("mod_nw_tos:%d" % R.choice([0, 32, 184]))
            elif r < 0.6 and v6:
                acts.append("set_field:%s->%s" % (R.choice(IP6), R.choice(["ipv6_src", "ipv6_dst"])))
            elif r < 0.66 and proto in ("tcp", "udp", "tcp6", "udp6"):
                acts.append(R.choice(["mod_tp_src", "mod_tp_dst"]) + ":%d" % R.choice(L4P))
            elif r < 0.72 and (v4 or v6):
                acts.append("dec_ttl")
            elif r < 0.85:
                reg = "reg%d" % R.randint(0, 3)
                val = R.choice([1, 2, 7, 0x1234, 0xabcd])
                self.regs.append((reg, val))
                if chance(0.5):
                    acts.append("load:%d->NXM_NX_%s[]" % (val, reg.upper()))
                else:
                    acts.append("set_field:%d->%s" % (val, reg))
            elif r < 0.9:
                reg = "reg%d" % R.randint(0, 3)
                src = R.choice(["NXM_OF_IN_PORT[]", "NXM_OF_VLAN_TCI[0..11]", "NXM_OF_ETH_SRC[0..15]"])
                acts.append("move:%s->NXM_NX_%s[0..%d]" % (src, reg.upper(), 15 if "IN_PORT" in src or "ETH" in src else 11))
            elif r < 0.95 and self.later(ti) and chance(0.5):
                t = R.choice(self.later(ti))
                acts.append("learn(table=%d,priority=%d,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[])" % (t, R.choice([5, 50])))
        # control: continue the pipeline, or terminate with outputs
        later = self.later(ti)
        r = R.random()
        if later and r < 0.45:
            t = R.choice(later)
            if self.of13 and chance(0.6):
                acts.append("goto_table:%d" % t)
                return acts  # goto_table is an instruction: last
            acts.append("resubmit(,%d)" % t)
            if chance(0.3):
                acts.append(self.out())
            return acts
        k = R.randint(1, 2) if chance(0.3) else 1
        for _ in range(k):
            if chance(0.12) and acts:
                acts.append(R.choice(["mod_vlan_vid:%d" % R.choice(VIDS), "strip_vlan"]))
            acts.append(self.out())
        if chance(0.08):
            acts = ["drop"]
        return acts

    def out(self):
        r = R.random()
        if r < 0.55:
            return "output:%d" % self.port()
        if r < 0.75:
            return "NORMAL"
        if r < 0.82:
            return "FLOOD"
        if r < 0.87:
            return "IN_PORT"
        if r < 0.9:
            return "LOCAL"
        if r < 0.95:
            return "ALL"
        return "output:%d" % self.port()

    def flows(self):
        lines = []
        for ti, t in enumerate(self.tables):
            nrules = R.randint(2, 9)
            prios = R.sample(range(1, 400), nrules)
            for p in prios:
                m = self.match(ti)
                proto = self.matched[-1].get("proto")
                a = self.actions(ti, proto)
                lines.append("table=%d,priority=%d%s,actions=%s" % (t, p, "".join("," + x for x in m), ",".join(a)))
            if chance(0.6):
                lines.append("table=%d,priority=0,actions=%s" % (t, "NORMAL" if chance(0.5) else (self.out() if ti == len(self.tables) - 1 or chance(0.5) else "resubmit(,%d)" % R.choice(self.later(ti) or [t]) if self.later(ti) else "drop")))
        if self.tables[0] != 0:
            lines.insert(0, "table=0,priority=1,actions=%s" % (("goto_table:%d" if self.of13 else "resubmit(,%d)") % self.tables[0]))
        return lines

    # ---- packets -------------------------------------------------------------------------
    def packet(self):
        h = R.choice(self.matched) if self.matched and chance(0.85) else {}
        def pick(k, gen, keep=0.8):
            return h[k] if k in h and chance(keep) else gen()
        f = ["in_port=%d" % pick("in_port", self.port)]
        vlan = h.get("vlan", "none") if chance(0.8) else "none"
        if vlan == "none":
            vlan = R.choice([None, None, None, R.choice(VIDS)])
        if vlan is not None:
            f.append("dl_vlan=%d" % vlan)
            if chance(0.3):
                f.append("dl_vlan_pcp=%d" % R.choice([0, 3, 5]))
        f.append("dl_src=%s" % pick("dl_src", lambda: R.choice(MACS)))
        f.append("dl_dst=%s" % pick("dl_dst", lambda: R.choice(MACS + [BCAST, MCAST])))
        proto = h.get("proto") if "proto" in h and chance(0.85) else R.choice(["ip", "tcp", "udp", "icmp", "arp", "ipv6", "tcp6", "udp6", "icmp6", "nd", "raw"])
        def ip4(k):
            a = pick(k, lambda: R.choice(IP4))
            if chance(0.1):  # a neighbour: misses an exact match, hits a prefix
                a = a.rsplit(".", 1)[0] + ".%d" % R.randint(1, 254)
            return a
        def ip6(k):
            a = pick(k, lambda: R.choice(IP6))
            if chance(0.1):
                a = a.rsplit(":", 1)[0] + ":%x" % R.randint(1, 0xfff)
            return a
        tos = pick("nw_tos", lambda: R.choice([0, 0, 32, 184]))
        ttl = R.choice([64, 64, 1, 2])
        if proto == "raw":
            f.append("dl_type=0x%04x" % R.choice([0x88b5, 0x88cc]))
        elif proto == "arp":
            f.append("arp,arp_op=%d" % pick("arp_op", lambda: R.choice([1, 2])))
            f.append("arp_spa=%s,arp_tpa=%s" % (ip4("arp_spa"), ip4("arp_tpa")))
            f.append("arp_sha=%s,arp_tha=00:00:00:00:00:00" % R.choice(MACS))
        elif proto in ("ip", "tcp", "udp", "icmp"):
            f.append({"ip": "ip,nw_proto=%d" % R.choice([47, 89]), "tcp": "tcp", "udp": "udp", "icmp": "icmp"}[proto])
            f.append("nw_src=%s,nw_dst=%s,nw_tos=%d,nw_ttl=%d" % (ip4("nw_src"), ip4("nw_dst"), tos, ttl))
            if proto in ("tcp", "udp"):
                p = "tcp" if proto == "tcp" else "udp"
                f.append("%s_src=%d,%s_dst=%d" % (p, pick("tp_src", lambda: R.choice(L4P + [33000])), p, pick("tp_dst", lambda: R.choice(L4P))))
            elif proto == "icmp":
                f.append("icmp_type=%d,icmp_code=0" % pick("icmp_type", lambda: R.choice([0, 8, 3])))
        else:
            base = {"ipv6": "ipv6,nw_proto=%d" % R.choice([47, 89]), "tcp6": "tcp6", "udp6": "udp6", "icmp6": "icmp6", "nd": "icmp6"}[proto]
            f.append(base)
            f.append("ipv6_src=%s,ipv6_dst=%s,nw_tos=%d,nw_ttl=%d" % (ip6("ipv6_src"), ip6("ipv6_dst"), tos, ttl))
            if proto in ("tcp6", "udp6"):
                p = "tcp" if proto == "tcp6" else "udp"
                f.append("%s_src=%d,%s_dst=%d" % (p, pick("tp_src", lambda: R.choice(L4P + [33000])), p, pick("tp_dst", lambda: R.choice(L4P))))
            elif proto == "icmp6":
                f.append("icmpv6_type=%d,icmpv6_code=0" % pick("icmp_type", lambda: R.choice([128, 129, 133, 134])))
            else:
                t = R.choice([135, 136])
                f.append("icmpv6_type=%d,icmpv6_code=0,nd_target=%s" % (t, pick("nd_target", lambda: R.choice(IP6))))
                if chance(0.5):
                    f.append(("nd_sll=%s" if t == 135 else "nd_tll=%s") % R.choice(MACS))
        return ",".join(f)


def main():
    seed, count, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    npk = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    for n in range(count):
        R.seed("%d/%d" % (seed, n))
        of13 = chance(0.3)
        c = Case(of13)
        d = os.path.join(out, "pk-%d-%03d" % (seed, n))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "bridge.spec"), "w") as f:
            f.write("bridge br0\n")
            for i, cols in c.ports:
                f.write("port p%d %d%s\n" % (i, i, "".join(" " + x for x in cols)))
        flows = c.flows()
        with open(os.path.join(d, "flows.txt"), "w") as f:
            f.write("\n".join(flows) + "\n")
        with open(os.path.join(d, "packets.txt"), "w") as f:
            for _ in range(npk):
                f.write(("trace " if chance(0.5) else "") + c.packet() + "\n")
        if of13:
            with open(os.path.join(d, "ofctl-opts"), "w") as f:
                f.write("-O OpenFlow13\n")


if __name__ == "__main__":
    main()
