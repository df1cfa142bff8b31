import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { Port, connect, type Frame } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/simulation.js';
import { Bridge } from '../../src/vswitch/bridge.js';
import { formatGroup, parseGroups } from '../../src/vswitch/group-parser.js';
import { formatMeter, Meter, parseMeters } from '../../src/vswitch/meter.js';
import { buildUdp } from '../../src/wire/build.js';

function setup(opts: { cacheSize?: number } = {}) {
  const sim = new Simulation(1);
  const br = new Bridge({ path: 'br0', sim, flows: '', protocols: 13, ...opts });
  const got = new Map<string, Frame[]>();
  const hosts = ['p1', 'p2', 'p3', 'p4'].map((n) => {
    const bp = br.addPort({ name: n });
    const h = new Port(`vm.${n}`, (f) => got.get(n)!.push(f));
    got.set(n, []);
    connect(bp, h);
    return h;
  });
  return { sim, br, hosts, got };
}

const udp = (i: number): Frame => buildUdp({ srcMac: 0x020000000001, dstMac: 0x020000000002, srcIp: 0x0a000001 + i, dstIp: 0x0a0000fe, srcPort: 1000 + i, dstPort: 53, payloadLen: 10 });

describe('group tables on a bridge', () => {
  it('fast_failover follows link_down and link_up of the watched port, with the cache on', () => {
    const { br, hosts, got } = setup();
    br.loadGroups('group_id=1,type=fast_failover,bucket=watch_port:p2,output:p2,bucket=watch_port:p3,output:p3');
    br.addFlows('in_port=p1,actions=group:1');
    hosts[0]!.send(udp(0), { hops: 0 });
    br.portByName('p2')!.up = false; // what a link_down does to the bridge's port
    hosts[0]!.send(udp(0), { hops: 0 });
    br.portByName('p2')!.up = true;
    hosts[0]!.send(udp(0), { hops: 0 });
    expect(got.get('p2')!.length).toBe(2);
    expect(got.get('p3')!.length).toBe(1);
    expect(br.dumpGroupStats(13)).toContain('group_id=1,duration=0.000s,ref_count=1,packet_count=3,byte_count=');
  });

  it('a select group forwards the same with the cache on and off', () => {
    const on = setup();
    const off = setup({ cacheSize: 0 });
    for (const s of [on, off]) {
      s.br.loadGroups('group_id=7,type=select,bucket=output:p2,bucket=output:p3,bucket=weight:3,output:p4');
      s.br.addFlows('in_port=p1,actions=group:7');
      for (let i = 0; i < 200; i++) s.hosts[0]!.send(udp(i % 50), { hops: 0 });
    }
    const counts = (s: typeof on): number[] => ['p2', 'p3', 'p4'].map((p) => s.got.get(p)!.length);
    expect(counts(on)).toEqual(counts(off));
    expect(counts(on).every((n) => n > 0)).toBe(true);
  });

  it('refuses group:N to a missing group, and deleting a group deletes the flows using it (as ofproto does)', () => {
    const { br } = setup();
    expect(() => br.addFlows('actions=group:3')).toThrow(/OFPBAC_BAD_OUT_GROUP/);
    br.loadGroups('group_id=3,type=all,bucket=output:p2\ngroup_id=4,type=indirect,bucket=output:p3');
    br.addFlows('priority=5,actions=group:3\npriority=6,actions=group:4\npriority=7,actions=clone(group:3)');
    br.groupMod('delete', 'group_id=3');
    expect(br.flowStats().map((f) => f.actions)).toEqual(['group:4']);
  });

  it('a meter limits a flow in virtual time to its rate plus its burst', () => {
    const { sim, br, hosts, got } = setup();
    br.loadMeters('meter=1,pktps,burst,bands=type=drop,rate=100,burst_size=20');
    br.addFlows('in_port=p1,actions=meter:1,output:p2');
    // 1000 packets/s offered for 2 s against 100 packets/s.
    for (let i = 0; i < 2000; i++) sim.scheduleAt(i * 1_000_000, () => hosts[0]!.send(udp(i % 7), { hops: 0 }));
    sim.run();
    const passed = got.get('p2')!.length;
    expect(passed).toBeLessThanOrEqual(20 + 100 * 2);
    expect(passed).toBeGreaterThanOrEqual(100 * 2 - 1);
    expect(br.portByName('p1')!.counters.drops['meter']).toBe(2000 - passed);
  });
});

