/**
 * The topology file format as one zod schema: the single source of truth for parsing, for the
 * error messages a user sees (`file:line:col`, unknown keys with a did-you-mean), and for the JSON
 * Schema shipped in `schema/topology.schema.json` (`vfab schema`) so editors autocomplete it.
 *
 * Every object is a `z.strictObject`: an unknown key is an error, never silently ignored. Unit
 * fields take the unit forms of `util/units.ts` (`10Gbit`, `20us`, `2GiB`) and come out as plain
 * numbers (bit/s, ns, bytes). Cross-references (a VM's host, a link's ports, duplicate MACs) are
 * not expressible here; `validate.ts` checks them against the parsed model, with positions.
 *
 * Shape (see docs/topology.md for the long form):
 *   name, seed, duration, hosts{bridges{ports}, nics{vfs}}, switches{ports}, links[], vms{interfaces,
 *   disks}, scenario[{at, <action>}], capture{ports, snaplen}
 */
import { z } from 'zod';
import { showValue } from '../errors.js';
import { zDuration, zRate, zSize } from '../util/zod-units.js';
import { FEATURE_NAMES, type FeatureName } from '../wire/virtio-net-features.js';
import { openflowBridgeConfig } from './openflow.js';
import { fioJobSchema, policySchema, storageDeviceSchema } from './storage-schema.js';

/** Names of hosts, switches, VMs, bridges, ports, interfaces: no dots (paths are dotted). */
export const NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/;

const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const IPV4 = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}';
const IPV4_RE = new RegExp(`^${IPV4}$`);
const IPV4_CIDR_RE = new RegExp(`^${IPV4}/([0-9]|[12][0-9]|3[0-2])$`);
const IPV6_CIDR_RE = /^[0-9a-fA-F:.]+\/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8])$/;

export const zMac = () =>
  z.string().regex(MAC_RE, { error: (iss) => `${showValue(iss.input)} is not a MAC address; write six hex octets, e.g. "02:00:00:00:00:01"` });

export const zIpv4 = () =>
  z.string().regex(IPV4_RE, { error: (iss) => `${showValue(iss.input)} is not an IPv4 address (e.g. 10.0.0.1)` });

export const zIpv4Cidr = () =>
  z.string().regex(IPV4_CIDR_RE, { error: (iss) => `${showValue(iss.input)} is not an IPv4 address with a prefix length (e.g. 10.0.0.1/24)` });

/** An IPv6 address as text (RFC 4291 §2.2); the resolver parses it strictly and locates errors. */
export const zIpv6 = () =>
  z.string().regex(/^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$/, { error: (iss) => `${showValue(iss.input)} is not an IPv6 address (e.g. 2001:db8::1)` });

export const zIpv6Cidr = () =>
  z.string().regex(IPV6_CIDR_RE, { error: (iss) => `${showValue(iss.input)} is not an IPv6 address with a prefix length (e.g. fd00::1/64)` });

/** An 802.1Q VLAN ID usable on a port: 1–4094 (0 means "untagged", 4095 is reserved). */
export const zVlan = () =>
  z
    .number({ error: (iss) => (iss.input === undefined ? undefined : `expected a VLAN ID (1-4094), got ${showValue(iss.input)}`) })
    .int({ error: (iss) => `VLAN ${String(iss.input)} is not a whole number` })
    .min(1, { error: (iss) => `VLAN ${String(iss.input)} is outside 1-4094` })
    .max(4094, { error: (iss) => `VLAN ${String(iss.input)} is outside 1-4094` });

const zCount = (min = 0, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);

/** Loss probability: a fraction in [0, 1] or a percentage string (`"0.5%"`). */
export const zLoss = () =>
  z
    .union([z.number().min(0).max(1), z.string().regex(/^\s*(100|[0-9]{1,2})(\.[0-9]+)?\s*%\s*$/, { error: 'a loss as a fraction 0..1 or a percentage like "0.5%"' })])
    .transform((v) => (typeof v === 'number' ? v : Number(v.trim().replace('%', '')) / 100))
    .describe('packet loss probability: a fraction 0..1 or a percentage such as "0.5%"');

