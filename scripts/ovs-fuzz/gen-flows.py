#!/usr/bin/env python3
"""Random-but-plausible ovs-ofctl flow files for the differential audit against real OVS.

Usage: gen-flows.py SEED COUNT OUTDIR   writes OUTDIR/fz-SEED-NNNN.flows (latin-1 bytes)

Each file has 1-6 flow lines built from the dialect (matches with and without prerequisites,
every action family, instructions) with lexical quirks mixed in (comments, CRLF, tabs, case,
number forms, reserved tables, `action=`, trailing commas, repeated fields, conflicting
shorthands) and, now and then, one mutation that OVS may or may not accept. The verdicts come
from the real ovs-ofctl (judge.py), never from here. Deterministic per SEED.
"""
import os, random, sys

R = random.Random()

SAFE = [0.8]  # per file: how often pick() takes its first (plain) choice

def pick(*xs):
    if R.random() < SAFE[0]: return xs[0]
    return R.choice(xs)

def num(v, width=32):
    """A number in one of the forms people write (OVS accepts some per field, not others)."""
    f = R.random()
    if f < SAFE[0]: return str(v)
    f = R.random()
    if f < 0.6: return str(v)
    if f < 0.8: return hex(v)
    if f < 0.85: return "0X%x" % v
    if f < 0.9: return "+%d" % v
    if f < 0.95: return "0%o" % v if v else "0"
    return pick("%d" % (v + (1 << width)), "-%d" % v, "%d.0" % v, "0x", "1e3", " %d" % v)

def mac():
    if R.random() < 0.1: return pick("ff:ff:ff:ff:ff:ff", "01:00:00:00:00:00/01:00:00:00:00:00", "00:00:00:00:00:0A", "0:0:0:0:0:1", "00-00-00-00-00-01", "00:00:00:00:00:01/ff:ff:ff:ff:ff:00", "00:00:00:00:00")
    return "00:00:00:00:%02x:%02x" % (R.randrange(4), R.randrange(1, 16))

def ip4():
    r = R.random()
    a = "10.0.%d.%d" % (R.randrange(3), R.randrange(1, 10))
    if r < 0.6: return a
    if r < 0.75: return "10.0.0.0/%d" % R.choice([8, 16, 24, 32, 0, 33])
    if r < 0.85: return a + "/255.255.255.0"
    return pick("10.0.0.256", "10.0.0", "10.0.0.1/0.255.0.255", "0x0a000001", "10.0.0.1/", "010.0.0.1")

def ip6():
    return pick("fe80::1", "2001:db8::1", "2001:db8::/32", "::", "fe80::1/64", "2001:db8::1/ffff::", "fe80::g", "::ffff:10.0.0.1")

def port():
    return pick("1", "2", "3", "4", "p1", "p2", "LOCAL", "local", "IN_PORT", "in_port", "0x3", "65534", "65279", "65280", "0xfff8", "99", "br0", "+2", "NONE", "ANY", "CONTROLLER")

L3 = ["ip", "ipv6", "tcp", "udp", "icmp", "icmp6", "arp", "tcp6", "udp6", "sctp", "sctp6", "rarp", "dl_type=0x0800", "dl_type=0x86dd", "dl_type=2048", "eth_type=0x0806", "ip4", "IP", "mpls"]

def l4match(base):
    out = []
    if base in ("tcp", "udp", "tcp6", "udp6", "sctp", "sctp6") or R.random() < 0.1:
        out.append(pick("tp_src", "tp_dst", "tcp_dst", "udp_src", "udp_dst", "sctp_dst", "tcp_src") + "=" + pick(num(R.randrange(1, 1024), 16), "0x50/0xfff0", "80/0xff00", "65536", "0x1000/0x1000"))
    if base in ("tcp", "tcp6") or R.random() < 0.05:
        out.append("tcp_flags=" + pick("+syn-ack", "+syn", "-rst+fin", "0x002/0x012", "syn", "+syn+syn", "+syn-syn", "0x1000", "+urg+cwr", "+ece", "+ns", "0x02"))
    if base in ("icmp", "icmp6") or R.random() < 0.05:
        out.append(pick("icmp_type", "icmp_code", "icmpv6_type", "icmpv6_code", "icmp_type") + "=" + num(R.choice([0, 3, 8, 128, 133, 134, 135, 136, 255, 256]), 8))
    if base in ("icmp6",) and R.random() < 0.5:
        t = R.choice([135, 136, 134])
        out.append("icmp_type=%d" % t)
        out.append(pick("nd_target=" + ip6(), "nd_sll=" + mac(), "nd_tll=" + mac(), "nd_target=fe80::1/64", "nd_reserved=0"))
    if base.startswith("arp") or base == "eth_type=0x0806" or base == "rarp" or R.random() < 0.05:
        out.append(pick("arp_op=" + num(R.choice([1, 2, 3, 256]), 16), "arp_spa=" + ip4(), "arp_tpa=" + ip4(), "arp_sha=" + mac(), "arp_tha=" + mac(), "nw_src=" + ip4(), "nw_proto=" + num(R.choice([1, 2, 255, 256]), 8)))
    return out

