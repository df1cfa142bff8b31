/**
 * The python script both Linux VXLAN oracles (IPv4 and IPv6 underlay) use to push encapsulated
 * frames into the underlay peer and read what the kernel's vxlan device delivers.
 */

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
