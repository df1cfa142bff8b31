import { describe, expect, it } from 'vitest';
import { FailoverNic } from '../../src/migration/failover.js';
import type { GuestNic } from '../../src/port/nic.js';
import { Port, type Frame } from '../../src/port/port.js';
import { UserError } from '../../src/errors.js';

const MAC = 0x020000000001;

function nic(path: string, mac = MAC) {
  let rx: ((f: Frame) => void) | null = null;
  const ann: Array<() => void> = [];
  const sent: Frame[] = [];
  const n = {
    path,
    mac,
    mtu: 1500,
    port: new Port(path, () => {}),
    linkUp: true as boolean,
    transmit: (f: Frame) => (sent.push(f), true),
    setReceiver: (r: (f: Frame) => void) => (rx = r),
    onAnnounceRequest: (cb: () => void) => ann.push(cb),
  } satisfies GuestNic;
  return { n, sent, deliver: (f: Frame) => rx?.(f), announce: () => ann.forEach((c) => c()) };
}

describe('FailoverNic (net_failover)', () => {
  it('sends through the primary VF while plugged and up, else through the virtio standby', () => {
    const sb = nic('vm1.eth0');
    const vf = nic('vm1.eth1');
    const fo = new FailoverNic('vm1.eth1', sb.n, vf.n);
    const f = new Uint8Array(60);
    fo.transmit(f);
    expect([vf.sent.length, sb.sent.length]).toEqual([1, 0]);
    expect(fo.port).toBe(vf.n.port);
    vf.n.linkUp = false; // carrier lost: net_failover_xmit_ready fails
    fo.transmit(f);
    expect([vf.sent.length, sb.sent.length]).toEqual([1, 1]);
    vf.n.linkUp = true;
    expect(fo.unplugPrimary()).toBe(vf.n);
    fo.transmit(f);
    expect([vf.sent.length, sb.sent.length]).toEqual([1, 2]);
    expect(fo.active).toBe(sb.n);
    expect(fo.log).toEqual(['primary vm1.eth1 plugged', 'primary vm1.eth1 unplugged, standby vm1.eth0 active']);
  });

  it('receives from the primary while one is plugged (standby frames stay on the standby, RX_HANDLER_EXACT), else from the standby', () => {
    const sb = nic('vm1.eth0');
    const vf = nic('vm1.eth1');
    const fo = new FailoverNic('vm1.eth1', sb.n, vf.n);
    const got: string[] = [];
    fo.setReceiver((f) => got.push(String(f[0])));
    vf.deliver(new Uint8Array([1]));
    sb.deliver(new Uint8Array([2]));
    fo.unplugPrimary();
    vf.deliver(new Uint8Array([3]));
    sb.deliver(new Uint8Array([5]));
    const vf2 = nic('vm1.eth1@hv2');
    fo.plugPrimary(vf2.n);
    vf2.deliver(new Uint8Array([4]));
    sb.deliver(new Uint8Array([6]));
    expect(got).toEqual(['1', '5', '4']);
    expect(fo.standbyRxIgnored).toBe(2);
    expect(fo.active).toBe(vf2.n);
  });

  it('refuses a primary with another MAC, as net_failover does', () => {
    const fo = new FailoverNic('vm1.eth1', nic('vm1.eth0').n);
    expect(() => fo.plugPrimary(nic('vm1.eth1', MAC + 1).n)).toThrow(UserError);
    expect(() => fo.plugPrimary(nic('vm1.eth1', MAC + 1).n)).toThrow(/must carry the standby's MAC 02:00:00:00:00:01/);
  });

  it('drops when no slave has carrier, and passes the standby’s announce requests on', () => {
    const sb = nic('vm1.eth0');
    const fo = new FailoverNic('vm1.eth1', sb.n);
    let asked = 0;
    fo.onAnnounceRequest(() => asked++);
    sb.announce();
    expect(asked).toBe(1);
    sb.n.linkUp = false;
    expect(fo.transmit(new Uint8Array(60))).toBe(false);
    expect(fo.txDrops).toBe(1);
    expect(fo.linkUp).toBe(false);
  });
});
