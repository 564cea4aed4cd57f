/** `igvm build MANIFEST -o OUT`: build an IGVM file from a JSON manifest, written atomically. */
import { buildFromManifest } from '../../build/manifest-build.js';
import { ManifestError } from '../../build/manifest.js';
import { IgvmFormatError } from '../../format/index.js';
import { CliError, ExitCode, usageError } from '../exit.js';
import { writeOutput } from './common.js';

export interface BuildOptions {
  readonly output?: string;
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

export async function buildCommand(manifest: string, options: BuildOptions): Promise<number> {
  if (!options.output) throw usageError('igvm build needs -o OUT.igvm');
  let result;
  try {
    result = await buildFromManifest(manifest);
  } catch (e) {
    if (e instanceof ManifestError || e instanceof IgvmFormatError) throw new CliError(e.message, ExitCode.INVALID);
    throw e;
  }
  await writeOutput(options.output, result.bytes);
  const s = result.summary;
  const parts = [`${s.pages} page${s.pages === 1 ? '' : 's'}`];
  if (s.preset) parts.push(`${s.preset} entry at ${hex(s.entry ?? 0n)}`);
  if (s.pageTables) parts.push(`page tables at ${hex(s.pageTables.gpa)} (+${hex(s.pageTables.size)})`);
  if (s.gdt !== undefined) parts.push(`GDT at ${hex(s.gdt)}`);
  process.stdout.write(`wrote ${options.output} (${result.bytes.length} bytes): ${parts.join(', ')}\n`);
  return ExitCode.OK;
}
