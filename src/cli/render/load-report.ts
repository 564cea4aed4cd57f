/** Text rendering of a LoadReport for `igvm load --dry-run` (and `igvm run --report` summaries). */
import type { LoadReport, ParameterValue } from '../../loader/index.js';

function size(hexText: string): string {
  const n = BigInt(hexText);
  const units: [bigint, string][] = [
    [1n << 30n, 'GiB'],
    [1n << 20n, 'MiB'],
    [1n << 10n, 'KiB'],
  ];
  for (const [unit, name] of units) if (n >= unit && n % unit === 0n) return `${n / unit} ${name}`;
  return `${n} bytes`;
}

function range(gpa: string, len: string): string {
  const start = BigInt(gpa);
  const end = start + BigInt(len) - 1n;
  return `0x${start.toString(16).padStart(9, '0')}-0x${end.toString(16).padStart(9, '0')}`;
}

function parameter(p: ParameterValue): string[] {
  const at = `@0x${p.byteOffset.toString(16)}`;
  switch (p.type) {
    case 'VP_COUNT_PARAMETER':
      return [`VP_COUNT_PARAMETER ${at} = ${p.vpCount}`];
    case 'ENVIRONMENT_INFO_PARAMETER':
      return [`ENVIRONMENT_INFO_PARAMETER ${at} = memory_is_shared ${p.memoryIsShared ? 1 : 0}`];
    case 'COMMAND_LINE':
      return [`COMMAND_LINE ${at} = ${JSON.stringify(p.commandLine)}`];
    case 'MADT':
      return [`MADT ${at}: ${p.length} bytes, ${p.vcpus} local APIC${p.vcpus === 1 ? '' : 's'}`];
    case 'MEMORY_MAP': {
      const ram = p.entries.filter((e) => e.type === 'MEMORY').reduce((s, e) => s + BigInt(e.size), 0n);
      return [
        `MEMORY_MAP ${at}: ${p.entries.length} entries (room for ${p.capacity}), total RAM ${size(`0x${ram.toString(16)}`)}`,
        ...p.entries.map((e) => `    ${range(e.gpa, e.size)}  ${e.type.padEnd(17)} ${size(e.size)}`),
      ];
    }
  }
}

export function renderLoadReport(file: string, memory: bigint, report: LoadReport): string {
  const out: string[] = [];
  const vcpus = report.machine.vcpus;
  out.push(`${file}: native platform (mask ${report.platform.compatibilityMask}) on ${size(`0x${memory.toString(16)}`)}, ${vcpus} vCPU${vcpus === 1 ? '' : 's'}`);
  out.push('memory writes');
  for (const w of report.writes) {
    const what = w.kind === 'parameter-area' ? 'parameter area' : w.kind === 'zero-pages' ? 'zero pages' : 'page data';
    const pages = w.pages === undefined ? '' : `, ${w.pages} page${w.pages === 1 ? '' : 's'}${w.pageSize === 0x200000 ? ' of 2 MiB' : ''}`;
    out.push(`  ${range(w.gpa, w.size)}  ${what}${pages} (header${w.headers[0] === w.headers[1] ? ` #${w.headers[0]}` : `s #${w.headers[0]}-#${w.headers[1]}`})`);
  }
  if (report.createdRam.length > 0) {
    out.push('RAM created outside the machine layout (as QEMU does)');
    for (const r of report.createdRam) out.push(`  ${r.name} ${range(r.gpa, r.size)} for ${r.reason}`);
  }
  for (const r of report.requiredMemory) out.push(`required memory ${range(r.gpa, r.size)} (header #${r.headerIndex})`);
  if (report.parameterAreas.length > 0) out.push('parameter areas');
  for (const a of report.parameterAreas) {
    out.push(`  area ${a.index}: ${size(a.size)}${a.initialData ? ', initial contents from the file' : ''}${a.insertedAt ? `, inserted at ${a.insertedAt}` : ', never inserted'}`);
    for (const p of a.parameters) for (const line of parameter(p)) out.push(`    ${line}`);
  }
  const cpu = report.bootCpu;
  if (cpu) {
    out.push(`boot CPU (${cpu.source === 'reset' ? 'architectural reset state: the file has no VP context' : 'from the native VP context'})`);
    const r = cpu.registers;
    out.push(`  rip ${r['rip']}  rflags ${r['rflags']}  rsp ${r['rsp']}  rsi ${r['rsi']}`);
    out.push(`  cr0 ${r['cr0']}  cr3 ${r['cr3']}  cr4 ${r['cr4']}  efer ${r['efer']}`);
    out.push(`  gdtr ${cpu.gdtr.base}/${cpu.gdtr.limit}  idtr ${cpu.idtr.base}/${cpu.idtr.limit}`);
    for (const name of ['cs', 'ds', 'ss', 'gs'] as const) {
      const s = cpu.segments[name]!;
      const flags = [s.present ? 'P' : '', s.long ? 'L' : '', s.defaultBig ? 'D/B' : '', s.granularity ? 'G' : ''].filter(Boolean).join(' ');
      out.push(`  ${name} selector ${s.selector} base ${s.base} limit ${s.limit} type ${s.type} ${flags}`);
    }
  }
  for (const s of report.skipped) out.push(`skipped header #${s.headerIndex} (${s.type}): ${s.reason}`);
  for (const w of report.warnings) out.push(`warning: ${w}`);
  return `${out.join('\n')}\n`;
}
