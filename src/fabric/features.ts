/**
 * The fabric's features, in the order their hooks run within a build stage and their validation
 * errors are listed before sorting by position (`feature.ts` has the contract). A new subsystem
 * adds one line here.
 */
import type { FabricFeature } from './feature.js';
import { sriovFeature } from './sriov.js';
import { failoverFeature } from './failover.js';
import { migrationFeature } from './migration.js';
import { disksFeature } from './disks.js';
import { diskIoFeature } from './disk-io.js';
import { hostInterfacesFeature } from './host-interfaces.js';
import { blockMirrorFeature } from './block-mirror.js';
import { nbdFeature } from './nbd-disks.js';

export const FABRIC_FEATURES: readonly FabricFeature[] = [sriovFeature, failoverFeature, migrationFeature, disksFeature, nbdFeature, diskIoFeature, hostInterfacesFeature, blockMirrorFeature];

/** The feature owning scenario action `kind`, if any. */
export function featureForAction(kind: string): FabricFeature | undefined {
  return FABRIC_FEATURES.find((f) => f.actions?.[kind] !== undefined);
}
