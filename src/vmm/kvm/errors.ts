/** Errors of the KVM layer: a stable code for the CLI, and a sentence for the user. */

export type KvmErrorCode =
  | 'KvmMissing'
  | 'KvmPermission'
  | 'KvmOpen'
  | 'KvmApiVersion'
  | 'MissingCapability'
  | 'InvalidVcpuCount'
  | 'IoctlFailed'
  | 'MsrRejected'
  | 'MemoryTooLarge';

export class KvmError extends Error {
  override readonly name = 'KvmError';
  constructor(
    readonly code: KvmErrorCode,
    message: string,
    readonly errno?: number,
  ) {
    super(message);
  }
}

export const KVM_MISSING_MESSAGE =
  'KVM is not available: /dev/kvm is missing; `igvm load --dry-run` shows what would be loaded';
export const KVM_PERMISSION_MESSAGE =
  'permission denied opening /dev/kvm (add yourself to the kvm group or run as root)';
