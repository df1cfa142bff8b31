// The ns-3 side of vfab's race against ns-3 (issue 19; see README.md in this folder).
//
// Builds the same world as src/bench/ns3-world.ts writes for vfab: H hypervisor bridges
// (BridgeNetDevice), V VMs on each, every VM cabled to its bridge with a full-duplex
// SimpleNetDevice pair on a SimpleChannel (CSMA would be half duplex); with H > 1 every bridge
// has a cable to one ToR bridge. F constant-bit-rate UDP flows (UdpClient -> UdpServer, whose
// 12-byte SeqTsHeader is the layout vfab's UDP app puts in its payload) from VM f to VM
// (f + N/2) mod N, flow f starting staggerNs after flow f - 1.
//
// Prints one JSON object: per flow, datagrams sent and received and one-way latency min/avg/max
// in ns (send time from the SeqTsHeader, receive time at the UdpServer).
//
// Build: g++ -O2 -std=c++17 vfab-world.cc $(pkg-config --cflags --libs ns3-bridge ns3-internet
//        ns3-applications ns3-network ns3-core) -o vfab-world
#include "ns3/applications-module.h"
#include "ns3/bridge-module.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"

#include <cinttypes>
#include <cstdio>
#include <map>
#include <vector>

using namespace ns3;

namespace
{

struct FlowStats
{
    uint64_t received = 0;
    int64_t minNs = INT64_MAX;
    int64_t maxNs = 0;
    long double sumNs = 0;
};

std::map<uint32_t, FlowStats> g_stats; // by source IPv4 address

void
OnRx(Ptr<const Packet> packet, const Address& from, const Address& /* to */)
{
    Ptr<Packet> copy = packet->Copy();
    SeqTsHeader hdr;
    copy->RemoveHeader(hdr);
    int64_t latency = (Simulator::Now() - hdr.GetTs()).GetNanoSeconds();
    FlowStats& s = g_stats[InetSocketAddress::ConvertFrom(from).GetIpv4().Get()];
    s.received++;
    s.sumNs += latency;
    if (latency < s.minNs)
        s.minNs = latency;
    if (latency > s.maxNs)
        s.maxNs = latency;
}

// A full-duplex cable between two nodes; returns the device on `b`.
Ptr<SimpleNetDevice>
Cable(Ptr<Node> a, Ptr<Node> b, uint64_t delayNs, Ptr<SimpleNetDevice>* onA)
{
    Ptr<SimpleChannel> ch = CreateObject<SimpleChannel>();
    ch->SetAttribute("Delay", TimeValue(NanoSeconds(delayNs)));
    Ptr<SimpleNetDevice> da = CreateObject<SimpleNetDevice>();
    Ptr<SimpleNetDevice> db = CreateObject<SimpleNetDevice>();
    for (auto [node, dev] : {std::pair{a, da}, std::pair{b, db}})
    {
        dev->SetAddress(Mac48Address::Allocate());
        dev->SetChannel(ch);
        dev->SetQueue(CreateObject<DropTailQueue<Packet>>());
        node->AddDevice(dev);
    }
    *onA = da;
    return db;
}

} // namespace

