import { describe, expect, it } from 'vitest';
import { UserError, UserErrors } from '../../src/errors.js';
import { loadTopologyText } from '../../src/topology/index.js';

/** Loads `text` and returns every rendered error (`file:line:col: message`). */
function errorsOf(text: string): string[] {
  try {
    loadTopologyText(text, 't.yaml');
  } catch (e) {
    if (e instanceof UserErrors) return e.errors.map((x) => x.render());
    if (e instanceof UserError) return [e.render()];
    throw e;
  }
  return [];
}

/** A valid base; tests edit one line of it. Line numbers below refer to this layout. */
const base = (over: Record<string, string> = {}) => {
  const lines = {
    l1: 'hosts:',
    l2: '  hv1:',
    l3: '    bridges:',
    l4: '      br0:',
    l5: '        ports:',
    l6: '          uplink: { trunks: [10, 20] }',
    l7: 'switches:',
    l8: '  tor:',
    l9: '    ports: { p1: {} }',
    l10: 'links:',
    l11: '  - { a: hv1.br0.uplink, b: tor.p1, bandwidth: 10Gbit, delay: 20us }',
    l12: 'vms:',
    l13: '  vm1:',
    l14: '    host: hv1',
    l15: '    interfaces:',
    l16: '      eth0: { bridge: br0, tag: 10, mac: "02:00:00:00:00:01", ipv4: 10.0.0.1/24 }',
    l17: '  vm2:',
    l18: '    host: hv1',
    l19: '    interfaces:',
    l20: '      eth0: { bridge: br0, tag: 10, mac: "02:00:00:00:00:02", ipv4: 10.0.0.2/24 }',
    l21: 'scenario:',
    l22: '  - { at: 1s, ping: { from: vm1, to: vm2, count: 2, interval: 100ms } }',
    ...over,
  };
  return Object.values(lines).join('\n') + '\n';
};

