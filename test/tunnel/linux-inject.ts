/**
 * The python script both Linux VXLAN oracles (IPv4 and IPv6 underlay) use to push encapsulated
 * frames into the underlay peer and read what the kernel's vxlan device delivers, and the inner
 * frames their decapsulation cases send.
 */
import { buildUdp } from '../../src/wire/build.js';
import { finish, sumBytes } from '../../src/wire/checksum.js';

/**
 * The inner IPv4/UDP frame of decapsulation case (outer, inner): DSCP 46 with ECN `inner`, its
 * header checksum redone, and a UDP source port unique per case (the inject script matches on it).
 */
export function innerEcnFrame(outer: number, inner: number): Uint8Array {
  const f = buildUdp({ srcMac: 0x020000000102, dstMac: 0x020000000101, srcIp: 0x0a000002, dstIp: 0x0a000001, srcPort: 41000 + outer * 4 + inner, dstPort: 9999, payloadLen: 32 });
  f[15] = 0xb8 | inner;
  f[24] = 0;
  f[25] = 0;
  const c = finish(sumBytes(f, 14, 34));
  f[24] = c >>> 8;
  f[25] = c & 0xff;
  return f;
}

/**
 * Sends each argv frame (hex) into `underlayIf` and prints, per frame, what `vxlanIf` delivers
 * (the inner frame, matched by its UDP source port, which sits `outerLen` bytes in) or "drop".
 */
export function injectScript(underlayIf: string, vxlanIf: string, outerLen: number): string {
  return `
import socket, sys
tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
tx.bind(('${underlayIf}', 0))
rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
rx.bind(('${vxlanIf}', 0))
rx.settimeout(0.3)
for h in sys.argv[1:]:
    f = bytes.fromhex(h)
    sport = f[${outerLen} + 34:${outerLen} + 36]
    tx.send(f)
    got = 'drop'
    try:
        while True:
            g = rx.recv(65535)
            if g[12:14] == b'\\x08\\x00' and g[34:36] == sport:
                got = g.hex()
                break
    except socket.timeout:
        pass
    print(got)
`;
}
