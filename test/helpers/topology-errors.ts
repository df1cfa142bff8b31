import { UserError, UserErrors } from '../../src/errors.js';
import { checkTopology } from '../../src/fabric/index.js';
import { loadTopologyText } from '../../src/topology/index.js';

/** The first line of each located error `checkTopology` reports for a topology text ([] when it is valid). */
export function topologyErrors(text: string, file = 't.yaml'): string[] {
  try {
    checkTopology(loadTopologyText(text, file));
    return [];
  } catch (e) {
    if (!(e instanceof UserErrors) && !(e instanceof UserError)) throw e;
    const list: UserError[] = e instanceof UserErrors ? e.errors : [e];
    return list.map((x) => x.render().split('\n')[0]!);
  }
}