/** OVS `Port` VLAN columns (vswitch.xml): vlan_mode, tag, trunks. */
const vlanConfig = {
  vlan_mode: z.enum(['access', 'trunk', 'native-tagged', 'native-untagged']).optional().describe('OVS Port vlan_mode; default access when tag is set, else trunk'),
  tag: zVlan().optional().describe('access VLAN (or native VLAN with vlan_mode native-*)'),
  trunks: z.array(zVlan()).optional().describe('VLANs a trunk port carries; absent or empty = all'),
};

/** OVS tunnel options (vswitch.xml "Tunnel Options"), issue 14. */
const zVni = z
  .number({ error: (iss) => (iss.input === undefined ? undefined : `expected a VNI (0-16777215) or "flow", got ${JSON.stringify(iss.input)}`) })
  .int({ error: (iss) => `VNI ${String(iss.input)} is not a whole number` })
  .min(0, { error: (iss) => `VNI ${String(iss.input)} is outside 24 bits (0-16777215)` })
  .max(0xffffff, { error: (iss) => `VNI ${String(iss.input)} is outside 24 bits (0-16777215)` });
const tunnelConfig = {
  type: z.enum(['vxlan', 'geneve']).optional().describe('OVS Interface type: absent = a normal port; vxlan or geneve = a tunnel port'),
  remote_ip: z
    .string()
    // IPv6 text is parsed strictly by the resolver (topology/tunnels.ts), which also checks that the
    // host's underlay has an address of the same family (OVS lib/netdev-vport.c set_tunnel_config).
    .regex(new RegExp(`^(?:flow|${IPV4}|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$`), {
      error: (iss) => `${showValue(iss.input)} is not an IPv4 address (e.g. 192.0.2.2), an IPv6 address (2001:db8::2) or "flow"`,
    })
    .optional()
    .describe('tunnel: the remote VTEP (its host underlay address, IPv4 or IPv6), or "flow" to take it from the packet\'s tun_dst or tun_ipv6_dst (set_field:…->tun_dst, set_field:…->tun_ipv6_dst)'),
  local_ip: z
    .string()
    .regex(new RegExp(`^(?:${IPV4}|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$`), {
      error: (iss) => `${showValue(iss.input)} is not an IPv4 address (e.g. 192.0.2.1) or an IPv6 address (2001:db8::1)`,
    })
    .optional()
    .describe("tunnel: the outer source address, and the destination received packets must have (OVS options:local_ip); one of the host underlay's addresses, of remote_ip's family"),
  key: z
    .union([z.literal('flow'), zVni])
    .optional()
    .describe('tunnel: the VNI (OVS options:key), default 0, or "flow" to take it from tun_id (set_field/set_tunnel) and receive any VNI'),
  dst_port: zCount(1, 65535).optional().describe('tunnel: UDP destination port, default 4789 (vxlan) or 6081 (geneve)'),
  csum: z.boolean().optional().describe('tunnel: compute the outer UDP checksum (OVS options:csum, default false)'),
};

export const portSchema = z.strictObject({
  ...vlanConfig,
  ...tunnelConfig,
  ofport: zCount(1, 0xfeff).optional().describe('OpenFlow port number (default: assigned in order)'),
});

/** The host's underlay address for tunnel ports (issue 14): port `host.underlay`. */
export const underlaySchema = z.strictObject({
  ipv4: zIpv4Cidr().optional().describe('IPv4 address/prefix (an underlay needs ipv4, ipv6 or both)'),
  gateway: zIpv4().optional(),
  ipv6: zIpv6Cidr().optional().describe('IPv6 address/prefix: tunnel ports with an IPv6 remote_ip send from it'),
  gateway6: zIpv6().optional().describe('IPv6 default gateway (a router interface address on the ipv6 prefix)'),
  mtu: zCount(68, 65535).optional().describe('IP MTU, default 1500'),
  mac: zMac().optional(),
});

