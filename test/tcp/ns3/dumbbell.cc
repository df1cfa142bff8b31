// A dumbbell for comparing vfab's TCP with ns-3 3.37 (test/tcp/ns3.test.ts builds and runs it).
//
//   sender_i --(100 Gbit/s, 1 us)-- R1 --(bottleneck: rate, delay, drop-tail queue)-- R2 --(100 Gbit/s, 1 us)-- sink
//
// Usage: dumbbell --cc=newreno|cubic --flows=N --rate=BPS --delay=NS --queue=PKTS --stop=S --sample=S
// Prints "goodput <bits/s>" (all sinks, bytes received between --from and --stop), then
// "cwnd <t_s> <bytes>" samples of flow 0 every --sample seconds.
//
// Aligned with vfab/Linux (see docs/tcp.md): payload 1448 B per segment (MSS 1460 with
// timestamps), SACK, timestamps and window scaling on, IW10, MinRto 200 ms, PRR recovery,
// CUBIC without HyStart, buffers 4 MiB / 6 MiB, no qdisc on the bottleneck (device queue only),
// and ACKs every segment (DelAckCount 1) so ns-3's per-ACK window growth equals Linux's
// per-segment growth (RFC 3465). The bottleneck rate is scaled by 1502/1538 so a full segment
// takes as long on ns-3's PPP framing (2 B header) as on vfab's Ethernet (14 B header + 24 B
// preamble, FCS and gap).
#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"
#include "ns3/traffic-control-module.h"
#include <iostream>

using namespace ns3;

static uint32_t g_cwnd = 0;
static void CwndChange(uint32_t, uint32_t v) { g_cwnd = v; }
static void Sample(double every, double stop) {
  std::cout << "cwnd " << Simulator::Now().GetSeconds() << " " << g_cwnd << "\n";
  if (Simulator::Now().GetSeconds() + every <= stop + 1e-9) Simulator::Schedule(Seconds(every), &Sample, every, stop);
}
static uint64_t g_rxAtFrom = 0;
static ApplicationContainer g_sinks;
static uint64_t TotalRx() {
  uint64_t t = 0;
  for (uint32_t i = 0; i < g_sinks.GetN(); i++) t += DynamicCast<PacketSink>(g_sinks.Get(i))->GetTotalRx();
  return t;
}
static void MarkFrom() { g_rxAtFrom = TotalRx(); }
static void Hook() {
  Config::ConnectWithoutContext("/NodeList/0/$ns3::TcpL4Protocol/SocketList/0/CongestionWindow", MakeCallback(&CwndChange));
}

