#!/usr/bin/env node
/**
 * The `igvm` command line: commander wiring only. Each command's module is imported inside its action,
 * so a command loads only what it uses (`run` must start fast).
 *
 * Exit codes: 0 success; 1 invalid IGVM input; 2 usage error or unreadable file; 70 internal error.
 * Every failure is one line on stderr, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ExitCode, oneLine, reportError } from './exit.js';

/** Keep in sync with PLATFORM_OPTION in commands/common.ts (not imported here, to keep startup light). */
const PLATFORM_CHOICES = ['native', 'snp', 'tdx', 'vbs', 'sev', 'sev-es', 'cca'];

function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') return pkg.version;
  } catch {
    // fall through
  }
  return '0.0.0';
}

function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('igvm');
  program
    .description('Inspect and validate IGVM (Independent Guest Virtual Machine) files')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => write(`igvm: ${oneLine(text.replace(/^error: /, ''))}\n`),
    })
    .showSuggestionAfterError(true);

  program
    .command('inspect')
    .description('show the headers, page ranges, parameter areas and VP contexts of an IGVM file')
    .argument('<file>', 'IGVM file')
    .option('--json', 'print JSON (schema igvm-ts/inspect/v1, see docs/inspect-json.md)')
    .addOption(new Option('--platform <platform>', 'show only the headers for one platform').choices(PLATFORM_CHOICES))
    .option('--data', 'add hex dumps of payloads (with --json: sha256 and allZero of each payload)')
    .option('--lenient', 'follow the spec where the reference parser is stricter (reported as warnings)')
    .action(async (file: string, opts: { json?: boolean; platform?: string; data?: boolean; lenient?: boolean }) => {
      const { inspectCommand } = await import('./commands/inspect.js');
      setExitCode(await inspectCommand(file, opts));
    });

  program
    .command('validate')
    .description('check an IGVM file; exit 0 if valid, 1 if not (one line per problem)')
    .argument('<file>', 'IGVM file')
    .option('--lenient', 'follow the spec where the reference parser is stricter (reported as warnings)')
    .action(async (file: string, opts: { lenient?: boolean }) => {
      const { validateCommand } = await import('./commands/validate.js');
      setExitCode(await validateCommand(file, opts));
    });

  program
    .command('build')
    .description('build an IGVM file from a JSON manifest, or (`igvm build linux`) from a Linux bzImage')
    .argument('<manifest>', 'manifest file (JSON; paths in it are relative to it), or the word "linux"')
    .option('-o, --output <file>', 'the IGVM file to write (atomically)')
    .option('--kernel <bzImage>', 'linux: the x86-64 kernel image')
    .option('--initrd <file>', 'linux: an initramfs')
    .option('--cmdline <text>', 'linux: the kernel command line (baked into boot_params)')
    .option('--compressed', 'linux: keep the bzImage and run its own decompressor at boot')
    .action(async (manifest: string, opts: { output?: string; kernel?: string; initrd?: string; cmdline?: string; compressed?: boolean }) => {
      if (manifest === 'linux') {
        const { buildLinuxCommand } = await import('./commands/build-linux.js');
        setExitCode(await buildLinuxCommand(opts));
      } else {
        const { buildCommand } = await import('./commands/build.js');
        setExitCode(await buildCommand(manifest, opts));
      }
    });

  program
    .command('merge')
    .description('combine per-platform IGVM files into one, sharing identical directives (as the reference merge)')
    .argument('<files...>', 'IGVM files, merged left to right')
    .option('-o, --output <file>', 'the IGVM file to write (atomically)')
    .option('--simple', 'append directives instead of sharing identical ones (merge_simple)')
    .action(async (files: string[], opts: { output?: string; simple?: boolean }) => {
      const { mergeCommand } = await import('./commands/merge.js');
      setExitCode(await mergeCommand(files, opts));
    });

  program
    .command('run')
    .description('boot an IGVM file in native mode on KVM (/dev/kvm)')
    .argument('<file>', 'IGVM file with a NATIVE platform')
    .option('-m, --memory <size>', 'guest RAM, e.g. 256M or 5G (default 256M)')
    .option('--smp <n>', 'number of vCPUs (default 1)')
    .option('--serial <target>', 'COM1: stdio (default) or a file to write', 'stdio')
    .option('--cmdline <text>', 'command line for COMMAND_LINE parameters')
    .option('--no-reboot', 'exit with status 0 when the guest resets')
    .option('--timeout <seconds>', 'stop the guest this long after igvm started, set-up included (exit status 124)')
    .option('--report <file.json>', 'write the LoadReport of each boot as JSON')
    .option('--allow-overcommit', 'run with more guest RAM (-m) than this host has')
    .action(async (file: string, opts: { memory?: string; smp?: string; serial?: string; cmdline?: string; reboot?: boolean; timeout?: string; report?: string; allowOvercommit?: boolean }) => {
      const { runCommand } = await import('./commands/run.js');
      setExitCode(await runCommand(file, opts));
    });

  program
    .command('load')
    .description('process a file against a machine without KVM and print what would be loaded')
    .argument('<file>', 'IGVM file')
    .option('--dry-run', 'do not start a VM (required: igvm run boots)')
    .option('-m, --memory <size>', 'guest RAM, e.g. 256M or 5G (default 256M)')
    .option('--smp <n>', 'number of vCPUs (default 1)')
    .option('--cmdline <text>', 'command line for COMMAND_LINE parameters')
    .option('--json', 'print the LoadReport as JSON (schema igvm-ts/load-report/v1)')
    .action(async (file: string, opts: { dryRun?: boolean; memory?: string; smp?: string; cmdline?: string; json?: boolean }) => {
      const { loadCommand } = await import('./commands/load.js');
      setExitCode(await loadCommand(file, opts));
    });

  return program;
}

function exitNow(code: number): never {
  process.exit(code);
}

async function main(argv: readonly string[]): Promise<void> {
  // Output piped into a reader that went away (`igvm inspect f | head`): stop quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') exitNow(typeof process.exitCode === 'number' ? process.exitCode : 0);
    exitNow(reportError(e));
  });
  process.on('uncaughtException', (e) => exitNow(reportError(e)));
  process.on('unhandledRejection', (e) => exitNow(reportError(e)));

  let code: number = ExitCode.OK;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv], { from: 'node' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; everything else commander rejects is a usage error (message already printed).
      code = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? ExitCode.OK : ExitCode.USAGE;
    } else {
      code = reportError(e);
    }
  }
  process.exitCode = code;
}

await main(process.argv);