const flowsConfig = {
  flows: z.string().optional().describe('ovs-ofctl add-flows text; absent = the OVS default (one NORMAL flow)'),
  flows_file: z.string().optional().describe('a flows file, relative to the topology file'),
  mac_aging: zDuration().optional().describe('MAC learning aging time (OVS mac-aging-time, default 300s)'),
  mac_table_size: zCount(1).optional().describe('MAC table size (OVS mac-table-size, default 8192)'),
  protocols: z
    .array(z.enum(['OpenFlow10', 'OpenFlow11', 'OpenFlow12', 'OpenFlow13', 'OpenFlow14', 'OpenFlow15']))
    .min(1)
    .optional()
    .describe('OpenFlow versions the flows are written for (ovs-ofctl -O; the highest is used); default OpenFlow10 (+NXM), as ovs-ofctl'),
  strict: z.boolean().optional().describe('reject flows OVS would silently change (a match field without its prerequisite) instead of warning'),
  groups: z.string().optional().describe('ovs-ofctl add-groups text (group_id=1,type=select,bucket=…), loaded before the flows'),
  meters: z.string().optional().describe('ovs-ofctl add-meters text (meter=1,kbps,band=type=drop,rate=…); meters need protocols OpenFlow13+'),
  tlv_map: z
    .string()
    .optional()
    .describe('Geneve TLV map, as ovs-ofctl add-tlv-map: "{class=0xffff,type=0x80,len=4}->tun_metadata0,…"; makes the tun_metadataN fields that flows match and set and Geneve ports carry'),
};

export const bridgeSchema = z.strictObject({
  ...flowsConfig,
  ...openflowBridgeConfig,
  datapath_type: z
    .enum(['netdev', 'system'])
    .optional()
    .describe('OVS Bridge datapath_type: netdev (userspace, vfab\'s default) drops a frame too big for a tunnel silently; system (the Linux kernel datapath) also answers ICMP frag-needed / packet too big (Linux >= 5.9)'),
  ports: z.record(z.string(), portSchema).optional().describe('extra (non-VM) bridge ports: uplinks, patch ports'),
});

/** `ip link set PF vf N …` knobs (issue 6). */
export const vfConfigSchema = z.strictObject({
  mac: zMac().optional(),
  vlan: zCount(0, 4094).optional().describe('VLAN inserted on transmit and filtered/stripped on receive; 0 = none'),
  qos: zCount(0, 7).optional().describe('802.1p priority for the VF VLAN (needs vlan)'),
  proto: z.enum(['802.1Q', '802.1ad']).optional(),
  spoofchk: z.boolean().optional(),
  trust: z.boolean().optional(),
  state: z.enum(['auto', 'enable', 'disable']).optional(),
  max_tx_rate: zCount(0).optional().describe('Mbit/s, 0 = no limit'),
  min_tx_rate: zCount(0).optional().describe('Mbit/s, 0 = no guarantee'),
});

/** An SR-IOV physical function (issue 6); built by `fabric/sriov.ts`. */
export const pfSchema = z.strictObject({
  model: z.enum(['ixgbe', 'i40e', 'ice', 'igb', 'mlx4', 'mlx5', 'generic']).optional().describe('preset for total_vfs'),
  total_vfs: zCount(0, 256).optional(),
  num_vfs: zCount(0, 256).optional(),
  eswitch: z.enum(['legacy', 'switchdev']).optional(),
  hwmode: z.enum(['veb', 'vepa']).optional(),
  bridge: z.string().optional().describe('host bridge that receives the representor ports (switchdev) or the PF netdev itself (legacy)'),
  fdb: z.array(zMac()).optional().describe('legacy: MACs behind the PF netdev that VFs may reach through the VEB (bridge fdb add MAC dev PF self)'),
  mac: zMac().optional(),
  vfs: z.record(z.string().regex(/^[0-9]+$/, { error: 'a VF index (0, 1, …)' }), vfConfigSchema).optional(),
});

/** An NBD export of a storage host (issue 13, src/fabric/nbd-disks.ts). */
export const nbdExportSchema = z.strictObject({
  image: z.string().optional().describe('image file served (created with size when missing), relative to the topology file'),
  memory: zSize().optional().describe('a memory-backed export of this size'),
  size: zSize().optional().describe('size of an image created when missing'),
  backend: z.string().optional().describe('storage device of this host (hosts.H.backends) whose service time each NBD command takes; default: none (instant)'),
  data: z.boolean().optional().describe('write and read the real bytes in the image (default false: timing only, the export reads as fully allocated)'),
});

