/** IP protocol numbers (IANA "Assigned Internet Protocol Numbers"): branded, unknown values kept. */
export type IpProtocol = number & { readonly __brand: 'IpProtocol' };

export function ipProtocol(n: number): IpProtocol {
  return (n & 0xff) as IpProtocol;
}

export const IpProtocol = {
  HopByHop: 0 as IpProtocol,
  Icmp: 1 as IpProtocol,
  Tcp: 6 as IpProtocol,
  Udp: 17 as IpProtocol,
  Ipv6Route: 43 as IpProtocol,
  Ipv6Frag: 44 as IpProtocol,
  Icmpv6: 58 as IpProtocol,
  Ipv6NoNxt: 59 as IpProtocol,
  Ipv6Opts: 60 as IpProtocol,
} as const;