describe('topology errors point at file:line:col', () => {
  it('accepts the base topology', () => {
    expect(errorsOf(base())).toEqual([]);
  });

  it('reports an unknown key at the key, with a did-you-mean', () => {
    expect(errorsOf(base({ l14: '    hots: hv1' }))).toEqual([
      't.yaml:14:5: unknown key "hots"; did you mean "host"?',
      't.yaml:14:5: missing required field "host"',
    ].sort());
  });

  it('reports an unknown key inside a flow mapping at its column', () => {
    expect(errorsOf(base({ l11: '  - { a: hv1.br0.uplink, b: tor.p1, bandwith: 10Gbit }' }))).toEqual([
      't.yaml:11:37: unknown key "bandwith"; did you mean "bandwidth"?',
    ]);
  });

  it('reports a wrong type at the value', () => {
    expect(errorsOf(base({ l14: '    host: [hv1]' }))).toEqual(['t.yaml:14:11: "host": expected string, got a list']);
  });

  it('reports a misspelt unit ("10Gbt") at the value', () => {
    const errs = errorsOf(base({ l11: '  - { a: hv1.br0.uplink, b: tor.p1, bandwidth: 10Gbt }' }));
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^t\.yaml:11:48: "bandwidth": .*bit rate/);
  });

  it('reports a duration without a unit ("20") at the value', () => {
    const errs = errorsOf(base({ l11: '  - { a: hv1.br0.uplink, b: tor.p1, delay: 20 }' }));
    expect(errs).toEqual(['t.yaml:11:44: "delay": duration 20 needs a unit (ns, us, ms, s, m, h), e.g. "20ms"']);
  });

  it('reports a link to a port that does not exist, with a did-you-mean', () => {
    expect(errorsOf(base({ l11: '  - { a: hv1.br0.uplnk, b: tor.p1 }' }))).toEqual([
      't.yaml:11:10: unknown port "hv1.br0.uplnk"; did you mean "hv1.br0.uplink"?',
    ]);
  });

  it('reports a VM on an unknown host', () => {
    expect(errorsOf(base({ l18: '    host: hv9' }))).toEqual(['t.yaml:18:11: unknown host "hv9"; did you mean "hv1"?']);
  });

  it('reports an interface on an unknown bridge', () => {
    expect(errorsOf(base({ l20: '      eth0: { bridge: br1, mac: "02:00:00:00:00:02", ipv4: 10.0.0.2/24 }' }))).toEqual([
      't.yaml:20:23: unknown bridge "br1" on host hv1; did you mean "br0"?',
    ]);
  });

  it('reports a duplicate MAC at the second use, naming the first', () => {
    expect(errorsOf(base({ l20: '      eth0: { bridge: br0, mac: "02:00:00:00:00:01", ipv4: 10.0.0.2/24 }' }))).toEqual([
      't.yaml:20:33: MAC 02:00:00:00:00:01 is already used at line 16',
    ]);
  });

  it('reports a duplicate IPv4 address at the second use in the same L2 segment (bridge and VLAN)', () => {
    expect(errorsOf(base({ l20: '      eth0: { bridge: br0, tag: 10, mac: "02:00:00:00:00:02", ipv4: 10.0.0.1/24 }' }))).toEqual([
      't.yaml:20:69: IPv4 address 10.0.0.1 is already used at line 16 (vm1.eth0) in the same L2 segment; tenants that reuse addresses need separate bridges, VLANs or VNIs',
    ]);
  });

  it('accepts the same IPv4 address in another VLAN of the same bridge (another L2 segment)', () => {
    expect(errorsOf(base({ l20: '      eth0: { bridge: br0, tag: 20, mac: "02:00:00:00:00:02", ipv4: 10.0.0.1/24 }' }))).toEqual([]);
  });

  it('reports VLAN 4095 as outside 1-4094', () => {
    expect(errorsOf(base({ l16: '      eth0: { bridge: br0, tag: 4095, mac: "02:00:00:00:00:01", ipv4: 10.0.0.1/24 }' }))).toEqual([
      't.yaml:16:33: "tag": VLAN 4095 is outside 1-4094',
    ]);
  });

  it('reports VLAN 0 in a trunk list at the list item', () => {
    expect(errorsOf(base({ l6: '          uplink: { trunks: [10, 0] }' }))).toEqual(['t.yaml:6:34: "1": VLAN 0 is outside 1-4094']);
  });

  it('reports a multicast MAC on a NIC', () => {
    expect(errorsOf(base({ l16: '      eth0: { bridge: br0, mac: "01:00:5e:00:00:01", ipv4: 10.0.0.1/24 }' }))).toEqual([
      't.yaml:16:33: 01:00:5e:00:00:01 is a multicast MAC (the I/G bit of the first octet is set); a NIC needs a unicast MAC such as 02:…',
    ]);
  });

  it('reports a malformed MAC', () => {
    expect(errorsOf(base({ l16: '      eth0: { bridge: br0, mac: "02:00:00:00:01", ipv4: 10.0.0.1/24 }' }))).toEqual([
      't.yaml:16:33: "mac": "02:00:00:00:01" is not a MAC address; write six hex octets, e.g. "02:00:00:00:00:01"',
    ]);
  });

  it('reports a YAML syntax error at its position', () => {
    const errs = errorsOf(base({ l14: '    host: [hv1' }));
    expect(errs[0]).toMatch(/^t\.yaml:1[45]:\d+: /);
  });

  it('reports a duplicate key', () => {
    const errs = errorsOf(base({ l14: '    host: hv1\n    host: hv1' }));
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^t\.yaml:15:5: Map keys must be unique/);
  });

  it('reports a second link on the same port', () => {
    const text = base({ l11: '  - { a: hv1.br0.uplink, b: tor.p1 }\n  - { a: hv1.br0.uplink, b: tor.p1 }' });
    expect(errorsOf(text)).toEqual([
      't.yaml:12:10: port "hv1.br0.uplink" already has a link (line 11); a port takes one link',
      't.yaml:12:29: port "tor.p1" already has a link (line 11); a port takes one link',
    ]);
  });

  it('reports a link to a VM interface that is plugged into a bridge', () => {
    expect(errorsOf(base({ l11: '  - { a: vm1.eth0, b: tor.p1 }' }))).toEqual([
      't.yaml:11:10: port "vm1.eth0" cannot take a link: it is a VM interface plugged into a bridge (remove its "bridge" to cable it)',
    ]);
  });

  it('reports duplicate port paths (a bridge port named like a VM tap)', () => {
    expect(errorsOf(base({ l6: '          vm1-eth0: {}\n          uplink: {}' }))).toEqual([
      't.yaml:17:7: port path "hv1.br0.vm1-eth0" is already declared at line 6',
    ]);
  });

  it('reports a name used by both a host and a VM', () => {
    expect(errorsOf(base({ l17: '  hv1:', l22: '  - { at: 1s, ping: { from: vm1, to: 10.0.0.2 } }' }))).toEqual([
      't.yaml:17:3: VM name "hv1" is already used at line 2 (hosts, switches and VMs share one namespace)',
    ]);
  });

  it('reports a dotted name', () => {
    expect(errorsOf(base({ l8: '  tor.a:', l11: '  - { a: hv1.br0.uplink, b: tor.a.p1 }' }))).toEqual([
      't.yaml:8:3: switch name "tor.a" must start with a letter or _ and use only letters, digits, _ and - (dots separate port paths)',
    ]);
  });

  it('reports a scenario step with two actions', () => {
    expect(errorsOf(base({ l22: '  - { at: 1s, link_down: tor.p1, link_up: tor.p1 }' }))).toEqual([
      't.yaml:22:5: a scenario step takes one action, this one has link_down and link_up; split it into two steps at the same time',
    ]);
  });

  it('reports a ping from an unknown VM and to an unknown destination', () => {
    expect(errorsOf(base({ l22: '  - { at: 1s, ping: { from: vm9, to: vm7 } }' }))).toEqual([
      't.yaml:22:29: unknown VM "vm9"; did you mean "vm1"?',
      't.yaml:22:38: unknown destination "vm7" (write an IPv4 address, a VM name or vm.interface); did you mean "vm1"?',
    ]);
  });

  it('reports tag together with trunks on an access port', () => {
    expect(errorsOf(base({ l6: '          uplink: { tag: 10, trunks: [10, 20] }' }))).toEqual([
      't.yaml:6:38: an access port carries one VLAN; "trunks" needs vlan_mode trunk, native-tagged or native-untagged',
    ]);
  });

  it('reports all errors of a file in one pass, sorted by position', () => {
    const errs = errorsOf(base({ l14: '    host: hv9', l18: '    host: hv8' }));
    expect(errs.map((e) => e.split(':').slice(0, 3).join(':'))).toEqual(['t.yaml:14:11', 't.yaml:18:11']);
  });
});