/** A hypervisor's own IP interface (issue 13): port `host.if`, the host's TCP/IP stack. */
export const hostInterfaceSchema = z.strictObject({
  bridge: z.string().optional().describe('host bridge it is an internal port of; absent = port host.if, cabled by a links: entry'),
  ipv4: zIpv4Cidr(),
  gateway: zIpv4().optional(),
  mtu: zCount(68, 65535).optional().describe('IP MTU, default 1500'),
  mac: zMac().optional().describe('default: 02:fc:00:HH:HH:II in file order'),
  ...vlanConfig,
});

export const hostSchema = z.strictObject({
  bridges: z.record(z.string(), bridgeSchema).optional(),
  interfaces: z.record(z.string(), hostInterfaceSchema).optional().describe('the hypervisor\'s own IP interfaces (migration streams, storage)'),
  nics: z.record(z.string(), pfSchema).optional().describe('SR-IOV physical functions'),
  underlay: underlaySchema.optional().describe('the host underlay address tunnel ports send from (port host.underlay)'),
  backends: z.record(z.string(), storageDeviceSchema).optional().describe('storage devices (service-time models) the disks of VMs on this host use, as in QoS files'),
  exports: z.record(z.string(), nbdExportSchema).optional().describe('NBD exports this host serves on port 10809 (VM disks attach with nbd: host/export)'),
});

export const switchSchema = z.strictObject({
  ...flowsConfig,
  ports: z.record(z.string(), portSchema),
});

export const linkSchema = z.strictObject({
  a: z.string().describe('port path of one end, e.g. hv1.br0.uplink'),
  b: z.string().describe('port path of the other end, e.g. tor.p1'),
  bandwidth: zRate().optional().describe('line rate (default 10Gbit)'),
  delay: zDuration().optional().describe('propagation delay (default 0)'),
  queue: z
    .union([
      zCount(0),
      z.strictObject({
        kind: z.enum(['fifo', 'fq_codel', 'red']).describe('fifo: tail drop (default); fq_codel: RFC 8290 (Linux default qdisc); red: random early detection'),
        limit: zCount(1, 1_000_000).optional().describe('packets (fifo default 1000, fq_codel 10240, red 1000)'),
        target: zDuration().optional().describe('fq_codel CoDel target (default 5ms)'),
        interval: zDuration().optional().describe('fq_codel CoDel interval (default 100ms)'),
        quantum: zSize().optional().describe('fq_codel DRR quantum in bytes (default MTU + 14)'),
        flows: zCount(1, 65536).optional().describe('fq_codel flow buckets (default 1024)'),
        ecn: z.boolean().optional().describe('mark ECN-capable packets instead of dropping (fq_codel default true, red false)'),
        min: zSize().optional().describe('red: average queue where early drops start (bytes)'),
        max: zSize().optional().describe('red: average queue where every packet is dropped (bytes)'),
        probability: z.number().min(0).max(1).optional().describe('red: drop probability at max (default 0.02)'),
      }),
    ])
    .optional()
    .describe('transmit queue per direction: frames of a tail-drop FIFO (default 1000), or { kind: fq_codel | red | fifo, … }'),
  loss: zLoss().optional(),
});

/** virtio-net feature names as `vnic/` knows them (lower case, e.g. `ctrl_vq`, `guest_announce`). */
export const VIRTIO_FEATURE_NAMES = FEATURE_NAMES as unknown as readonly [FeatureName, ...FeatureName[]];

export const interfaceSchema = z.strictObject({
  model: z.enum(['virtio', 'vf']).optional().describe('virtio (default) or an SR-IOV VF'),
  bridge: z.string().optional().describe('host bridge the virtio NIC plugs into; absent = cabled by a link'),
  mac: zMac().optional().describe('default: 52:54:00:… assigned in file order'),
  ipv4: zIpv4Cidr().optional(),
  ipv6: z.array(zIpv6Cidr()).optional(),
  gateway: zIpv4().optional(),
  ...vlanConfig,
  queues: zCount(1, 256).optional().describe('virtio queue pairs (needs mq)'),
  queue_size: zCount(1, 32768).optional().describe('virtqueue size, a power of two (default 256)'),
  mtu: zCount(68, 65535).optional(),
  features: z.array(z.enum(VIRTIO_FEATURE_NAMES)).optional().describe('virtio-net device features offered'),
  rx_delay: zDuration().optional().describe('guest receive latency: interrupt + NAPI poll before the stack sees a frame (default 10us)'),
  nic: z.string().optional().describe('model vf: the physical function (name on the VM host)'),
  vf: zCount(0, 255).optional().describe('model vf: the VF index'),
  standby: z.string().optional().describe('model vf: the virtio interface paired for failover (VIRTIO_NET_F_STANDBY)'),
  spoof_mac: zMac().optional().describe('model vf: the guest forges this source MAC on every frame it sends (spoofchk on the VF drops them)'),
});

