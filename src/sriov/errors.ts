/**
 * SR-IOV configuration errors. Each carries the errno the kernel or the PF driver would return for
 * the same request, so a message reads like what `echo N > sriov_numvfs`, `ip link set … vf` or
 * `devlink` would say, plus the reason in plain words.
 */
import { UserError, type UserErrorOptions } from '../errors.js';

export type Errno = 'ERANGE' | 'EBUSY' | 'EINVAL' | 'EPERM' | 'EOPNOTSUPP' | 'EPROTONOSUPPORT' | 'ENOSPC';

const STRERROR: Record<Errno, string> = {
  ERANGE: 'Numerical result out of range',
  EBUSY: 'Device or resource busy',
  EINVAL: 'Invalid argument',
  EPERM: 'Operation not permitted',
  EOPNOTSUPP: 'Operation not supported',
  EPROTONOSUPPORT: 'Protocol not supported',
  ENOSPC: 'No space left on device',
};

export type SriovErrorCode =
  | 'SRIOV_NUMVFS_RANGE'
  | 'SRIOV_NUMVFS_BUSY'
  | 'SRIOV_VFS_ASSIGNED'
  | 'SRIOV_TOTAL_VFS'
  | 'SRIOV_VF_INDEX'
  | 'SRIOV_BAD_MAC'
  | 'SRIOV_BAD_VLAN'
  | 'SRIOV_BAD_QOS'
  | 'SRIOV_QOS_NEEDS_VLAN'
  | 'SRIOV_PROTO_NEEDS_VLAN'
  | 'SRIOV_PROTO_UNSUPPORTED'
  | 'SRIOV_BAD_RATE'
  | 'SRIOV_BAD_STATE'
  | 'SRIOV_MIN_ABOVE_MAX'
  | 'SRIOV_MIN_RATE_UNSUPPORTED'
  | 'SRIOV_RATE_ABOVE_LINK'
  | 'SRIOV_LEGACY_ONLY'
  | 'SRIOV_SWITCHDEV_UNSUPPORTED'
  | 'SRIOV_VEPA_UNSUPPORTED'
  | 'SRIOV_VF_ASSIGNED_TWICE';

export class SriovError extends UserError {
  constructor(
    code: SriovErrorCode,
    readonly errno: Errno,
    message: string,
    opts: UserErrorOptions = {},
  ) {
    super(code, `${message} (${errno}: ${STRERROR[errno]})`, opts);
  }
}

/** A problem found by a pure check, before it becomes an error: which knob, what is wrong. */
export interface KnobProblem {
  code: SriovErrorCode;
  errno: Errno;
  /** The topology/ip-link knob at fault (`vlan`, `qos`, `min_tx_rate`, …). */
  field: string;
  message: string;
}

export function problemToError(p: KnobProblem, opts: UserErrorOptions = {}): SriovError {
  return new SriovError(p.code, p.errno, p.message, opts);
}
