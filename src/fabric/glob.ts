/**
 * Port path globs for `capture.ports`: `*` matches within one dotted segment (`hv1.br0.*` = the
 * ports of hv1's br0), `**` matches across segments (`hv1.**` = everything on hv1), `?` one
 * character. Anything else is literal.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^.]*';
    } else if (c === '?') re += '[^.]';
    else re += c.replace(/[\\^$+.()|{}[\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** A matcher for a capture selection: 'all', or a list of paths/globs. */
export function portSelector(sel: 'all' | readonly string[]): (path: string) => boolean {
  if (sel === 'all') return () => true;
  const exact = new Set(sel.filter((s) => !/[*?]/.test(s)));
  const globs = sel.filter((s) => /[*?]/.test(s)).map(globToRegExp);
  return (path) => exact.has(path) || globs.some((g) => g.test(path)) || [...exact].some((e) => path.startsWith(`${e}.`) && !path.slice(e.length + 1).includes('.'));
}
