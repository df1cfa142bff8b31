/**
 * The exact-match cache keys on tunnel metadata (tun_id, tun_src, tun_dst) as well as the packet:
 * the same inner frame arriving with another VNI or from another VTEP must not reuse a cached
 * decision. Random sequences through a bridge with the cache and one without must forward the
 * same frames, with the same tunnel metadata on what goes out of tunnel ports.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { Port, connect, type FrameMeta } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/simulation.js';
import { Bridge } from '../../src/vswitch/bridge.js';
import { buildUdp } from '../../src/wire/build.js';

const FLOWS = [
  'priority=30,in_port=tun0,tun_id=5001,actions=output:vm1',
  'priority=30,in_port=tun0,tun_id=5002,tun_src=192.0.2.12,actions=output:vm2',
  'priority=20,in_port=tun0,tun_src=192.0.2.13,actions=set_field:7->tun_id,set_field:192.0.2.99->tun_dst,output:tun1',
  'priority=10,in_port=vm1,actions=set_tunnel:5001,set_field:192.0.2.12->tun_dst,output:tun0',
  'priority=0,actions=drop',
].join('\n');

function world(cacheSize: number): { send: (vni: number, src: number, dport: number) => void; log: string[] } {
  const sim = new Simulation(1);
  const br = new Bridge({ path: 'br0', sim, cacheSize });
  const log: string[] = [];
  const ports = new Map<string, Port>();
  for (const name of ['tun0', 'tun1', 'vm1', 'vm2']) {
    const p = br.addPort({ name, tunnel: name.startsWith('tun') });
    const peer = new Port(`peer.${name}`, (f, meta: FrameMeta) => log.push(`${name} ${f.length} ${meta.tunnel ? `${meta.tunnel.idLo}/${meta.tunnel.dst >>> 0}` : '-'}`));
    connect(p, peer);
    ports.set(name, peer);
  }
  br.loadFlows(FLOWS);
  return {
    log,
    send: (vni, src, dport) => {
      const f = buildUdp({ srcMac: 0x020000000001, dstMac: 0x020000000002, srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 1000, dstPort: dport, payloadLen: 10 });
      ports.get('tun0')!.send(f, { hops: 0, tunnel: { idHi: 0, idLo: vni, src, dst: 0xc000020b } });
    },
  };
}

it('cache on == cache off when only the tunnel metadata differs', () => {
  const pkt = fc.record({ vni: fc.constantFrom(5001, 5002, 5003), src: fc.constantFrom(0xc000020c, 0xc000020d, 0xc000020e), dport: fc.constantFrom(7, 9) });
  fc.assert(fc.property(fc.array(pkt, { minLength: 1, maxLength: 240, size: 'max' }), (seq) => {
    const on = world(8192);
    const off = world(0);
    for (const p of seq) {
      on.send(p.vni, p.src, p.dport);
      off.send(p.vni, p.src, p.dport);
    }
    expect(on.log).toEqual(off.log);
  }));
  // And the rules do what they say (so the comparison is not between two empty logs).
  const w = world(8192);
  w.send(5001, 0xc000020c, 7);
  w.send(5002, 0xc000020c, 7);
  w.send(5002, 0xc000020d, 7);
  w.send(5003, 0xc000020d, 7);
  expect(w.log).toEqual(['vm1 60 -', 'vm2 60 -', `tun1 60 7/3221226083`, `tun1 60 7/3221226083`]);
});
