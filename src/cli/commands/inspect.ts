/** `igvm inspect FILE`: a readable tree (or JSON) of everything in an IGVM file. */
import { parseIgvmLazy, type PlatformTypeName } from '../../format/index.js';
import { ExitCode, usageError } from '../exit.js';
import { streamWriter } from '../output.js';
import { renderJson } from '../render/json.js';
import { renderText } from '../render/text.js';
import { buildReport } from '../report.js';
import { PLATFORM_OPTION, withInput } from './common.js';

export interface InspectOptions {
  readonly json?: boolean;
  /** A key of PLATFORM_OPTION (native, snp, tdx, vbs, sev, sev-es, cca). */
  readonly platform?: string;
  readonly data?: boolean;
  readonly lenient?: boolean;
}

export async function inspectCommand(file: string, options: InspectOptions, stdout: NodeJS.WritableStream = process.stdout): Promise<number> {
  let platform: PlatformTypeName | undefined;
  if (options.platform !== undefined) {
    platform = PLATFORM_OPTION[options.platform];
    if (!platform) throw usageError(`unknown platform '${options.platform}' (choose from ${Object.keys(PLATFORM_OPTION).join(', ')})`);
  }
  return withInput(file, async (source) => {
    const parsed = await parseIgvmLazy(source, { lenient: options.lenient === true, platform });
    const head = await source.read(0, Math.min(32, source.size));
    const report = buildReport({ path: file, parsed, head, platformFilter: platform });
    const out = streamWriter(stdout);
    if (options.json) await renderJson(report, out, { data: options.data === true });
    else await renderText(report, out, { data: options.data === true });
    await out.flush();
    return ExitCode.OK;
  });
}