int main(int argc, char *argv[]) {
  std::string cc = "newreno";
  uint32_t flows = 1;
  double rate = 100e6;
  uint64_t delayNs = 10000000;
  uint32_t queue = 100;
  double stop = 10.0;
  double sample = 0.1;
  double start = 0.1;
  double from = 0.1;
  CommandLine cmd;
  cmd.AddValue("cc", "newreno|cubic", cc);
  cmd.AddValue("flows", "senders", flows);
  cmd.AddValue("rate", "bottleneck bit/s", rate);
  cmd.AddValue("delay", "bottleneck one-way delay ns", delayNs);
  cmd.AddValue("queue", "bottleneck queue packets", queue);
  cmd.AddValue("stop", "stop time s", stop);
  cmd.AddValue("sample", "cwnd sample period s", sample);
  cmd.AddValue("from", "goodput window start s (after slow start)", from);
  cmd.Parse(argc, argv);

  Config::SetDefault("ns3::TcpL4Protocol::SocketType", TypeIdValue(cc == "cubic" ? TcpCubic::GetTypeId() : TcpNewReno::GetTypeId()));
  Config::SetDefault("ns3::TcpL4Protocol::RecoveryType", TypeIdValue(TcpPrrRecovery::GetTypeId()));
  Config::SetDefault("ns3::TcpSocket::SegmentSize", UintegerValue(1448));
  Config::SetDefault("ns3::TcpSocket::InitialCwnd", UintegerValue(10));
  Config::SetDefault("ns3::TcpSocket::DelAckCount", UintegerValue(1));
  Config::SetDefault("ns3::TcpSocket::DelAckTimeout", TimeValue(MilliSeconds(40)));
  Config::SetDefault("ns3::TcpSocket::SndBufSize", UintegerValue(4194304));
  Config::SetDefault("ns3::TcpSocket::RcvBufSize", UintegerValue(6291456));
  Config::SetDefault("ns3::TcpSocketBase::MinRto", TimeValue(MilliSeconds(200)));
  Config::SetDefault("ns3::TcpSocketBase::Sack", BooleanValue(true));
  Config::SetDefault("ns3::TcpSocketBase::Timestamp", BooleanValue(true));
  Config::SetDefault("ns3::TcpSocketBase::WindowScaling", BooleanValue(true));
  Config::SetDefault("ns3::TcpCubic::HyStart", BooleanValue(false));

  NodeContainer senders, routers, sink;
  senders.Create(flows);
  routers.Create(2);
  sink.Create(1);
  PointToPointHelper access;
  access.SetDeviceAttribute("DataRate", StringValue("100Gbps"));
  access.SetChannelAttribute("Delay", TimeValue(MicroSeconds(1)));
  access.SetQueue("ns3::DropTailQueue", "MaxSize", StringValue("10000p"));
  PointToPointHelper neck;
  neck.SetDeviceAttribute("DataRate", DataRateValue(DataRate(uint64_t(rate * 1502.0 / 1538.0))));
  neck.SetChannelAttribute("Delay", TimeValue(NanoSeconds(delayNs)));
  neck.SetQueue("ns3::DropTailQueue", "MaxSize", StringValue(std::to_string(queue) + "p"));

  InternetStackHelper stack;
  stack.InstallAll();
  Ipv4AddressHelper addr;
  TrafficControlHelper tch;
  for (uint32_t i = 0; i < flows; i++) {
    NetDeviceContainer d = access.Install(senders.Get(i), routers.Get(0));
    addr.SetBase(("10.1." + std::to_string(i + 1) + ".0").c_str(), "255.255.255.0");
    addr.Assign(d);
    tch.Uninstall(d); // after Assign: the IPv4 interface installs the default qdisc
  }
  NetDeviceContainer nd = neck.Install(routers.Get(0), routers.Get(1));
  addr.SetBase("10.2.0.0", "255.255.255.0");
  addr.Assign(nd);
  tch.Uninstall(nd);
  NetDeviceContainer sd = access.Install(routers.Get(1), sink.Get(0));
  addr.SetBase("10.3.0.0", "255.255.255.0");
  Ipv4InterfaceContainer si = addr.Assign(sd);
  tch.Uninstall(sd);
  Ipv4GlobalRoutingHelper::PopulateRoutingTables();

  ApplicationContainer sinks;
  for (uint32_t i = 0; i < flows; i++) {
    uint16_t port = 5000 + i;
    PacketSinkHelper ps("ns3::TcpSocketFactory", InetSocketAddress(Ipv4Address::GetAny(), port));
    sinks.Add(ps.Install(sink.Get(0)));
    BulkSendHelper bs("ns3::TcpSocketFactory", InetSocketAddress(si.GetAddress(1), port));
    bs.SetAttribute("MaxBytes", UintegerValue(0));
    bs.SetAttribute("SendSize", UintegerValue(131072));
    ApplicationContainer a = bs.Install(senders.Get(i));
    a.Start(Seconds(start));
    a.Stop(Seconds(stop + 1));
  }
  sinks.Start(Seconds(0));
  g_sinks = sinks;
  Simulator::Schedule(Seconds(from), &MarkFrom);
  Simulator::Schedule(Seconds(start + 0.0000001), &Hook);
  Simulator::Schedule(Seconds(sample), &Sample, sample, stop);
  Simulator::Stop(Seconds(stop));
  Simulator::Run();
  std::cout << "goodput " << ((TotalRx() - g_rxAtFrom) * 8.0 / (stop - from)) << "\n";
  Simulator::Destroy();
  return 0;
}
