/**
 * What the tests that boot guests on KVM share: why they cannot run here (if so), and running a
 * parsed file on a fresh KvmMachine with the bundled vCPU thread, serial output to a file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ParsedIgvm } from '../../src/format/model.js';
import { KvmMachine } from '../../src/vmm/kvm-machine.js';
import { probeKvmHost, type KvmHost } from '../../src/vmm/host-probe.js';
import { runOn, type RunOptions, type RunResult } from '../../src/vmm/vm-runner.js';
import { bundleSkipReason, repoRoot, WorkerBundles } from './bundle.js';

/** This host's KVM: tests whose expected result differs by kind branch on `kvmHost.kind`. */
export const kvmHost: KvmHost = probeKvmHost();

/** Why guests cannot boot on KVM here, or undefined when they can. */
export function kvmSkipReason(): string | undefined {
  if (kvmHost.kind === 'none') return kvmHost.reason;
  return bundleSkipReason;
}

export interface GuestRun {
  readonly result: RunResult;
  readonly log: string[];
  readonly serial: string;
}

/** Boots files on KVM; create in beforeAll with `start()`, end with `dispose()`. */
export class GuestRunner {
  private readonly bundles = new WorkerBundles();
  private script: URL | undefined;
  private dir = '';
  private runs = 0;

  constructor(private readonly defaults: Partial<RunOptions>) {}

  async start(): Promise<void> {
    this.script = await this.bundles.build('vcpu-thread', { entry: join(repoRoot, 'src/vmm/vcpu-thread.ts') });
    this.dir = this.bundles.scratch();
  }

  dispose(): void {
    this.bundles.dispose();
  }

  async run(file: ParsedIgvm, options: Partial<RunOptions> = {}): Promise<GuestRun> {
    const serial = join(this.dir, `serial-${++this.runs}.txt`);
    const log: string[] = [];
    const opts: RunOptions = {
      memory: 256n << 20n,
      vcpus: 1,
      serial: { path: serial },
      timeoutMs: 30_000,
      log: (l) => log.push(l),
      ...this.defaults,
      ...options,
    };
    const machine = KvmMachine.create(opts.memory, opts.vcpus);
    try {
      const result = await runOn(machine, file, opts, this.script);
      return { result, log, serial: readFileSync(serial, 'utf8') };
    } finally {
      machine.close();
    }
  }
}