export const diskSchema = z.strictObject({
  image: z.string().optional().describe('image file (created with size when missing), relative to the topology file'),
  memory: zSize().optional().describe('a memory-backed disk of this size'),
  format: z.enum(['qcow2', 'raw']).optional(),
  size: zSize().optional(),
  backing: z.string().optional(),
  backing_format: z.enum(['qcow2', 'raw']).optional(),
  cluster_size: zSize().optional(),
  readonly: z.boolean().optional(),
  backend: z.string().optional().describe('a storage device of the VM\'s host (hosts.H.backends); default: a null device'),
  throttle: policySchema.optional().describe('I/O limits, any policy kind vfab qos supports (QEMU iops-total: 500 …, firecracker, io.max, mclock)'),
  data: z.boolean().optional().describe('fio I/O in a run moves real bytes: writes land in the image (default: timing only)'),
  shared: z.boolean().optional().describe('on storage every host sees (NFS, Ceph …): a migration leaves it in place, storage: mirror cannot copy it'),
  nbd: z.string().optional().describe('network disk: an NBD export, "host/export" (instead of image/memory)'),
  via: z.string().optional().describe('nbd: the host interface of the VM\'s hypervisor the NBD connection leaves from'),
  reconnect_delay: zDuration().optional().describe('nbd: QEMU reconnect-delay, whole seconds: after a lost connection I/Os wait this long for a reconnection before failing (default 0: fail at once)'),
});

export const vmSchema = z.strictObject({
  host: z.string(),
  memory: zSize().optional().describe('guest RAM (live migration)'),
  dirty_rate: zSize().optional().describe('bytes dirtied per second (live migration)'),
  interfaces: z.record(z.string(), interfaceSchema).optional(),
  disks: z.record(z.string(), diskSchema).optional(),
});

const pingSchema = z.strictObject({
  name: z.string().regex(NAME_RE).optional().describe('name used by expect: (default ping1, ping2 …)'),
  from: z.string().describe('VM name (or vm.interface)'),
  to: z.string().describe('IPv4 address, VM name or vm.interface'),
  count: zCount(1).optional().describe('default 5'),
  interval: zDuration().optional().describe('default 1s'),
  size: zCount(0, 65507).optional().describe('ICMP payload bytes, default 56'),
});

const udpSchema = z.strictObject({
  name: z.string().regex(NAME_RE).optional().describe('name used by expect: (default udp1, udp2 …)'),
  from: z.string(),
  to: z.string(),
  port: zCount(1, 65535).optional().describe('default 5001'),
  src_port: zCount(1, 65535).optional(),
  rate: zRate(),
  size: zCount(1, 65507).optional().describe('UDP payload bytes, default 1000'),
  duration: zDuration(),
});

/** App names for expectations (`iperf1: throughput >= 900Mbit`); default `<kind><n>` in scenario order. */
const zAppName = () => z.string().regex(NAME_RE, { error: 'an app name: letters, digits, _ and -' }).optional().describe('name used by expect: (default iperf1, rpc2, ping1 … in scenario order)');

const zCc = () => z.enum(['cubic', 'newreno']).optional().describe('congestion control (default cubic, as Linux)');