def l3match(base):
    out = []
    v6 = base in ("ipv6", "tcp6", "udp6", "icmp6", "sctp6", "dl_type=0x86dd")
    r = R.random()
    if r < 0.35:
        if v6 or R.random() < 0.1:
            out.append(pick("ipv6_src", "ipv6_dst") + "=" + ip6())
        if not v6 or R.random() < 0.1:
            out.append(pick("nw_src", "nw_dst", "ip_src", "ip_dst") + "=" + ip4())
    if R.random() < 0.2:
        out.append(pick("nw_tos=" + num(R.choice([0, 4, 3, 252, 256]), 8), "ip_dscp=" + num(R.choice([0, 46, 63, 64]), 8), "ip_ecn=" + num(R.choice([0, 1, 3, 4]), 8), "nw_ttl=" + num(R.choice([0, 1, 64, 255, 256]), 8), "nw_proto=" + num(R.choice([6, 17, 1, 58, 256]), 8), "nw_ecn=1",
                        "NXM_OF_IP_TOS[]=0x10", "NXM_OF_IP_TOS[2..7]=4", "nw_tos=0x10", "nw_tos=2", "ip_dscp=0x3f"))
    if R.random() < 0.1:
        out.append(pick("ip_frag=" + pick("no", "yes", "first", "later", "not_later", "NO", "maybe", "0x1/0x3"), "nw_frag=" + pick("no", "later"), "ipv6_label=" + pick("0x12345", "0x100000", "5/0xf")))
    return out

def vlanmatch():
    return pick("dl_vlan=" + num(R.choice([0, 1, 10, 4095, 4096, 5000, 0xffff]), 16), "dl_vlan_pcp=" + num(R.choice([0, 3, 7, 8]), 8),
                "vlan_tci=" + pick("0x1005/0x1fff", "0", "0x0000/0x1000", "0x1000/0x1000", "0x2005", "0x1005/0xefff", "5"),
                "vlan_vid=" + pick("0x1005", "5", "0x1000/0x1000", "4096", "0x1fff"), "vlan_pcp=" + pick("3", "8"),
                "dl_vlan=0xffff")

def metamatch():
    return pick("reg%d=%s" % (R.randrange(17), num(R.randrange(1 << 16))), "reg0=0x5/0xff", "reg3=-1", "xreg%d=0x1" % R.randrange(9),
                "xxreg%d=0x1/0x1" % R.randrange(5), "metadata=" + pick("0x1", "0x1/0xff", "18446744073709551616", "0xfffffffffffffffff"),
                "tun_id=" + pick("0x5", "5/0xff", "0x1ffffffffffffffff"), "pkt_mark=" + pick("7", "0x7/0xf"),
                "ct_state=" + pick("+trk+est", "-new+trk", "+trk", "+inv+trk", "+bogus", "trk", "0x21/0x21", "+snat+trk", "+est+new"),
                "ct_zone=" + pick("5", "65536", "0x10"), "ct_mark=" + pick("0x1", "1/1"), "ct_label=" + pick("0x1", "0x1/0x1"),
                "conj_id=" + pick("1", "0x10"), "actset_output=" + pick("3", "LOCAL"), "NXM_NX_REG0=5", "OXM_OF_IN_PORT=1", "cookie=0x5/-1",
                "ct_nw_src=10.0.0.1", "skb_priority=1", "mpls_label=5", "tun_src=10.0.0.1", "tun_flags=+oam")

def field_w():
    return pick("reg0", "reg1[0..7]", "reg2[16..31]", "NXM_NX_REG0[0..15]", "NXM_OF_ETH_DST[]", "eth_src", "NXM_OF_VLAN_TCI[0..11]",
                "metadata", "xreg1[0..31]", "pkt_mark", "vlan_vid", "ip_dst", "NXM_OF_IP_SRC[]", "tcp_dst", "OXM_OF_METADATA[0..3]",
                "NXM_NX_REG20[]", "reg0[32]", "reg0[5..2]", "NXM_OF_IN_PORT[]", "ct_mark", "tun_id[0..15]", "ipv6_src", "nw_ttl", "ip_dscp")

