#!/usr/bin/env node
/**
 * The `igvm` command line: commander wiring only. Each command's module is imported inside its action,
 * so a command loads only what it uses (`run` must start fast).
 *
 * Exit codes: 0 success; 1 invalid IGVM input; 2 usage error or unreadable file; 70 internal error.
 * Every failure is one line on stderr, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ExitCode, oneLine, reportError } from './exit.js';

/** Keep in sync with PLATFORM_OPTION in commands/common.ts (not imported here, to keep startup light). */
const PLATFORM_CHOICES = ['native', 'snp', 'tdx', 'vbs', 'sev', 'sev-es', 'cca'];

/** Keep in sync with LOADER_NAMES in loader/compat.ts (not imported here, to keep startup light). */
const LOADER_CHOICES = ['qemu-10.2', 'igvm-ts', 'spec'];

function collectLoader(value: string, previous: string[]): string[] {
  if (!LOADER_CHOICES.includes(value)) throw new InvalidArgumentError(`Allowed choices are ${LOADER_CHOICES.join(', ')}.`);
  return [...previous, value];
}

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
    .command('check')
    .description('what native-mode loaders would refuse or mishandle; exit 1 if the file fails on one')
    .argument('<file>', 'IGVM file')
    .option('--loader <name>', `${LOADER_CHOICES.join(', ')} (repeatable; default: all)`, collectLoader, [])
    .action(async (file: string, opts: { loader: string[] }) => {
      const { checkCommand } = await import('./commands/check.js');
      setExitCode(await checkCommand(file, opts));
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

  program
    .command('measure')
    .description('compute launch digests: SEV-SNP, TDX MRTD, VBS, SEV, SEV-ES (one line per platform)')
    .argument('<file>', 'IGVM file')
    .addOption(new Option('--platform <platform>', 'measure one platform').choices(['snp', 'tdx', 'vbs', 'sev', 'sev-es']))
    .addOption(new Option('--profile <name>', 'loader rules (default igvm)').choices(['igvm', 'svsm-igvmmeasure', 'svsm-igvmmeasure-native-zero', 'qemu-kvm', 'td-shim']))
    .option('--native-zero', 'svsm-igvmmeasure --native-zero: empty pages as SEV-SNP ZERO pages')
    .option('--mask <hex>', 'use this compatibility mask instead of the platform\'s (with --platform)')
    .option('--bare', 'print the digest in hex and nothing else (one platform)')
    .option('--json', 'print JSON (schema igvm-ts/measure/v1, see docs/measure-json.md)')
    .option('--trace <file.jsonl>', 'write one JSON line per measured record')
    .option('--threads <n>', 'hash SEV-SNP pages on n worker threads (default: CPUs - 1 for files over 16 MiB, with 3+ CPUs)')
    .action(async (file: string, opts: { platform?: string; profile?: string; nativeZero?: boolean; mask?: string; bare?: boolean; json?: boolean; trace?: string; threads?: string }) => {
      const { measureCommand } = await import('./commands/measure.js');
      setExitCode(await measureCommand(file, opts));
    });

  program
    .command('sign')
    .description('add or replace the SEV-SNP ID block (ECDSA P-384), or emit its payload for signing elsewhere')
    .argument('<file>', 'IGVM file with a SEV_SNP platform')
    .option('--id-key <key.pem>', 'ID key (P-384 private key, PEM) to sign with')
    .option('--author-key <key.pem>', 'author key (P-384 private key, PEM) that signs the ID key')
    .option('--emit-payload <out.bin>', 'write the 96-byte ID block to be signed, and nothing else')
    .option('--signature <sig.der>', 'import a DER ECDSA signature of the payload (with --public-key)')
    .option('--public-key <key.pem>', 'the ID public key (SPKI PEM/DER or X.509 certificate) of --signature')
    .option('--family-id <hex>', 'ID block family_id (16 bytes hex, default zeros)')
    .option('--image-id <hex>', 'ID block image_id (16 bytes hex, default zeros)')
    .option('--guest-svn <n>', 'ID block guest_svn (default 0)')
    .addOption(new Option('--profile <name>', 'loader rules for the launch digest (default igvm)').choices(['igvm', 'svsm-igvmmeasure', 'svsm-igvmmeasure-native-zero', 'qemu-kvm']))
    .option('-o, --output <file>', 'the signed IGVM file to write (atomically)')
    .action(async (file: string, opts: Record<string, string | undefined>) => {
      const { signCommand } = await import('./commands/sign.js');
      setExitCode(await signCommand(file, opts));
    });

  program
    .command('verify')
    .description('check the SEV-SNP ID block: ld against the launch digest, policy, signatures')
    .argument('<file>', 'IGVM file with an SNP ID block')
    .addOption(new Option('--profile <name>', 'loader rules for the launch digest (default igvm)').choices(['igvm', 'svsm-igvmmeasure', 'svsm-igvmmeasure-native-zero', 'qemu-kvm']))
    .action(async (file: string, opts: { profile?: string }) => {
      const { verifyCommand } = await import('./commands/sign.js');
      setExitCode(await verifyCommand(file, opts));
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
