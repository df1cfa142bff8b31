#!/usr/bin/env node
// Thin launcher: oclif finds the compiled commands in dist/commands.
import { execute } from '@oclif/core';

await execute({ dir: import.meta.url });