def tos_field():
    """The ToS byte's views: NXM_OF_IP_TOS (8 bits, ECN bits read 0), OXM_OF_IP_DSCP (6), NXM_NX_IP_ECN (2)."""
    a = R.randrange(8); b = R.randrange(a, 8)
    return pick("NXM_OF_IP_TOS[]", "NXM_OF_IP_TOS[%d..%d]" % (a, b), "NXM_OF_IP_TOS[2..7]", "NXM_OF_IP_TOS[0..1]", "NXM_OF_IP_TOS[%d]" % a,
                "OXM_OF_IP_DSCP[]", "OXM_OF_IP_DSCP[0..%d]" % min(b, 5), "NXM_NX_IP_ECN[]", "nw_tos", "ip_dscp", "nw_ecn", "NXM_OF_IP_TOS[8]")

def tos_action():
    f = tos_field()
    w = R.choice(["reg0[0..7]", "reg1[8..15]", "NXM_NX_REG2[0..5]", "reg3[0..1]", "reg0[5]", "NXM_OF_IP_TOS[]", "reg4"])
    return pick("load:%s->%s" % (pick("0x10", "0xfc", "3", "0xff", "1", "0x40", "0x100"), f), "move:%s->%s" % (f, w), "move:%s->%s" % (w, f), "move:%s->%s" % (tos_field(), tos_field()),
                "set_field:%s->%s" % (pick("0x10", "4", "3", "0xfc", "46", "252"), pick("nw_tos", "ip_dscp", "nw_ecn", "ip_ecn")), "mod_nw_tos:%s" % pick("16", "4", "252", "2"), "mod_nw_ecn:%s" % pick("1", "3"))

