/**
 * The KVM ABI declared in src/vmm/kvm/abi.ts (and the libc constants of bindings.ts) against the
 * real headers: a generated C program prints sizeof/offsetof of every layout and field, every ioctl
 * number and every constant; each must equal the TypeScript declaration. Skipped, with the reason
 * printed, when gcc or the kernel headers are missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { widthOf } from '../../src/format/layout.js';
import {
  CONSTANT_GROUPS,
  FLEXIBLE_ARRAYS,
  KVM_IOCTL,
  KVM_RUN_EXIT_OFFSET,
  LAYOUTS,
} from '../../src/vmm/kvm/abi.js';
import { LINUX } from '../../src/vmm/kvm/bindings.js';

const HEADERS = ['/usr/include/linux/kvm.h'];

function skipReason(): string | undefined {
  const gcc = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
  if (gcc.error || gcc.status !== 0) return 'gcc is not installed';
  const missing = HEADERS.filter((h) => !existsSync(h));
  if (missing.length > 0) return `kernel headers are missing (${missing.join(', ')}; install linux-libc-dev)`;
  return undefined;
}

const reason = skipReason();
if (reason) console.log(`[vmm abi] skipping the C cross-check of the KVM ABI: ${reason}`);

/** C spellings of the LINUX constants whose names are not C macros. */
const LINUX_C_EXPR: Partial<Record<keyof typeof LINUX, string>> = {
  SIGSET_T_SIZE: 'sizeof(sigset_t)',
  KERNEL_SIGSET_SIZE: '(_NSIG - 1) / 8',
  TIMESPEC_SIZE: 'sizeof(struct timespec)',
  SIG_IGN: '(unsigned long)SIG_IGN',
  SIGACTION_SIZE: 'sizeof(struct sigaction)',
  SIGACTION_FLAGS_OFFSET: 'offsetof(struct sigaction, sa_flags)',
};

interface CTarget {
  readonly type: string;
  /** '' for a struct, 'member.' for a member of kvm_run's exit union. */
  readonly prefix: string;
  readonly base: string;
  readonly size: string;
}

function cTarget(layoutName: string): CTarget {
  const [struct, member] = layoutName.split('.');
  const type = `struct ${struct}`;
  if (!member) return { type, prefix: '', base: '0', size: `sizeof(${type})` };
  return { type, prefix: `${member}.`, base: `offsetof(${type}, ${member})`, size: `sizeof(((${type} *)0)->${member})` };
}

/** Lines of `name value` that the C program prints, and the same lines from the TypeScript side. */
function expectations(): { c: string[]; ts: Map<string, number> } {
  const c: string[] = [];
  const ts = new Map<string, number>();
  const emit = (name: string, cExpr: string, value: number) => {
    c.push(`  printf("%s %llu\\n", "${name}", (unsigned long long)(${cExpr}));`);
    ts.set(name, value);
  };
  for (const layout of LAYOUTS) {
    const t = cTarget(layout.name);
    emit(`sizeof ${layout.name}`, t.size, layout.size);
    for (const f of layout.fields) {
      emit(`offsetof ${layout.name}.${f.name}`, `offsetof(${t.type}, ${t.prefix}${f.name}) - ${t.base}`, f.offset);
      emit(`sizeof ${layout.name}.${f.name}`, `sizeof(((${t.type} *)0)->${t.prefix}${f.name})`, widthOf(f.kind));
    }
  }
  for (const [path, offset] of Object.entries(FLEXIBLE_ARRAYS)) {
    const [struct, member] = path.split('.');
    emit(`offsetof ${path}`, `offsetof(struct ${struct}, ${member})`, offset);
  }
  for (const member of ['hw', 'fail_entry', 'io', 'mmio', 'internal', 'system_event']) {
    emit(`offsetof kvm_run.${member}`, `offsetof(struct kvm_run, ${member})`, KVM_RUN_EXIT_OFFSET);
  }
  for (const [name, value] of Object.entries(KVM_IOCTL)) emit(name, name, value);
  for (const [prefix, group] of Object.entries(CONSTANT_GROUPS)) {
    for (const [key, value] of Object.entries(group)) emit(`${prefix}${key}`, `${prefix}${key}`, value);
  }
  for (const [key, value] of Object.entries(LINUX)) {
    emit(`LINUX.${key}`, LINUX_C_EXPR[key as keyof typeof LINUX] ?? key, value);
  }
  return { c, ts };
}

const PROGRAM_HEAD = `#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <linux/kvm.h>

int main(void) {
`;

describe.skipIf(reason !== undefined)('KVM ABI against the C headers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'igvm-abi-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('every layout, field, ioctl number and constant matches', () => {
    const { c, ts } = expectations();
    const source = join(dir, 'abi.c');
    const binary = join(dir, 'abi');
    writeFileSync(source, `${PROGRAM_HEAD}${c.join('\n')}\n  return 0;\n}\n`);
    const cc = spawnSync('gcc', ['-std=c11', '-Wall', '-Werror', '-o', binary, source], { encoding: 'utf8' });
    expect(cc.stderr, 'the generated C program must compile').toBe('');
    expect(cc.status).toBe(0);
    const run = spawnSync(binary, { encoding: 'utf8' });
    expect(run.status).toBe(0);
    const fromC = new Map<string, number>();
    for (const line of run.stdout.trim().split('\n')) {
      const at = line.lastIndexOf(' ');
      fromC.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    const mismatches = [...ts].filter(([name, value]) => fromC.get(name) !== value).map(([name, value]) => `${name}: TypeScript ${value}, C ${fromC.get(name)}`);
    expect(mismatches).toEqual([]);
    expect(fromC.size).toBe(ts.size);
    // Sanity: the check covers a meaningful number of facts.
    expect(ts.size).toBeGreaterThan(300);
  });
});
