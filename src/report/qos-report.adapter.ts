/**
 * File-system side of the QoS report: hashes the QoS file as read and loads the topology it names
 * (relative to it) for the diagram. A topology that does not load leaves the diagram out.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { QosEngine } from '../qos/engine.js';
import type { QosFile } from '../qos/file.js';
import type { QosResult } from '../qos/run.js';
import { qosLimitLines } from '../qos/svg.js';
import { loadTopology } from '../topology/load.js';
import { loadAssets } from './assets.adapter.js';
import { diagram } from './graph.js';
import { renderQosReport } from './qos-report.js';

export async function buildQosReport(qos: QosFile, engine: QosEngine, result: QosResult, command: string): Promise<string> {
  const sha = createHash('sha256').update(readFileSync(qos.file)).digest('hex');
  let d;
  if (qos.topology !== undefined) {
    const path = isAbsolute(qos.topology) ? qos.topology : join(dirname(qos.file), qos.topology);
    try {
      d = await diagram(loadTopology(path));
    } catch {
      d = undefined;
    }
  }
  return renderQosReport({
    file: qos.file,
    fileSha256: sha,
    command,
    result,
    limits: qosLimitLines(engine),
    expectations: qos.expectations.map((e) => e.exp),
    assets: loadAssets(),
    ...(d ? { diagram: d } : {}),
  });
}