def action(depth=0):
    r = R.randrange(49)
    p = port()
    if r == 0: return pick("output:" + p, "output(port=%s,max_len=100)" % p, p if p[0].isdigit() else "output:" + p)
    if r == 1: return pick("NORMAL", "FLOOD", "ALL", "IN_PORT", "LOCAL", "drop", "normal", "Flood", "controller", "CONTROLLER:64", "controller(reason=no_match)", "controller(userdata=01.02,pause)")
    if r == 2: return "mod_vlan_vid:" + num(R.choice([0, 10, 4095, 4096]), 16)
    if r == 3: return "mod_vlan_pcp:" + pick("3", "8")
    if r == 4: return pick("strip_vlan", "pop_vlan")
    if r == 5: return "push_vlan:" + pick("0x8100", "0x88a8", "0x9100", "33024", "0x0800")
    if r == 6: return pick("mod_dl_src", "mod_dl_dst") + ":" + mac()
    if r == 7: return pick("mod_nw_src", "mod_nw_dst") + ":" + pick("10.0.0.9", "10.0.0.0/24", "1.2.3.4")
    if r == 8: return pick("mod_nw_tos:" + pick("4", "3", "252", "256"), "mod_nw_ecn:" + pick("1", "4"), "mod_nw_ttl:" + pick("5", "256"))
    if r == 9: return pick("mod_tp_src", "mod_tp_dst") + ":" + pick("80", "65536", "0x50")
    if r == 10: return pick("dec_ttl", "dec_ttl(1,2)", "dec_ttl()", "dec_mpls_ttl", "set_mpls_ttl(5)")
    if r in (11, 12): return "set_field:" + pick("4196->vlan_vid", "5->vlan_vid", "0x1005->vlan_vid", "3->vlan_pcp", "10.0.0.1->ip_src", "10.0.0.1->nw_dst",
                                                 "00:00:00:00:00:09->eth_dst", "0x5->reg0", "0x5/0xff->reg1", "5->tcp_dst", "5->udp_src", "0x1->metadata",
                                                 "fe80::5->ipv6_dst", "1->ip_dscp", "5->nw_ttl", "0x1->ct_mark", "7->pkt_mark", "1->tun_id", "0x800->eth_type",
                                                 "5->in_port", "1->vlan_tci", "0x12345->ipv6_label", "fe80::7->nd_target", "1->icmp_type", "2->arp_op", "1->mpls_label",
                                                 "10.0.0.1/24->ip_src", "5->reg16", "5->nonesuch")
    if r in (13, 14): return "load:" + pick("0x5", "5", "-1", "0x1ffff", "0x00000000000000000005", "1") + "->" + field_w()
    if r in (15, 16): return "move:" + field_w() + "->" + field_w()
    if r in (17, 18): return pick("resubmit(,%d)" % R.choice([1, 2, 254, 255]), "resubmit:%s" % p, "resubmit(%s,1)" % p, "resubmit(,1,ct)", "resubmit(,)", "resubmit(1,2,3)", "resubmit(,256)")
    if r == 19:
        specs = R.sample(["table=%d" % R.choice([1, 10, 255]), "idle_timeout=10", "hard_timeout=300", "priority=5", "cookie=0x1", "fin_idle_timeout=1", "fin_hard_timeout=2",
                          "NXM_OF_VLAN_TCI[0..11]", "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[]", "load:NXM_OF_IN_PORT[]->NXM_NX_REG0[0..15]", "output:NXM_OF_IN_PORT[]",
                          "eth_dst=eth_src", "reg1=5", "delete_learned", "send_flow_rem", "NXM_OF_IP_DST[]", "ip,nw_dst=nw_src", "dl_type=0x800", "load:5->reg2",
                          "limit=10", "result_dst=reg0[0]", "NXM_OF_TCP_DST[]", "eth_type=0x800,NXM_OF_IP_SRC[]"], R.randrange(1, 5))
        return "learn(" + ",".join(specs) + ")"
    if r in (20, 21):
        args = R.sample(["commit", "table=%d" % R.choice([1, 2, 255]), "zone=%s" % pick("5", "NXM_NX_REG0[0..15]", "65536"), "exec(set_field:1->ct_mark)",
                         "nat", "nat(src=10.0.0.1)", "nat(dst=10.0.0.2:80-90)", "exec(load:1->NXM_NX_CT_LABEL[0])", "force", "alg=ftp", "exec(output:1)", "nat(src=10.0.0.1,random)"], R.randrange(0, 4))
        return "ct(" + ",".join(args) + ")" if args or R.random() < 0.5 else "ct"
    if r == 22: return "ct_clear"
    if r == 23: return "group:" + pick("1", "0", "4294967295", "x")
    if r == 24: return "meter:" + pick("1", "0", "x")
    if r == 25: return "note:" + pick("01", "01.02.03", "abcd", "0g", "", "1")
    if r == 26 and depth == 0: return "write_actions(" + ",".join(action(1) for _ in range(R.randrange(0, 3))) + ")"
    if r == 27: return "clear_actions"
    if r == 28: return "write_metadata:" + pick("0x1", "0x5/0xff", "5", "0x1/zz")
    if r == 29: return "goto_table:" + pick("1", "2", "0", "255", "254")
    if r == 30: return "conjunction(%s)" % pick("1,1/2", "1,2/2", "5,1/1", "1,3/2", "1,1/5", "1,0/2", "1,1/65")
    if r == 31: return pick("enqueue:1:5", "enqueue(2,3)", "set_queue:5", "pop_queue")
    if r == 32: return pick("fin_timeout(idle_timeout=10)", "fin_timeout(hard_timeout=5,idle_timeout=1)", "fin_timeout(x=1)")
    if r == 33: return pick("sample(probability=100,collector_set_id=1)", "sample(probability=0)", "sample(probability=65535,obs_domain_id=1,obs_point_id=2)")
    if r == 34 and depth == 0: return "clone(" + ",".join(action(1) for _ in range(R.randrange(1, 3))) + ")"
    if r == 35: return "output:" + pick("NXM_NX_REG0[0..15]", "reg1[]", "NXM_NX_REG0[]", "reg0[0..3]")
    if r == 36: return pick("mod_dl_src:" + mac(), "set_tunnel:5", "set_tunnel64:0x5", "exit", "drop")
    if r == 37: return pick("push_mpls:0x8847", "pop_mpls:0x0800", "check_pkt_larger(100)->reg0[0]", "multipath(eth_src,50,modulo_n,1,0,NXM_NX_REG0[0..1])")
    if r == 38: return pick("bundle(eth_src,0,hrw,ofport,members:1,2)", "bundle_load(eth_src,0,hrw,ofport,NXM_NX_REG0[],members:1,2)", "stack_push(NXM_NX_REG0[])", "stack_pop(NXM_NX_REG1[])")
    if r == 39: return pick("set_field:0x1/0x1->reg0", "set_field:4096/4096->vlan_vid", "set_field:0->vlan_vid", "set_field:1->vlan_vid")
    if r == 40: return pick("mod_dl_dst:" + mac(), "strip_vlan", "output:%s" % p)
    if r == 41: return pick("load:0x1->OXM_OF_VLAN_VID[]", "load:1->NXM_OF_VLAN_TCI[12]", "load:10->OXM_OF_VLAN_VID[0..11]")
    if r == 42: return pick("move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]", "move:NXM_OF_IN_PORT[]->NXM_NX_REG0[0..15]", "move:reg0->reg1", "move:NXM_NX_REG0[0..7]->NXM_NX_REG1[0..8]")
    if r == 43: return pick("mod_vlan_vid:10", "mod_vlan_vid(10)", "set_vlan_vid:10")
    if r in (45, 46, 47): return tos_action()
    if r == 44: return pick("debug_recirc", "ct(commit,exec(set_field:0x1/0x1->ct_mark))", "ct(table=1,zone=NXM_NX_REG0[0..15])")
    return pick("output:1", "NORMAL", "resubmit(,1)")

