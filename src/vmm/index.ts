/** The native-mode VMM (Linux, KVM): `runIgvm` boots an IGVM file on KVM. Node only. */
export { runIgvm, EXIT_STATUS, type RunOptions, type RunResult } from './vm-runner.js';
export { KvmError, KVM_MISSING_MESSAGE, KVM_PERMISSION_MESSAGE, type KvmErrorCode } from './kvm/errors.js';
export { Kvm, KVM_DEVICE } from './kvm/system.js';
export { NativeUnavailableError } from './kvm/bindings.js';
export { GuestMemory, PhysicalAddressError } from './memory.js';
export type { VcpuExit } from './kvm/exits.js';
export { probeKvmHost, classifyKvmHost, isHardwareKvm, type KvmHost, type KvmHostKind, type HostFacts } from './host-probe.js';
