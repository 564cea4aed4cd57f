/**
 * Worker scripts for the tests: a Worker needs JavaScript, so TypeScript sources are bundled with
 * esbuild (a vitest dependency) into build/, where `koffi` still resolves from node_modules.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface Esbuild {
  build(options: Record<string, unknown>): Promise<unknown>;
}

let esbuild: Esbuild | undefined;
/** Why worker scripts cannot be built here, or undefined. */
export let bundleSkipReason: string | undefined;
try {
  esbuild = (await import('esbuild')) as Esbuild;
} catch (e) {
  bundleSkipReason = `esbuild is not available to bundle worker scripts (${(e as Error).message})`;
}

export interface BundleOptions {
  /** A source file, or inline TypeScript resolved from src/vmm. */
  readonly entry?: string;
  readonly contents?: string;
  /** Import specifiers (exact) to replace by other files. */
  readonly replace?: Readonly<Record<string, string>>;
}

export class WorkerBundles {
  private dir: string | undefined;

  async build(name: string, options: BundleOptions): Promise<URL> {
    if (!esbuild) throw new Error(bundleSkipReason);
    if (!this.dir) {
      mkdirSync(join(repoRoot, 'build'), { recursive: true });
      this.dir = mkdtempSync(join(repoRoot, 'build', 'vmm-test-'));
    }
    const outfile = join(this.dir, `${name}.mjs`);
    const replace = options.replace ?? {};
    await esbuild.build({
      ...(options.entry
        ? { entryPoints: [options.entry] }
        : { stdin: { contents: options.contents, resolveDir: join(repoRoot, 'src/vmm'), sourcefile: `test-entry-${name}.ts`, loader: 'ts' } }),
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile,
      external: ['koffi'],
      logLevel: 'silent',
      plugins: [
        {
          name: 'replace',
          setup(build: { onResolve(o: { filter: RegExp }, f: (args: { path: string }) => { path: string } | undefined): void }) {
            build.onResolve({ filter: /.*/ }, (args) => (replace[args.path] ? { path: replace[args.path]! } : undefined));
          },
        },
      ],
    });
    return pathToFileURL(outfile);
  }

  /** A scratch directory beside the bundles. */
  scratch(): string {
    if (!this.dir) {
      mkdirSync(join(repoRoot, 'build'), { recursive: true });
      this.dir = mkdtempSync(join(repoRoot, 'build', 'vmm-test-'));
    }
    return this.dir;
  }

  dispose(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