def actions():
    n = R.choice([0, 1, 1, 2, 2, 3, 4])
    acts = [action() for _ in range(n)]
    sep = pick(",", ",", ",", ", ", " ,")
    s = sep.join(acts)
    if R.random() < 0.05: s += ","
    kw = pick("actions", "actions", "actions", "actions", "action", "ACTIONS", "Actions")
    return kw + pick("=", "=", "=", ":", "= ") + s

def flow_line():
    items = []
    if R.random() < 0.3: items.append("table=" + num(R.choice([0, 0, 1, 2, 254, 255, 256]), 8))
    if R.random() < 0.6: items.append(pick("priority", "priority", "PRIORITY", "prio") + "=" + num(R.choice([0, 1, 5, 100, 65535, 65536, 32768]), 16))
    for _ in range(R.choice([0, 0, 0, 1, 1, 2])):  # flow-mod flags and keywords (each may narrow the usable protocols)
        items.append(R.choice(["cookie=0x%x" % R.randrange(100), "idle_timeout=%s" % pick("10", "0", "65536"), "hard_timeout=30", "importance=5",
                               "send_flow_rem", "check_overlap", "reset_counts", "no_packet_counts", "no_byte_counts", "out_port=2", "cookie=0x1/0x1",
                               "out_group=1", "no_readonly_table", "allow_hidden_fields", "reset_counts", "no_byte_counts", "importance=0x10"]))
    if R.random() < 0.4: items.append(pick("in_port", "in_port", "IN_PORT", "in_port") + "=" + port())
    base = None
    if R.random() < 0.75:
        base = R.choice(L3)
        items.append(base)
        items += l3match(base)
        items += l4match(base)
    else:
        if R.random() < 0.2: items += l4match(R.choice(L3))
    if R.random() < 0.25: items.append(pick("dl_src", "dl_dst", "eth_src", "eth_dst", "DL_SRC") + "=" + mac())
    if R.random() < 0.2: items.append(vlanmatch())
    if R.random() < 0.2: items.append(metamatch())
    if R.random() < 0.05: items.append(R.choice(L3))  # conflicting shorthand
    if R.random() < 0.05 and items: items.append(R.choice(items))  # repeated field
    R.shuffle(items)
    sep = pick(",", ",", ",", ", ", "\t", " ", ",\t")
    body = sep.join(items)
    a = actions()
    if body:
        body += pick(",", ",", " ", "\t", ", ", "") + a
    else:
        body = a
    if R.random() < 0.05: body = " " + body
    if R.random() < 0.08: body += pick("  # comment", "# x", " #", "\t# note, with comma")
    return body

def flow_file():
    lines = []
    if R.random() < 0.15: lines.append(pick("# generated", "", "   ", "\t# tab comment"))
    for _ in range(R.randrange(1, 7)):
        lines.append(flow_line())
        if R.random() < 0.07: lines.append(pick("", "#", "  ", "\x0b", "\x0c"))
    eol = pick("\n", "\n", "\n", "\n", "\r\n")
    text = eol.join(lines)
    if R.random() < 0.9: text += eol
    if R.random() < 0.03: text = text.replace("\n", "\r", 1)
    return text

def main():
    seed, count, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    for i in range(count):
        R.seed("%d-%d" % (seed, i))
        SAFE[0] = R.choice([0.97, 0.93, 0.85, 0.7])
        with open(os.path.join(out, "fz-%d-%04d.flows" % (seed, i)), "wb") as f:
            f.write(flow_file().encode("latin-1"))

if __name__ == "__main__":
    main()