const iperfSchema = z.strictObject({
  name: zAppName(),
  from: z.string().describe('VM name (the iperf3 client)'),
  to: z.string().describe('IPv4 address, VM name or vm.interface (the server, started there)'),
  port: zCount(1, 65535).optional().describe('default 5201'),
  duration: zDuration().optional().describe('default 10s (iperf3 -t); not with bytes'),
  bytes: zSize().optional().describe('bytes per stream instead of a duration (iperf3 -n)'),
  parallel: zCount(1, 128).optional().describe('streams (iperf3 -P), default 1'),
  reverse: z.boolean().optional().describe('the server sends (iperf3 -R)'),
  cc: zCc(),
  interval: zDuration().optional().describe('report interval (iperf3 -i), default 1s'),
  window: zSize().optional().describe('socket buffer size, both ends (iperf3 -w)'),
  server: z.boolean().optional().describe('start the server at the destination (default true)'),
  hystart: z.boolean().optional().describe("CUBIC's HyStart slow-start exit (Linux tcp_cubic.c; default off)"),
  mss: zCount(88, 65495).optional().describe('largest segment to advertise and send (iperf3 -M, TCP_MAXSEG)'),
});

const zRpcRate = () =>
  z
    .union([z.number().positive(), z.string().regex(/^\s*[0-9]+(\.[0-9]+)?\s*\/\s*s\s*$/, { error: 'a request rate such as "1000/s"' })])
    .transform((v) => (typeof v === 'number' ? v : Number(v.split('/')[0]!.trim())))
    .describe('requests per second, e.g. "1000/s" (open loop)');

const rpcSchema = z.strictObject({
  name: zAppName(),
  from: z.string(),
  to: z.string(),
  port: zCount(1, 65535).optional().describe('default 7000'),
  request: zSize().optional().describe('request bytes, default 200'),
  response: zSize().optional().describe('response bytes, default 64KiB'),
  rate: zRpcRate().optional(),
  concurrency: zCount(1, 100000).optional().describe('closed loop: outstanding requests (default 8); with rate: the connection pool (default 64)'),
  per_request: z.boolean().optional().describe('a new connection per request (default false)'),
  duration: zDuration(),
  interval: zDuration().optional(),
  nodelay: z.boolean().optional().describe('TCP_NODELAY (Nagle off)'),
  server: z.boolean().optional(),
});

const migrateSchema = z.strictObject({
  vm: z.string(),
  to: z.string().describe('destination host'),
  bandwidth: zRate().optional(),
  max_downtime: zDuration().optional(),
  max_iterations: zCount(1).optional(),
  announce: z.enum(['both', 'rarp', 'garp', 'none']).optional(),
  announce_initial: zDuration().optional(),
  announce_max: zDuration().optional(),
  announce_rounds: zCount(0).optional(),
  announce_step: zDuration().optional(),
  via: z.string().optional().describe('host interface the migration stream uses (a TCP connection over the fabric); absent = the analytical model'),
  multifd_channels: zCount(1, 255).optional().describe('with via: parallel multifd connections (QEMU multifd-channels); absent = one main channel'),
  max_bandwidth: z.union([zRate(), z.literal(0)]).optional().describe('with via: QEMU max-bandwidth, default 128MiB/s (0 = unlimited)'),
  working_set: zSize().optional().describe('hot set re-dirtied every round (default: all of memory)'),
  auto_converge: z.boolean().optional().describe('QEMU auto-converge: throttle the guest CPU when it dirties faster than the stream sends'),
  cpu_throttle_initial: zCount(1, 99).optional().describe('auto-converge first throttle, percent (default 20)'),
  cpu_throttle_increment: zCount(1, 100).optional().describe('auto-converge step, percent (default 10)'),
  postcopy: z.boolean().optional().describe('with via: switch to post-copy after the first round'),
  storage: z.enum(['shared', 'mirror']).optional().describe('mirror: copy the local disks to the destination over NBD before the RAM (QEMU drive-mirror); shared (default): disks stay'),
  storage_speed: zRate().optional().describe('with storage: mirror, the mirror jobs\' own rate limit (QEMU drive-mirror speed); default unlimited'),
  migrate_disks: z.array(z.string()).optional().describe('with storage: mirror, the disks to copy (libvirt migrate_disks; default every disk that is not shared)'),
});

const fioActionSchema = fioJobSchema.extend({
  name: z.string().regex(NAME_RE).optional().describe('job name in the fio results (default fio1, fio2 …)'),
});

