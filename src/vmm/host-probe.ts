/**
 * What kind of KVM this host has, the one answer the VMM, the tests and the nested-VM runner share:
 * `none` (no usable /dev/kvm), `pvm` (kvm_pvm, the software-assisted KVM of hosts that are
 * themselves guests: 64-bit code runs well, real and 32-bit modes are emulated, and some faults
 * come back as emulation failures), or hardware KVM, `intel` (kvm_intel, VMX) or `amd` (kvm_amd,
 * SVM). Each comes with the reason, a sentence for a test's skip line or a diagnostic.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Kvm } from './kvm/system.js';

export type KvmHostKind = 'none' | 'pvm' | 'intel' | 'amd';

export interface KvmHost {
  readonly kind: KvmHostKind;
  readonly reason: string;
}

/** What the classification looks at; `probeKvmHost` reads it from this host. */
export interface HostFacts {
  /** Why /dev/kvm cannot be opened, or undefined when it can. */
  readonly openError: string | undefined;
  /** Which of the vendor modules are loaded (have a /sys/module entry, loaded or built in). */
  readonly modules: { readonly kvm_pvm: boolean; readonly kvm_intel: boolean; readonly kvm_amd: boolean };
  /** The CPU's vendor flags in /proc/cpuinfo, for a KVM whose vendor module is not in /sys/module. */
  readonly cpuFlags: { readonly vmx: boolean; readonly svm: boolean };
}

/** kvm_pvm first: where it is loaded it is the KVM that /dev/kvm serves (it has no VMX or SVM to lean on). */
export function classifyKvmHost(facts: HostFacts): KvmHost {
  if (facts.openError !== undefined) return { kind: 'none', reason: facts.openError };
  const { modules, cpuFlags } = facts;
  if (modules.kvm_pvm) return { kind: 'pvm', reason: 'kvm_pvm is loaded: software-assisted KVM (no VMX/SVM)' };
  if (modules.kvm_intel) return { kind: 'intel', reason: 'kvm_intel is loaded: hardware KVM (VMX)' };
  if (modules.kvm_amd) return { kind: 'amd', reason: 'kvm_amd is loaded: hardware KVM (SVM)' };
  if (cpuFlags.vmx) return { kind: 'intel', reason: '/dev/kvm opens and the CPU has VMX (no vendor module in /sys/module)' };
  if (cpuFlags.svm) return { kind: 'amd', reason: '/dev/kvm opens and the CPU has SVM (no vendor module in /sys/module)' };
  return { kind: 'pvm', reason: '/dev/kvm opens but neither kvm_intel, kvm_amd nor VMX/SVM is present: taken as software-assisted KVM' };
}

function cpuFlags(): HostFacts['cpuFlags'] {
  let flags: string[] = [];
  try {
    const line = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    flags = line ? line[1]!.trim().split(/\s+/) : [];
  } catch {
    // no /proc: no flags
  }
  return { vmx: flags.includes('vmx'), svm: flags.includes('svm') };
}

function openError(): string | undefined {
  try {
    Kvm.open().close();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

let probed: KvmHost | undefined;

/** The KVM of this host (probed once per process). */
export function probeKvmHost(): KvmHost {
  probed ??= classifyKvmHost({
    openError: openError(),
    modules: {
      kvm_pvm: existsSync('/sys/module/kvm_pvm'),
      kvm_intel: existsSync('/sys/module/kvm_intel'),
      kvm_amd: existsSync('/sys/module/kvm_amd'),
    },
    cpuFlags: cpuFlags(),
  });
  return probed;
}

/** Hardware KVM: kvm_intel or kvm_amd. */
export function isHardwareKvm(host: KvmHost): boolean {
  return host.kind === 'intel' || host.kind === 'amd';
}
