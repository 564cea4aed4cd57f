/*
 * QEMU test harness, part 2: load the boot CPU state (an IgvmNativeVpContextX64 at CONTEXT, written
 * by test/qemu/harness.ts from the loader's state) the way the VMM sets it, and enter the guest.
 * Entered in 32-bit flat protected mode with paging off. The order is the VMM's: CR4, CR3, EFER (LME;
 * the CPU sets LMA itself), the guest's GDT, CR0, then CS by a far jump, the data segments, IDTR, the
 * GS base, RSP, RFLAGS, the GPRs, RIP. 32-bit contexts (CR0.PG clear) stay in protected mode.
 */
	.set CONTEXT, 0xa000
	.set SCRATCH, 0xa800			/* far pointer at +0, GDTR image at +0x10, IDTR image at +0x20 */
	.set MSR_EFER, 0xc0000080
	.set MSR_GS_BASE, 0xc0000101
	.set EFER_LMA, 0x400

	.code32
	.text
	.globl _start
_start:
	mov	CONTEXT + 0xd8, %eax
	mov	%eax, %cr4
	mov	CONTEXT + 0xd0, %eax
	mov	%eax, %cr3
	mov	$MSR_EFER, %ecx
	mov	CONTEXT + 0xe0, %eax
	and	$~EFER_LMA, %eax
	mov	CONTEXT + 0xe4, %edx
	wrmsr
	mov	CONTEXT + 0x9e, %ax		/* gdtr_limit */
	mov	%ax, SCRATCH + 0x10
	mov	CONTEXT + 0xa0, %eax		/* gdtr_base (below 4 GiB here) */
	mov	%eax, SCRATCH + 0x12
	lgdt	SCRATCH + 0x10
	mov	CONTEXT + 0xc8, %eax
	mov	%eax, %cr0
	movzwl	CONTEXT + 0xa8, %eax		/* code_selector */
	mov	%eax, SCRATCH + 4
	testl	$0x80000000, CONTEXT + 0xc8	/* CR0.PG: long mode */
	jz	protected32
	movl	$long64, SCRATCH
	ljmp	*SCRATCH

protected32:
	mov	CONTEXT + 0x80, %eax		/* rip */
	mov	%eax, SCRATCH
	mov	CONTEXT + 0xb4, %ax		/* data_selector */
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %fs
	mov	%ax, %gs
	mov	%ax, %ss
	mov	CONTEXT + 0x98, %ax
	mov	%ax, SCRATCH + 0x20
	mov	CONTEXT + 0x90, %eax
	mov	%eax, SCRATCH + 0x22
	lidt	SCRATCH + 0x20
	mov	CONTEXT + 0x20, %esp
	pushl	CONTEXT + 0x88
	popfl
	mov	CONTEXT + 0x00, %eax
	mov	CONTEXT + 0x08, %ecx
	mov	CONTEXT + 0x10, %edx
	mov	CONTEXT + 0x18, %ebx
	mov	CONTEXT + 0x28, %ebp
	mov	CONTEXT + 0x30, %esi
	mov	CONTEXT + 0x38, %edi
	ljmp	*SCRATCH

	.code64
long64:
	mov	CONTEXT + 0xb4, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %fs
	mov	%ax, %gs
	mov	%ax, %ss
	mov	CONTEXT + 0x98, %ax
	mov	%ax, SCRATCH + 0x20
	mov	CONTEXT + 0x90, %rax
	mov	%rax, SCRATCH + 0x22
	lidt	SCRATCH + 0x20
	mov	$MSR_GS_BASE, %ecx
	mov	CONTEXT + 0xc0, %eax
	mov	CONTEXT + 0xc4, %edx
	wrmsr
	mov	CONTEXT + 0x20, %rsp
	pushq	CONTEXT + 0x88
	popfq
	mov	CONTEXT + 0x00, %rax
	mov	CONTEXT + 0x08, %rcx
	mov	CONTEXT + 0x10, %rdx
	mov	CONTEXT + 0x18, %rbx
	mov	CONTEXT + 0x28, %rbp
	mov	CONTEXT + 0x30, %rsi
	mov	CONTEXT + 0x38, %rdi
	mov	CONTEXT + 0x40, %r8
	mov	CONTEXT + 0x48, %r9
	mov	CONTEXT + 0x50, %r10
	mov	CONTEXT + 0x58, %r11
	mov	CONTEXT + 0x60, %r12
	mov	CONTEXT + 0x68, %r13
	mov	CONTEXT + 0x70, %r14
	mov	CONTEXT + 0x78, %r15
	jmp	*CONTEXT + 0x80
