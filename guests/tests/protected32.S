/*
 * Test guest entered in 32-bit flat protected mode from the IGVM native context. It saves every
 * register it can observe (as 64-bit values with zero upper halves) before touching any, then
 * switches to long mode (lib/enter64.S) and compares them with the values baked into the file.
 */
	.code32

	.include "save32.inc"

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
	save_system32
	/* r8-r15 and the GS base are not visible in 32-bit mode: the test expects what 64-bit code sees */
	jmp	enter64_and_check

	.bss
	.balign	16
scratch:	.skip	16
