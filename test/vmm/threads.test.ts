/**
 * The thread machinery without KVM: the kick technique (block the kick signal in a worker, tgkill it from
 * the main thread, consume it with sigtimedwait) in a real worker thread, and a vCPU thread that
 * fails to start. Skipped, with the reason, when worker scripts cannot be bundled.
 */
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { kick, KICK_SIGNAL } from '../../src/vmm/kvm/kick.js';
import { DeviceLock } from '../../src/vmm/devices/device-lock.js';
import { OutputRing } from '../../src/vmm/output-ring.js';
import { createPlatformState } from '../../src/vmm/platform.js';
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
    // The mask for KVM_RUN: 8 bytes, the kick signal not blocked.
    expect((started.kvmMask as number[]).length).toBe(8);
    expect(((started.kvmMask as number[])[(KICK_SIGNAL - 1) >> 3]! >> ((KICK_SIGNAL - 1) & 7)) & 1).toBe(0);
    kick(started.tid as number);
    kick(started.tid as number); // a second kick queues behind the first; one consume takes both
    await new Promise((r) => setTimeout(r, 50));
    worker.postMessage('check');
    expect(await next()).toEqual({ first: true, second: false });
    expect(KICK_SIGNAL).toBeGreaterThanOrEqual(34); // a real-time signal
    // The same signal sent to the process, not to the blocking thread: ignored, nobody dies.
    process.kill(process.pid, KICK_SIGNAL);
    await new Promise((r) => setTimeout(r, 50));
  });

  it('keeps device state consistent across threads under the device lock', async () => {
    // Two threads (and this one) do a non-atomic read-modify-write of shared state under the lock.
    const script = await bundles.build('lock-worker', {
      contents: `import { parentPort, workerData } from 'node:worker_threads';
       import { DeviceLock } from './devices/device-lock.ts';
       const lock = new DeviceLock(workerData.lock);
       const counter = new Float64Array(workerData.counter);
       for (let i = 0; i < workerData.rounds; i++) lock.with(() => { const v = counter[0]; counter[0] = v + 1; });
       parentPort.postMessage('done');`,
    });
    const lock = new DeviceLock();
    const counter = new SharedArrayBuffer(8);
    const rounds = 20_000;
    const workers = [0, 1].map(() => new Worker(script, { workerData: { lock: lock.buffer, counter, rounds } }));
    const done = workers.map((w) => new Promise((r) => w.once('message', r)));
    const mine = new Float64Array(counter);
    for (let i = 0; i < rounds; i++) lock.with(() => void (mine[0] = mine[0]! + 1));
    await Promise.all(done);
    await Promise.all(workers.map((w) => w.terminate()));
    expect(mine[0]).toBe(3 * rounds);
  });

  it('moves console output from a producer thread through the ring without losing a byte or a wakeup', async () => {
    // The producer (a vCPU thread's UART) writes bursts with pauses, the pattern that once let the
    // consumer fall asleep on a non-empty ring.
    const script = await bundles.build('ring-worker', {
      contents: `import { parentPort, workerData } from 'node:worker_threads';
       import { OutputRing } from './output-ring.ts';
       const ring = new OutputRing(workerData.ring);
       let sum = 0;
       for (let i = 0; i < workerData.bytes; i++) {
         const b = (i * 7) & 0xff;
         sum = (sum + b) % 1000003;
         ring.put(b);
         if (i % 4096 === 0) ring.waitForRoom(() => false);
         if (i % 50000 === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
       }
       parentPort.postMessage(sum);`,
    });
    const ring = new OutputRing();
    const bytes = 3_000_000;
    const worker = new Worker(script, { workerData: { ring: ring.buffer, bytes } });
    const produced = new Promise<number>((r) => worker.once('message', r));
    let got = 0;
    let sum = 0;
    const guard = setTimeout(() => worker.terminate(), 60_000);
    while (got < bytes) {
      const out = ring.take();
      if (!out) {
        await ring.waitForData().promise;
        continue;
      }
      for (const b of out) sum = (sum + b) % 1000003;
      got += out.length;
    }
    clearTimeout(guard);
    expect(got).toBe(bytes);
    expect(sum).toBe(await produced);
    expect(ring.dropped).toBe(0);
    await worker.terminate();
  });

  it('reports a vCPU thread that cannot set up its vCPU', async () => {
    const script = await bundles.build('vcpu-thread', { contents: `import './vcpu-thread.ts';` });
    const shared = { vmFd: -1, platform: createPlatformState(), console: new OutputRing().buffer };
    const host = new VcpuHost(0, -1, 4096, shared, { onParked: () => undefined, onFailed: () => undefined }, script);
    await expect(host.started()).rejects.toThrow('KVM_SET_SIGNAL_MASK failed: Bad file descriptor (errno 9)');
    await host.terminate();
  });
});