describe('add-groups and add-meters parsers', () => {
  it('refuse what ovs-ofctl refuses, with the place', () => {
    const bad: [string, RegExp][] = [
      ['type=all,bucket=output:1', /must specify a group_id/],
      ['group_id=1,bucket=output:1', /must specify a type/],
      ['group_id=1,type=fast,bucket=output:1', /invalid group type fast/],
      ['group_id=1,type=ff,bucket=output:1', /fast failover bucket requires watch_port or watch_group/],
      ['group_id=1,type=indirect,bucket=output:1,bucket=output:2', /at most one bucket/],
      ['group_id=1,type=all,bucket=weight:2,output:1', /Only select groups can have bucket weights/],
      ['group_id=1,type=select,fields(ip_src),bucket=output:1', /fields may only be specified with "selection_method=hash"/],
      ['group_id=1,type=all,bucket=weight:1', /bucket must specify actions/],
    ];
    for (const [text, re] of bad) {
      expect(() => parseGroups(`# c\n${text}`, { file: 'g.txt' }), text).toThrow(re);
      try {
        parseGroups(`# c\n${text}`, { file: 'g.txt' });
      } catch (e) {
        expect(e instanceof UserError && e.location?.file === 'g.txt' && e.location.line === 2).toBe(true);
      }
    }
    expect(() => parseMeters('meter=1,bands=type=drop,rate=5')).toThrow(/either 'kbps' or 'pktps'/);
    expect(() => parseMeters('meter=1,kbps,bands=type=drop,rate=5,burst_size=3')).toThrow(/burst_size' only when 'burst'/);
    expect(() => parseMeters('meter=1,kbps,bands=rate=5')).toThrow(/must start with the 'type'/);
    expect(() => parseMeters('meter=0,kbps,bands=type=drop,rate=5')).toThrow(/invalid value for meter/);
  });

  it('never throw anything but a UserError on random text', () => {
    const alphabet = fc.constantFrom(...'abcdeiklmnoprstuwy_0123456789,=:()->. '.split(''), 'group_id=', 'type=', 'select', 'bucket=', 'output:', 'weight:', 'watch_port:', 'meter=', 'kbps', 'band=', 'rate=', 'fields(', 'selection_method=hash');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 30 }), (parts) => {
        for (const parse of [parseGroups, parseMeters]) {
          try {
            parse(parts.join(''));
          } catch (e) {
            if (!(e instanceof UserError)) throw e;
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a group printed by dump-groups (OpenFlow 1.5) parses back to the same group', () => {
    const action = fc.constantFrom('output:1', 'output:2', 'mod_dl_src:00:00:00:00:00:0a', 'group:9', 'set_field:5->reg0', 'strip_vlan', 'dec_ttl');
    const bucket = fc.record({ weight: fc.integer({ min: 0, max: 500 }), watch: fc.integer({ min: 1, max: 60 }), actions: fc.array(action, { minLength: 1, maxLength: 3 }) });
    fc.assert(
      fc.property(fc.constantFrom('all', 'select', 'ff', 'indirect'), fc.integer({ min: 0, max: 0xffffff00 }), fc.array(bucket, { minLength: 1, maxLength: 4 }), fc.boolean(), (type, id, buckets, hash) => {
        const bs = type === 'indirect' ? buckets.slice(0, 1) : buckets;
        const props = type === 'select' && hash ? ',selection_method=hash,selection_method_param=3,fields(tcp_dst,ip_src=255.255.0.0)' : '';
        const text = `group_id=${id},type=${type}${props},${bs
          .map((b) => `bucket=${type === 'select' ? `weight:${b.weight},` : ''}${type === 'ff' ? `watch_port:${b.watch},` : ''}actions=${b.actions.join(',')}`)
          .join(',')}`;
        const g = parseGroups(text)[0]!;
        const printed = formatGroup(g, 15);
        const again = parseGroups(printed)[0]!;
        expect(formatGroup(again, 15)).toBe(printed);
        expect(again.buckets.map((b) => [b.id, b.weight, b.watchPort])).toEqual(g.buckets.map((b) => [b.id, b.weight, b.watchPort]));
        expect(again.fields).toEqual(g.fields);
      }),
      { numRuns: 300 },
    );
  });

  it('a meter printed by dump-meters parses back to the same meter', () => {
    const band = fc.record({ rate: fc.integer({ min: 1, max: 0xffffffff }), burst: fc.integer({ min: 1, max: 0xffffffff }) });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0xffff0000 }), fc.boolean(), fc.boolean(), fc.boolean(), fc.array(band, { minLength: 1, maxLength: 8 }), (id, kbps, burst, stats, bands) => {
        const text = `meter=${id},${kbps ? 'kbps' : 'pktps'}${burst ? ',burst' : ''}${stats ? ',stats' : ''},bands=${bands.map((b) => `type=drop,rate=${b.rate}${burst ? `,burst_size=${b.burst}` : ''}`).join(',')}`;
        const m = parseMeters(text)[0]!;
        const printed = formatMeter(m);
        expect(parseMeters(printed.replace(/\n/g, ' '))[0]).toEqual({ ...m, location: expect.anything() as unknown });
      }),
      { numRuns: 300 },
    );
  });

  it('a meter never passes more than its burst plus its rate over any span (token bucket bound)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 200 }), fc.array(fc.integer({ min: 0, max: 5_000_000 }), { minLength: 1, maxLength: 300 }), (rate, burst, gaps) => {
        const m = new Meter(parseMeters(`meter=1,pktps,burst,bands=type=drop,rate=${rate},burst_size=${burst}`)[0]!, 0);
        let t = 0;
        let passed = 0;
        for (const g of gaps) {
          t += g;
          if (m.admit(100, t)) passed++;
        }
        expect(passed).toBeLessThanOrEqual(burst + Math.ceil((rate * t) / 1e9) + 1);
      }),
      { numRuns: 200 },
    );
  });
});