int
main(int argc, char* argv[])
{
    uint32_t hosts = 8, vmsPerHost = 8, flows = 32, size = 1000;
    uint64_t rateBps = 100000000, durationNs = 1000000000, startNs = 1000000, staggerNs = 2000;
    uint64_t uplinkDelayNs = 5853, stopNs = 0;
    CommandLine cmd;
    cmd.AddValue("hosts", "hypervisor bridges", hosts);
    cmd.AddValue("vmsPerHost", "VMs per bridge", vmsPerHost);
    cmd.AddValue("flows", "UDP flows", flows);
    cmd.AddValue("rateBps", "payload bit rate per flow", rateBps);
    cmd.AddValue("size", "UDP payload bytes", size);
    cmd.AddValue("durationNs", "how long each flow sends", durationNs);
    cmd.AddValue("startNs", "first flow's start", startNs);
    cmd.AddValue("staggerNs", "start of flow f - start of flow f-1", staggerNs);
    cmd.AddValue("uplinkDelayNs", "bridge<->ToR cable delay (vfab serialization + propagation)", uplinkDelayNs);
    cmd.AddValue("stopNs", "simulation end", stopNs);
    cmd.Parse(argc, argv);
    // A Linux guest sends its ARP request at once; ns-3 waits up to 10 ms by default.
    Config::SetDefault("ns3::ArpL3Protocol::RequestJitter",
                       StringValue("ns3::ConstantRandomVariable[Constant=0.0]"));

    const uint32_t n = hosts * vmsPerHost;
    NodeContainer vms;
    vms.Create(n);
    NodeContainer bridges;
    bridges.Create(hosts);
    Ptr<Node> tor = hosts > 1 ? CreateObject<Node>() : nullptr;
    std::vector<NetDeviceContainer> bridgePorts(hosts);
    NetDeviceContainer vmDevs;
    for (uint32_t i = 0; i < n; i++)
    {
        Ptr<SimpleNetDevice> onVm;
        bridgePorts[i / vmsPerHost].Add(Cable(vms.Get(i), bridges.Get(i / vmsPerHost), 0, &onVm));
        vmDevs.Add(onVm);
    }
    NetDeviceContainer torPorts;
    for (uint32_t h = 0; h < hosts && tor; h++)
    {
        Ptr<SimpleNetDevice> onBridge;
        torPorts.Add(Cable(bridges.Get(h), tor, uplinkDelayNs, &onBridge));
        bridgePorts[h].Add(onBridge);
    }
    BridgeHelper bridge;
    for (uint32_t h = 0; h < hosts; h++)
        bridge.Install(bridges.Get(h), bridgePorts[h]);
    if (tor)
        bridge.Install(tor, torPorts);

    InternetStackHelper stack;
    stack.Install(vms);
    Ipv4AddressHelper addr("10.0.0.0", "255.255.0.0");
    Ipv4InterfaceContainer ifs = addr.Assign(vmDevs);

    // vfab's UDP app sends datagram k at start + floor(k * bits * 1e9 / rate) while before the end.
    const uint64_t intervalNs = uint64_t(size) * 8 * 1000000000ull / rateBps;
    uint32_t count = 0;
    while ((uint64_t(count) * size * 8 * 1000000000ull) / rateBps < durationNs)
        count++;
    std::map<uint32_t, bool> serving;
    for (uint32_t f = 0; f < flows; f++)
    {
        uint32_t dst = (f + n / 2) % n;
        if (!serving[dst])
        {
            serving[dst] = true;
            UdpServerHelper server(5001);
            ApplicationContainer app = server.Install(vms.Get(dst));
            app.Get(0)->TraceConnectWithoutContext("RxWithAddresses", MakeCallback(&OnRx));
            app.Start(Seconds(0));
        }
        UdpClientHelper client(ifs.GetAddress(dst), 5001);
        client.SetAttribute("MaxPackets", UintegerValue(count));
        client.SetAttribute("Interval", TimeValue(NanoSeconds(intervalNs)));
        client.SetAttribute("PacketSize", UintegerValue(size));
        ApplicationContainer app = client.Install(vms.Get(f));
        app.Start(NanoSeconds(startNs + f * staggerNs));
    }

    Simulator::Stop(NanoSeconds(stopNs));
    Simulator::Run();

    std::printf("{\"flows\":[");
    for (uint32_t f = 0; f < flows; f++)
    {
        const FlowStats& s = g_stats[ifs.GetAddress(f).Get()];
        std::printf("%s{\"src\":%u,\"dst\":%u,\"sent\":%u,\"received\":%" PRIu64, f ? "," : "", f,
                    (f + n / 2) % n, count, s.received);
        if (s.received)
            std::printf(",\"latency_min_ns\":%" PRId64 ",\"latency_avg_ns\":%.0Lf,\"latency_max_ns\":%" PRId64,
                        s.minNs, s.sumNs / s.received, s.maxNs);
        std::printf("}");
    }
    std::printf("]}\n");
    Simulator::Destroy();
    return 0;
}
