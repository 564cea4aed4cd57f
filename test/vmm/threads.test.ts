/**
 * The thread machinery without KVM: the kick technique (block SIGUSR2 in a worker, tgkill it from
 * the main thread, consume it with sigtimedwait) in a real worker thread, and a vCPU thread that
 * fails to start. Skipped, with the reason, when worker scripts cannot be bundled.
 */
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { kick, KICK_SIGNAL } from '../../src/vmm/kvm/kick.js';
import { VcpuHost } from '../../src/vmm/vcpu-host.js';
import { bundleSkipReason, WorkerBundles } from './bundle.js';

if (bundleSkipReason) console.log(`[vmm threads] skipping: ${bundleSkipReason}`);

describe.skipIf(bundleSkipReason !== undefined)('vCPU threads', () => {
  const bundles = new WorkerBundles();
  afterAll(() => bundles.dispose());

  it('kicks a worker thread that blocks the signal, without killing the process', async () => {
    const script = await bundles.build('kick-worker', {
      contents: `import { parentPort } from 'node:worker_threads';
       import { blockKickSignal, consumeKick, currentThreadId } from './kvm/kick.ts';
       const kvmMask = blockKickSignal();
       parentPort.postMessage({ tid: currentThreadId(), kvmMask: [...kvmMask], before: consumeKick() });
       parentPort.on('message', () => {
         parentPort.postMessage({ first: consumeKick(), second: consumeKick() });
         parentPort.close();
       });`,
    });
    const worker = new Worker(script);
    const messages: Record<string, unknown>[] = [];
    const next = () => new Promise<Record<string, unknown>>((res) => worker.once('message', (m: Record<string, unknown>) => res(m)));
    const started = await next();
    messages.push(started);
    expect(started.before).toBe(false);
    expect(started.tid).not.toBe(process.pid);
    // The mask for KVM_RUN: 8 bytes, SIGUSR2 (bit 11) not blocked.
    expect((started.kvmMask as number[]).length).toBe(8);
    expect(((started.kvmMask as number[])[1]! >> 3) & 1).toBe(0);
    kick(started.tid as number);
    kick(started.tid as number); // a second kick while pending merges with the first
    await new Promise((r) => setTimeout(r, 50));
    worker.postMessage('check');
    expect(await next()).toEqual({ first: true, second: false });
    expect(KICK_SIGNAL).toBe(12);
  });

  it('reports a vCPU thread that cannot set up its vCPU', async () => {
    const script = await bundles.build('vcpu-thread', { contents: `import './vcpu-thread.ts';` });
    const host = new VcpuHost(0, -1, 4096, { onExit: () => ({ park: true }), onParked: () => undefined, onFailed: () => undefined }, script);
    await expect(host.started()).rejects.toThrow('KVM_SET_SIGNAL_MASK failed: Bad file descriptor (errno 9)');
    await host.terminate();
  });
});
