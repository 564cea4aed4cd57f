// The layer rule: format <- arch <- loader <- vmm | build | measure <- cli, and no `node:` imports
// in the browser-safe layers.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');
const LAYERS = ['format', 'arch', 'loader', 'vmm', 'build', 'measure', 'cli', 'node'] as const;
/** What each layer may import from (besides itself). */
const ALLOWED: Record<(typeof LAYERS)[number], readonly string[]> = {
  format: [],
  arch: ['format'],
  loader: ['format', 'arch'],
  vmm: ['format', 'arch', 'loader', 'node'],
  build: ['format', 'arch', 'loader', 'node'],
  measure: ['format', 'arch', 'loader'],
  node: ['format'],
  cli: ['format', 'arch', 'loader', 'vmm', 'build', 'measure', 'node'],
};
const BROWSER_SAFE = new Set(['format', 'arch', 'loader', 'measure']);

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

describe('layers', () => {
  for (const layer of LAYERS) {
    const layerFiles = files(path.join(SRC, layer));
    it.skipIf(layerFiles.length === 0)(`${layer} imports only from ${ALLOWED[layer].join(', ') || 'itself'}`, () => {
      const bad: string[] = [];
      for (const f of layerFiles) {
        for (const spec of imports(f)) {
          if (spec.startsWith('node:') && BROWSER_SAFE.has(layer)) bad.push(`${path.relative(SRC, f)}: ${spec}`);
          if (!spec.startsWith('.')) continue;
          const target = path.relative(SRC, path.resolve(path.dirname(f), spec)).split(path.sep)[0]!;
          if (target !== layer && !ALLOWED[layer].includes(target)) bad.push(`${path.relative(SRC, f)}: ${spec}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }
});
