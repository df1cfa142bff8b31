#!/usr/bin/env node
/**
 * Writes oclif.manifest.json (what `oclif manifest` writes, without the oclif CLI's dependencies):
 * every command's id, flags, args and summary, so `vfab <cmd>` imports only that command's file
 * and `vfab --version` / `--help` import none. Run by `npm run build` after tsc; the file is
 * generated, not committed (it would go stale with any flag change).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Plugin } from '@oclif/core';

// Importing every command here must not leave a code cache of module loading alone behind: the
// first real run of each command writes one that holds what the command compiled while it ran.
process.env.VFAB_NO_COMPILE_CACHE = '1';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const plugin = new Plugin({ root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true });
await plugin.load();
writeFileSync(join(root, 'oclif.manifest.json'), `${JSON.stringify(plugin.manifest, null, 2)}\n`);
