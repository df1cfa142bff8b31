/** A generated topology with `n` VMs: 20 per host, host uplinks spread over 4 switches, two tenants. */
export function bigTopology(n: number): string {
  const per = 20;
  const hosts = Math.ceil(n / per);
  const out: string[] = [`name: big${n}`, 'hosts:'];
  for (let h = 0; h < hosts; h++) out.push(`  hv${h}: { bridges: { br0: { ports: { uplink: { trunks: [10, 20] } } } } }`);
  out.push('switches:');
  for (let s = 0; s < 4; s++) {
    out.push(`  sw${s}:`, '    ports:');
    for (let h = s; h < hosts; h += 4) out.push(`      p${h}: { trunks: [10, 20] }`);
  }
  out.push('links:');
  for (let h = 0; h < hosts; h++) out.push(`  - { a: hv${h}.br0.uplink, b: sw${h % 4}.p${h}, bandwidth: 25Gbit, delay: 5us }`);
  out.push('vms:');
  for (let i = 0; i < n; i++) out.push(`  vm${i}: { host: hv${Math.floor(i / per)}, interfaces: { eth0: { bridge: br0, tag: ${i % 2 ? 20 : 10} } } }`);
  return `${out.join('\n')}\n`;
}
