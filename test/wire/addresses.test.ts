import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import {
  BROADCAST_MAC,
  formatIpv4,
  formatIpv6,
  formatMac,
  ipv4InSubnet,
  ipv6MulticastMac,
  isMulticastMac,
  macToBytes,
  parseIpv4,
  parseIpv4Cidr,
  parseIpv6,
  parseIpv6Cidr,
  parseMac,
  readMac,
  solicitedNodeMulticast,
} from '../../src/wire/index.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('MAC addresses', () => {
  it('parse to 48-bit integers and format lowercase with colons', () => {
    expect(parseMac('02:00:00:00:00:01')).toBe(0x020000000001);
    expect(parseMac('FF-FF-FF-FF-FF-FF')).toBe(BROADCAST_MAC);
    expect(formatMac(0x0a0b0c0d0e0f)).toBe('0a:0b:0c:0d:0e:0f');
  });
  it('reject bad text with a UserError carrying a code and a hint', () => {
    for (const s of ['02:00:00:00:00', '02:00:00:00:00:001', 'zz:00:00:00:00:01', '']) {
      const e = thrown(() => parseMac(s));
      expect(e).toBeInstanceOf(UserError);
      expect((e as UserError).code).toBe('WIRE_BAD_MAC');
      expect((e as UserError).message).toContain(`"${s}"`);
    }
  });
  it('know multicast by the I/G bit', () => {
    expect(isMulticastMac(parseMac('01:00:5e:00:00:01'))).toBe(true);
    expect(isMulticastMac(BROADCAST_MAC)).toBe(true);
    expect(isMulticastMac(parseMac('02:00:00:00:00:01'))).toBe(false);
    expect(isMulticastMac(parseMac('fe:ff:ff:ff:ff:ff'))).toBe(false);
  });
  it('write and read six bytes at an offset', () => {
    const b = new Uint8Array(8);
    macToBytes(0xa1b2c3d4e5f6, b, 1);
    expect(Array.from(b)).toEqual([0, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0]);
    expect(readMac(b, 1)).toBe(0xa1b2c3d4e5f6);
  });
});

describe('IP addresses', () => {
  it('parse and format IPv4 as uint32', () => {
    expect(parseIpv4('10.0.0.1')).toBe(0x0a000001);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(formatIpv4(0xc0a80101)).toBe('192.168.1.1');
  });
  it('reject bad IPv4 text with a UserError', () => {
    for (const s of ['10.0.0', '10.0.0.256', '1.2.3.4.5', 'a.b.c.d', '10.0.0.1/24']) {
      expect((thrown(() => parseIpv4(s)) as UserError).code).toBe('WIRE_BAD_IPV4');
    }
  });
  it('parse CIDRs keeping the host address, and test subnet membership', () => {
    expect(parseIpv4Cidr('10.0.0.1/24')).toEqual({ address: 0x0a000001, prefixLength: 24 });
    expect((thrown(() => parseIpv4Cidr('10.0.0.1/33')) as UserError).code).toBe('WIRE_BAD_CIDR');
    expect((thrown(() => parseIpv4Cidr('10.0.0.1')) as UserError).code).toBe('WIRE_BAD_CIDR');
    expect(ipv4InSubnet(parseIpv4('10.0.0.200'), parseIpv4('10.0.0.1'), 24)).toBe(true);
    expect(ipv4InSubnet(parseIpv4('10.0.1.1'), parseIpv4('10.0.0.1'), 24)).toBe(false);
    expect(ipv4InSubnet(parseIpv4('1.2.3.4'), 0, 0)).toBe(true);
    expect(ipv4InSubnet(parseIpv4('10.0.0.1'), parseIpv4('10.0.0.1'), 32)).toBe(true);
  });
  it('parse IPv6 into four words and format RFC 5952 text', () => {
    expect(parseIpv6('fd00::1')).toEqual([0xfd000000, 0, 0, 1]);
    expect(parseIpv6('2001:db8::ff00:42:8329')).toEqual([0x20010db8, 0, 0x0000ff00, 0x00428329]);
    expect(formatIpv6([0x20010db8, 0, 0x0000ff00, 0x00428329])).toBe('2001:db8::ff00:42:8329');
    expect(formatIpv6([0x20010db8, 0x00000001, 0x00010001, 0x00010001])).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIpv6([0, 0, 0, 0])).toBe('::');
    expect(parseIpv6Cidr('fd00::1/64')).toEqual({ address: [0xfd000000, 0, 0, 1], prefixLength: 64 });
    expect((thrown(() => parseIpv6('fd00:::1')) as UserError).code).toBe('WIRE_BAD_IPV6');
  });
  it('derive solicited-node multicast addresses and their MACs', () => {
    const sn = solicitedNodeMulticast(parseIpv6('fd00::abcd:1234'));
    expect(formatIpv6(sn)).toBe('ff02::1:ffcd:1234');
    expect(formatMac(ipv6MulticastMac(sn))).toBe('33:33:ff:cd:12:34');
  });
});
