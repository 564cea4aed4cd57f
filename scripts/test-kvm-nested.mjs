#!/usr/bin/env node
// The last step of `npm test`. The tests that boot guests on KVM (test/vmm/kvm-*.test.ts) skip where
// /dev/kvm is not usable; there they run again here, inside the nested VM of scripts/kvm-nested.mjs,
// whose kvm_amd is a real KVM. Where /dev/kvm works they already ran; where QEMU or the cached
// Debian kernel is missing this step says why and passes. IGVM_NESTED_KVM=0 turns it off.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { nestedSkipReason, runNested } from './kvm-nested.mjs';

const repo = resolve(import.meta.dirname, '..');
const say = (line) => console.log(`[kvm tests, nested] ${line}`);
const KVM_TEST_FILES = ['test/vmm/kvm-run.test.ts', 'test/vmm/kvm-guests.test.ts', 'test/vmm/kvm-cli.test.ts'];

// The same probe as the VMM and the tests (npm test builds dist/ before this step).
const { probeKvmHost } = await import(join(repo, 'dist/vmm/host-probe.js'));
const host = probeKvmHost();

if (process.env.IGVM_NESTED_KVM === '0') {
  say('skipped: IGVM_NESTED_KVM=0');
} else if (host.kind !== 'none') {
  say(`not needed: /dev/kvm is usable here (${host.kind}: ${host.reason}), so the KVM tests ran with the others`);
} else if (nestedSkipReason()) {
  say(`skipped: /dev/kvm is not usable here (${host.reason}) and the nested VM cannot start: ${nestedSkipReason()}`);
} else {
  const outer = process.env.IGVM_TEST_JSON;
  const json = outer ? resolve(outer.replace(/\.json$/, '') + '-kvm-nested.json') : join(repo, 'build/vitest-kvm-nested.json');
  say(`/dev/kvm is not usable here (${host.reason}): running ${KVM_TEST_FILES.length} test files in QEMU (TCG, emulated AMD SVM) on its kvm_amd`);
  rmSync(json, { force: true });
  const started = Date.now();
  const status = await runNested(['npx', 'vitest', 'run', '--no-file-parallelism', ...KVM_TEST_FILES], {
    timeoutSec: 1500,
    env: { IGVM_TEST_JSON: json },
  });
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  if (!existsSync(json)) {
    say(`failed after ${minutes} min: no results (exit status ${status})`);
    process.exit(1);
  }
  const r = JSON.parse(readFileSync(json, 'utf8'));
  const skipped = r.numPendingTests + r.numTodoTests;
  say(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped in ${minutes} min`);
  // Nothing may skip in there: the nested machine has KVM, binutils and the kernel.
  if (status !== 0 || r.numFailedTests > 0 || skipped > 0 || r.numPassedTests === 0) process.exit(1);
}