const vfActionSchema = vfConfigSchema.extend({
  nic: z.string().describe('host.pf, e.g. hv1.pf0'),
  vf: zCount(0, 255),
});

const numVfsActionSchema = z.strictObject({
  nic: z.string().describe('host.pf, e.g. hv1.pf0'),
  num_vfs: zCount(0, 256),
});

const tracerouteSchema = z.strictObject({
  from: z.string().describe('VM name (or vm.interface)'),
  to: z.string().describe('IPv4 address, VM name or vm.interface'),
  max_hops: zCount(1, 255).optional().describe('default 30 (traceroute -m)'),
  wait: zDuration().optional().describe('how long to wait for each probe, default 1s'),
});

/** An L3 router interface (issue 14): one port `router.if`. */
export const routerInterfaceSchema = z.strictObject({
  ipv4: zIpv4Cidr().optional().describe('IPv4 address/prefix (an interface needs ipv4, ipv6 or both)'),
  ipv6: zIpv6Cidr().optional().describe('IPv6 address/prefix: the router forwards IPv6 (ND, ICMPv6 errors) on interfaces that have one'),
  mac: zMac().optional().describe('default: 02:fe:… assigned in file order'),
  mtu: zCount(68, 65535).optional().describe('IP MTU, default 1500'),
});

export const routeSchema = z.strictObject({
  to: z.string().describe('destination prefix (10.1.0.0/16, 2001:db8:2::/48) or "default" (IPv4 or IPv6 by the next hops)'),
  via: z.union([zIpv4(), zIpv6(), z.array(z.union([zIpv4(), zIpv6()])).min(1)]).describe('next hop, or a list of equal-cost next hops (ECMP); IPv6 next hops make an IPv6 route'),
});

export const routerSchema = z.strictObject({
  interfaces: z.record(z.string(), routerInterfaceSchema),
  routes: z.array(routeSchema).optional().describe('static routes; connected subnets are implicit'),
  ipv6_multipath_hash_policy: z
    .union([z.literal(0), z.literal(1)])
    .optional()
    .describe('IPv6 ECMP hash, as Linux net.ipv6.fib_multipath_hash_policy: 1 = five-tuple (default here), 0 = addresses, flow label, next header (the kernel default)'),
});

export const SCENARIO_ACTIONS = ['ping', 'udp', 'link_down', 'link_up', 'migrate', 'vf', 'sriov', 'traceroute', 'iperf', 'rpc', 'fio', 'flow_mod', 'group_mod', 'meter_mod'] as const;

/** A controller's table change mid-run, in ovs-ofctl syntax (issue 11). */
const flowModSchema = z.strictObject({
  bridge: z.string().describe('bridge path, e.g. hv1.br0'),
  command: z.enum(['add', 'modify', 'modify_strict', 'delete', 'delete_strict']).optional().describe('default add (ovs-ofctl add-flow / mod-flows / del-flows [--strict])'),
  flow: z.string().describe('the flow in ovs-ofctl syntax (for deletes: the match, with cookie=C/MASK and out_port=P if wanted)'),
});
const groupModSchema = z.strictObject({
  bridge: z.string(),
  command: z.enum(['add', 'modify', 'add_or_mod', 'delete']).optional().describe('default add (ovs-ofctl add-group / mod-group / del-groups)'),
  group: z.string().describe('the group in ovs-ofctl syntax (group_id=1,type=…,bucket=…; for delete: group_id=N, or empty for all)'),
});
const meterModSchema = z.strictObject({
  bridge: z.string(),
  command: z.enum(['add', 'modify', 'delete']).optional().describe('default add (ovs-ofctl add-meter / mod-meter / del-meter)'),
  meter: z.string().describe('the meter in ovs-ofctl syntax (meter=1,kbps,bands=type=drop,rate=…; for delete: meter=N)'),
});
export type ScenarioActionName = (typeof SCENARIO_ACTIONS)[number];

