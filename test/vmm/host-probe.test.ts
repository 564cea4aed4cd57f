/**
 * The host probe: how the facts of a host map to its kind of KVM, this host's answer, and the
 * nested-VM runner's mounts for checkouts under /tmp.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyKvmHost, probeKvmHost, type HostFacts } from '../../src/vmm/host-probe.js';
import { repoRoot } from './bundle.js';

const none = { kvm_pvm: false, kvm_intel: false, kvm_amd: false };
const noFlags = { vmx: false, svm: false };
const facts = (f: Partial<HostFacts>): HostFacts => ({ openError: undefined, modules: none, cpuFlags: noFlags, ...f });

describe('classifyKvmHost', () => {
  it('is none, with the open error, when /dev/kvm does not open', () => {
    expect(classifyKvmHost(facts({ openError: 'KVM is not available: /dev/kvm is missing', modules: { ...none, kvm_intel: true } }))).toEqual({
      kind: 'none',
      reason: 'KVM is not available: /dev/kvm is missing',
    });
  });

  it('names the vendor module, kvm_pvm first', () => {
    expect(classifyKvmHost(facts({ modules: { ...none, kvm_intel: true } })).kind).toBe('intel');
    expect(classifyKvmHost(facts({ modules: { ...none, kvm_amd: true } })).kind).toBe('amd');
    expect(classifyKvmHost(facts({ modules: { kvm_pvm: true, kvm_intel: true, kvm_amd: false }, cpuFlags: { vmx: true, svm: false } }))).toMatchObject({
      kind: 'pvm',
      reason: expect.stringContaining('kvm_pvm'),
    });
  });

  it('falls back on the CPU flags, and on pvm where there are none', () => {
    expect(classifyKvmHost(facts({ cpuFlags: { vmx: true, svm: false } })).kind).toBe('intel');
    expect(classifyKvmHost(facts({ cpuFlags: { vmx: false, svm: true } })).kind).toBe('amd');
    expect(classifyKvmHost(facts({})).kind).toBe('pvm');
  });
});

describe('probeKvmHost', () => {
  it('gives one of the four kinds with a reason, the same each time', () => {
    const host = probeKvmHost();
    console.log(`[host probe] this host: ${host.kind} (${host.reason})`);
    expect(['none', 'pvm', 'intel', 'amd']).toContain(host.kind);
    expect(host.reason.length).toBeGreaterThan(0);
    expect(probeKvmHost()).toBe(host);
  });
});

describe('the nested-VM runner under /tmp', () => {
  interface NestedRunner {
    initScript(modules: string[], checkout: string): string;
  }
  const load = async (): Promise<NestedRunner> => (await import(join(repoRoot, 'scripts/kvm-nested.mjs'))) as NestedRunner;

  it('moves a checkout under /tmp back over the fresh tmpfs', async () => {
    const script = (await load()).initScript(['kvm.ko'], '/tmp/co/igvm-ts');
    const bind = script.indexOf("mount -o bind '/host/tmp/co/igvm-ts' /keep");
    const tmpfs = script.indexOf('mount -t tmpfs tmp /host/tmp');
    const move = script.indexOf("mount -o move /keep '/host/tmp/co/igvm-ts'");
    expect(bind).toBeGreaterThan(0);
    expect(tmpfs).toBeGreaterThan(bind);
    expect(move).toBeGreaterThan(tmpfs);
    expect(script.indexOf('chroot /host')).toBeGreaterThan(move);
  });

  it('only mounts the tmpfs for a checkout elsewhere', async () => {
    const script = (await load()).initScript(['kvm.ko'], '/work/igvm-ts');
    expect(script).toContain('mount -t tmpfs tmp /host/tmp');
    expect(script).not.toContain('/keep');
  });
});
