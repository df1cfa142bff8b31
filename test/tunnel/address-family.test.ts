/**
 * Tunnel endpoints of mixed address families are refused at the place they are written, as OVS
 * refuses them (lib/netdev-vport.c set_tunnel_config: "'remote_ip' and 'local_ip' has to be of
 * the same address family"): an IPv6 remote_ip on a host whose underlay is IPv4 only is such a mix.
 */
import { expect, it } from 'vitest';
import { rendered, vxlanPair } from './helpers.js';

const PING = '  - { at: 0s, ping: { from: vm1, to: vm2 } }';

it('refuses an IPv6 remote_ip over an IPv4 underlay with a located address-family error', () => {
  const text = vxlanPair({ extra: PING }).replace('remote_ip: 198.51.100.12', 'remote_ip: "2001:db8::12"');
  expect(text).toContain('2001:db8::12');
  const r = rendered(text);
  // hv1's vx0 is on line 5 of the generated file
  expect(r).toMatch(/^t\.yaml:5:\d+: hv1\.br0\.vx0: remote_ip 2001:db8::12 is IPv6, but hv1\.underlay has no IPv6 address: .*one address family/);
});

it('refuses malformed IPv6 text at remote_ip', () => {
  const r = rendered(vxlanPair({ extra: PING }).replace('remote_ip: 198.51.100.12', 'remote_ip: "2001:db8:::12"'));
  expect(r).toMatch(/^t\.yaml:5:\d+: "2001:db8:::12" is not an IPv6 address/);
});

it('still names a malformed IPv4 remote_ip as such, and accepts flow and IPv4', () => {
  expect(rendered(vxlanPair({ extra: PING }).replace('remote_ip: 198.51.100.12', 'remote_ip: 198.51.100'))).toMatch(/t\.yaml:5:\d+: "remote_ip": "198.51.100" is not an IPv4 address/);
  expect(rendered(vxlanPair({ extra: PING }))).toBe('');
  expect(rendered(vxlanPair({ extra: PING }).replace('remote_ip: 198.51.100.12', 'remote_ip: flow'))).toBe('');
});
