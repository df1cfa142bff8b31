/**
 * `qemu-img create -f qcow2 -o data_file=NAME[,data_file_raw=on][,preallocation=M]`
 * (qcow2.c qcow2_co_create_opts / qcow2_co_create): the data file is created (truncated to the
 * disk size) next to the metadata image, the image header names it. With data_file_raw, or any
 * preallocation, every cluster is mapped at its own guest offset (preallocate_co), so the raw file
 * is the disk; `full` also writes the data file's zeros, `falloc` its first 4 KiB
 * (file-posix allocate_first_block).
 */
import { UserError } from '../../errors.js';
import type { BlockBackend } from '../backend.js';
import type { BackendProvider } from '../chain.js';
import { createQcow2, type Qcow2CreateOptions } from './create.js';
import { dataFileName, preallocateDataFileMetadata } from './data-file.js';
import { fillZeros, type PreallocMode } from './prealloc.js';

/** The name checks of an opened image, applied before anything is created. */
export function checkCreateDataFile(image: string, dataFile: string, _prealloc: PreallocMode): void {
  if (dataFile === '') throw new UserError('QCOW2_BAD_OPTION', `${image}: data_file= needs a file name`, { where: '-o data_file' });
  try {
    dataFileName({ dataFile, dataFileAt: 0 } as Parameters<typeof dataFileName>[0], image);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    throw new UserError('QCOW2_BAD_OPTION', `${image}: data_file=${dataFile}: an absolute name or one with '..' is refused (vfab opens only data files below the current directory)`, { where: '-o data_file' });
  }
}

export function createWithDataFile(name: string, opts: Qcow2CreateOptions & { dataFile: string }, prealloc: PreallocMode, provider: BackendProvider): void {
  let data: BlockBackend | undefined;
  let backend: BlockBackend | undefined;
  try {
    data = provider.create(opts.dataFile);
    data.truncate(opts.size);
    if (prealloc === 'full') fillZeros(data, 0, opts.size);
    else if (prealloc === 'falloc') fillZeros(data, 0, Math.min(4096, opts.size));
    backend = provider.create(name);
    const img = createQcow2(backend, opts);
    const d = data;
    img.dataOpener = () => d;
    img.dataBackend.size(); // opened now, so closing the image closes it
    if (opts.dataFileRaw || prealloc !== 'off') preallocateDataFileMetadata(img, 0, opts.size);
    img.close(); // closes the data file too
  } catch (e) {
    backend?.close();
    data?.close();
    provider.remove?.(name);
    provider.remove?.(opts.dataFile);
    throw e;
  }
}
