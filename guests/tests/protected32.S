/*
 * Test guest entered in 32-bit flat protected mode from the IGVM native context. It saves every
 * register it can observe (as 64-bit values with zero upper halves) before touching any, then
 * switches to long mode (lib/enter64.S) and compares them with the values baked into the file.
 */
	.code32
	.set SEEN, 0x8800
	.set MSR_EFER, 0xc0000080

	.macro save32 reg, off
	movl	\reg, SEEN + \off
	movl	$0, SEEN + \off + 4
	.endm

	.text
	.globl _start
_start:
	save32	%eax, 0x00
	save32	%ecx, 0x08
	save32	%edx, 0x10
	save32	%ebx, 0x18
	save32	%esp, 0x20
	save32	%ebp, 0x28
	save32	%esi, 0x30
	save32	%edi, 0x38
	pushfl
	popl	SEEN + 0x88
	movl	$0, SEEN + 0x8c
	movl	$_start, SEEN + 0x80
	movl	$0, SEEN + 0x84
	sidt	scratch
	movzwl	scratch, %eax
	mov	%ax, SEEN + 0x98
	mov	scratch + 2, %eax
	save32	%eax, 0x90
	sgdt	scratch
	movzwl	scratch, %eax
	mov	%ax, SEEN + 0x9e
	mov	scratch + 2, %eax
	save32	%eax, 0xa0
	mov	%cs, %ax
	mov	%ax, SEEN + 0xa8
	mov	%ds, %ax
	mov	%ax, SEEN + 0xb4
	mov	%cr0, %eax
	save32	%eax, 0xc8
	mov	%cr3, %eax
	save32	%eax, 0xd0
	mov	%cr4, %eax
	save32	%eax, 0xd8
	mov	$MSR_EFER, %ecx
	rdmsr
	mov	%eax, SEEN + 0xe0
	mov	%edx, SEEN + 0xe4
	/* r8-r15 and the GS base are not visible in 32-bit mode: the test expects what 64-bit code sees */
	jmp	enter64_and_check

	.bss
	.balign	16
scratch:	.skip	16
