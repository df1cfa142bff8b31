/**
 * `qemu-img amend -o` for qcow2 (block/qcow2.c qcow2_amend_options, QEMU 7.2): compat (upgrade
 * 0.10 → 1.1; a downgrade is refused, vfab does not rewrite zero clusters), lazy_refcounts
 * (the compatible feature bit; vfab keeps refcounts up to date either way, which the bit allows)
 * and refcount_bits (any width QEMU takes: 1..64 bits, 16 only at compat=0.10; the table and
 * blocks are rebuilt by qcow2/refcount-order.ts). Every option is checked before anything is
 * written; each step (the refcount rebuild, then the other header fields) ends in one header
 * write, so a failure or a crash leaves either the old image or a complete new one.
 */
import { UserError } from '../errors.js';
import { Chain, type BackendProvider } from './chain.js';
import { FileProvider } from './file-backend.adapter.js';
import { AUTOCLEAR_DATA_FILE_RAW, COMPAT_LAZY_REFCOUNTS, INCOMPAT_DATA_FILE } from './qcow2/header.js';
import { checkCreateDataFile } from './qcow2/data-file-create.js';
import { changeRefcountOrder, refcountOrderOf } from './qcow2/refcount-order.js';
import { qemuNumberOption } from './cli-args.js';
import { Qcow2Image } from './qcow2/image.js';

/** Options qemu-img accepts only when creating (qcow2_amend_options: "only supported for image creation"). */
const CREATE_ONLY = new Set(['cluster_size', 'preallocation', 'encryption', 'extended_l2', 'compression_type']);

let provider: BackendProvider | undefined;
function files(): BackendProvider {
  return (provider ??= new FileProvider());
}