export const scenarioStepSchema = z.strictObject({
  at: zDuration().describe('when, in simulated time from the start'),
  ping: pingSchema.optional(),
  udp: udpSchema.optional(),
  iperf: iperfSchema.optional().describe('bulk TCP streams, iperf3-like'),
  rpc: rpcSchema.optional().describe('TCP request/response with latency percentiles'),
  link_down: z.string().optional().describe('a link end or port path'),
  link_up: z.string().optional(),
  migrate: migrateSchema.optional(),
  vf: vfActionSchema.optional().describe('ip link set PF vf N …'),
  sriov: numVfsActionSchema.optional().describe('echo N > sriov_numvfs'),
  traceroute: tracerouteSchema.optional().describe('UDP traceroute: lists every router hop'),
  fio: fioActionSchema.optional().describe('an fio job on a VM disk (vm1.vda), in the QoS files\' fio vocabulary'),
  flow_mod: flowModSchema.optional().describe('add/modify/delete flows on a bridge, as a controller would'),
  group_mod: groupModSchema.optional().describe('add/modify/delete a group on a bridge'),
  meter_mod: meterModSchema.optional().describe('add/modify/delete a meter on a bridge'),
});

export const captureSchema = z.strictObject({
  ports: z.union([z.literal('all'), z.array(z.string())]).optional().describe('"all" or port paths / globs ("hv1.br0.*")'),
  snaplen: zCount(1, 262144).optional(),
  packet_ids: z.union([z.literal('auto'), z.boolean()]).optional().describe('pcapng epb_packetid: one id per packet across every port it crosses, through encapsulation and router hops (auto: when the topology has tunnel ports)'),
});

export const topologySchema = z
  .strictObject({
    name: z.string().optional().describe('defaults to the file name'),
    seed: zCount(0, 0xffff_ffff).optional().describe('default seed (--seed overrides)'),
    duration: zDuration().optional().describe('default --until'),
    hosts: z.record(z.string(), hostSchema).optional(),
    switches: z.record(z.string(), switchSchema).optional(),
    routers: z.record(z.string(), routerSchema).optional().describe('L3 routers: interfaces, static routes, ECMP'),
    links: z.array(linkSchema).optional(),
    vms: z.record(z.string(), vmSchema).optional(),
    scenario: z.array(scenarioStepSchema).optional(),
    capture: captureSchema.optional(),
    expect: z.array(z.string()).optional().describe('checks on the run, e.g. "iperf1: throughput >= 900Mbit over [1s, 5s]", "rpc1: p99 <= 5ms", "ping1: loss == 0" (vfab test)'),
  })
  .describe('A vfab topology: hosts, bridges, VMs, switches, links, a scenario and what to capture');

export type TopologyInput = z.input<typeof topologySchema>;
export type TopologyDoc = z.output<typeof topologySchema>;
export type HostDoc = z.output<typeof hostSchema>;
export type BridgeDoc = z.output<typeof bridgeSchema>;
export type PortDoc = z.output<typeof portSchema>;
export type SwitchDoc = z.output<typeof switchSchema>;
export type LinkDoc = z.output<typeof linkSchema>;
export type VmDoc = z.output<typeof vmSchema>;
export type InterfaceDoc = z.output<typeof interfaceSchema>;
export type DiskDoc = z.output<typeof diskSchema>;
export type PfDoc = z.output<typeof pfSchema>;
export type VfConfigDoc = z.output<typeof vfConfigSchema>;
export type ScenarioStepDoc = z.output<typeof scenarioStepSchema>;
export type PingDoc = z.output<typeof pingSchema>;
export type UdpDoc = z.output<typeof udpSchema>;
export type IperfDoc = z.output<typeof iperfSchema>;
export type RpcDoc = z.output<typeof rpcSchema>;
export type MigrateDoc = z.output<typeof migrateSchema>;
export type FioActionDoc = z.output<typeof fioActionSchema>;
export type VfActionDoc = z.output<typeof vfActionSchema>;
export type NumVfsActionDoc = z.output<typeof numVfsActionSchema>;
export type RouterDoc = z.output<typeof routerSchema>;
export type TracerouteDoc = z.output<typeof tracerouteSchema>;
export type CaptureDoc = z.output<typeof captureSchema>;

/** The JSON Schema (draft 2020-12) of the input form, as shipped in `schema/topology.schema.json`. */
export function topologyJsonSchema(): Record<string, unknown> {
  const js = z.toJSONSchema(topologySchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...js, $id: 'https://vfab.dev/schema/topology.schema.json', title: 'vfab topology' };
}
