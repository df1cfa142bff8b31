/**
 * Writing a report or diagram file, with the checks a user needs spelled out: the folder must
 * exist (we do not create folders silently: a typo would scatter files) and the path must not be
 * a folder. Both are `UserError`s naming the flag (exit 2).
 */
import { statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { errorMessage, UserError } from '../errors.js';

export function checkOutputPath(path: string, flag: string): void {
  const full = resolve(path);
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(full);
  } catch {
    st = undefined;
  }
  if (st?.isDirectory()) throw new UserError('REPORT_OUTPUT_IS_DIR', `${path} is a directory; give a file name such as ${path.replace(/\/$/, '')}/report.html`, { where: flag });
  let dir: ReturnType<typeof statSync> | undefined;
  try {
    dir = statSync(dirname(full));
  } catch {
    dir = undefined;
  }
  if (!dir?.isDirectory()) throw new UserError('REPORT_OUTPUT_NO_DIR', `the folder ${dirname(path)} does not exist (create it first)`, { where: flag });
}

export function writeOutput(path: string, text: string, flag: string): void {
  checkOutputPath(path, flag);
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new UserError('REPORT_WRITE', `cannot write ${path}: ${errorMessage(e)}`, { where: flag });
  }
}