export function amendImage(file: string, options: Map<string, string>, opts: { format?: 'qcow2' | 'raw' } = {}, p: BackendProvider = files()): void {
  if (options.size === 0) throw new UserError('CLI_BAD_FLAG', 'Must specify options (-o)', { where: '-o' });
  for (const k of options.keys()) {
    if (CREATE_ONLY.has(k)) throw new UserError('CLI_BAD_OPTION', `Invalid parameter '${k}'\nThis option is only supported for image creation`, { where: `-o ${k}` });
    if (!['compat', 'lazy_refcounts', 'refcount_bits', 'size', 'backing_file', 'backing_fmt', 'data_file', 'data_file_raw'].includes(k)) throw new UserError('CLI_BAD_OPTION', `Invalid parameter '${k}'`, { where: `-o ${k}` });
    if (k === 'size' || k === 'backing_file' || k === 'backing_fmt') {
      throw new UserError('CLI_UNSUPPORTED', `vfab: amend -o ${k} is not supported (use disk resize / disk rebase -u)`, { where: `-o ${k}` });
    }
  }
  const lazy = options.get('lazy_refcounts');
  if (lazy !== undefined && lazy !== 'on' && lazy !== 'off') throw new UserError('CLI_BAD_OPTION', "Parameter 'lazy_refcounts' expects 'on' or 'off'", { where: '-o lazy_refcounts' });
  // qemu-img parses number options before the driver sees any (qemu_opts_do_parse), then
  // qcow2_amend_options checks the width itself.
  const rbText = options.get('refcount_bits');
  const newOrder = rbText === undefined ? undefined : refcountOrderOf(qemuNumberOption('refcount_bits', rbText));
  const compat = options.get('compat');
  if (compat !== undefined && !['0.10', 'v2', '1.1', 'v3'].includes(compat)) throw new UserError('CLI_BAD_OPTION', `Invalid compatibility level: '${compat}'`, { where: '-o compat' });
  const c = Chain.open(p, file, { noBacking: true, ...(opts.format ? { format: opts.format } : {}) });
  try {
    const img = c.layers[0];
    if (!(img instanceof Qcow2Image)) throw new UserError('BLOCK_BAD_FORMAT', `Format driver '${c.format}' does not support option amendment`, { where: file });
    const h = img.header;
    let version = h.version;
    if (compat === '1.1' || compat === 'v3') version = 3;
    const downgrade = (compat === '0.10' || compat === 'v2') && h.version === 3;
    const targetVersion = downgrade ? 2 : version;
    // qcow2_amend_options: a width other than 16 needs version 3 in the end; a downgrade of an
    // image already at another width is refused by qcow2_downgrade.
    if (newOrder !== undefined && newOrder !== h.refcountOrder && newOrder !== 4 && targetVersion < 3) {
      throw new UserError('QCOW2_BAD_OPTION', 'Refcount widths other than 16 bits require compatibility level 1.1 or above (use compat=1.1 or greater)', { where: '-o refcount_bits' });
    }
    if (downgrade) {
      // block/qcow2.c qcow2_downgrade: QEMU refuses these itself, in this order, with these words.
      if (h.incompatibleFeatures & INCOMPAT_DATA_FILE) {
        throw new UserError('QCOW2_BAD_OPTION', 'Cannot downgrade an image with a data file', { where: '-o compat' });
      }
      if ((newOrder ?? h.refcountOrder) !== 4) throw new UserError('QCOW2_BAD_OPTION', 'compat=0.10 requires refcount_bits=16', { where: '-o compat' });
      const incompat = h.incompatibleFeatures & ~1; // the dirty bit is cleared by marking the image clean
      if (incompat !== 0) {
        throw new UserError('QCOW2_BAD_OPTION', `Cannot downgrade an image with incompatible features 0x${incompat.toString(16)} set`, { where: '-o compat' });
      }
      throw new UserError('CLI_UNSUPPORTED', 'vfab: downgrading to compat=0.10 is not supported (qemu-img amend does it)', { where: '-o compat' });
    }
    if (lazy === 'on' && version < 3) {
      throw new UserError('CLI_BAD_OPTION', 'Lazy refcounts only supported with compatibility level 1.1 and above (use compat=1.1 or greater)', { where: '-o lazy_refcounts' });
    }
    // qcow2_amend_options: a data file can be renamed (or its name dropped with data_file=) only on
    // an image that has one; data_file_raw can be cleared, not set.
    const df = options.get('data_file');
    if (df !== undefined && !img.hasDataFile) throw new UserError('CLI_BAD_OPTION', 'data-file can only be set for images that use an external data file', { where: '-o data_file' });
    if (df) checkCreateDataFile(file, df, 'off');
    const dfr = options.get('data_file_raw');
    if (dfr !== undefined && dfr !== 'on' && dfr !== 'off') throw new UserError('CLI_BAD_OPTION', "Parameter 'data_file_raw' expects 'on' or 'off'", { where: '-o data_file_raw' });
    if (dfr === 'on' && !img.dataRaw) throw new UserError('CLI_BAD_OPTION', 'data-file-raw cannot be set on existing images', { where: '-o data_file_raw' });
    const autoclear = dfr === 'off' ? h.autoclearFeatures & ~AUTOCLEAR_DATA_FILE_RAW : h.autoclearFeatures;
    const dataFile = df === undefined ? h.dataFile : df === '' ? undefined : df;
    // Everything is checked: QEMU's order from here (upgrade, refcount width, data file, lazy
    // refcounts). The rebuild switches the header once; an upgrade rides on that same write.
    if (newOrder !== undefined && newOrder !== h.refcountOrder) {
      changeRefcountOrder(img, newOrder, version);
    }
    if (autoclear !== h.autoclearFeatures || dataFile !== h.dataFile) {
      h.autoclearFeatures = autoclear;
      h.dataFile = dataFile;
      img.writeHeader();
    }
    let compatible = h.compatibleFeatures;
    if (lazy === 'on') compatible |= COMPAT_LAZY_REFCOUNTS;
    if (lazy === 'off') compatible &= ~COMPAT_LAZY_REFCOUNTS;
    if (version === h.version && compatible === h.compatibleFeatures) return;
    h.version = version;
    h.compatibleFeatures = compatible;
    img.writeHeader();
    img.flush();
  } finally {
    c.close();
  }
}
