/*
 * Test guest for a file with no VP context: the boot CPU starts in 16-bit real mode at the reset
 * vector (CS 0xf000, base 0xffff0000, IP 0xfff0). The image is linked at 0xfffff000; its last 16
 * bytes hold the reset vector, which calls _start so that the entry IP can be read back from the
 * stack. The guest saves what it observes into SEEN (low memory, DS base 0), enters protected mode,
 * then long mode (lib/enter64.S), and compares with the architectural reset state the test baked
 * into the file. EDX holds the CPUID signature after a reset, which depends on the host CPU: the
 * guest records the expected value in its place, so EDX is not compared.
 */
	.set EXPECT, 0x8000
	.set GDT_BASE, 0x7000
	.set GDT_LIMIT, 31
	.set PSEUDO, 0x8f00		/* where the GDTR image for LGDT is built */
	.set RESET_VECTOR_IP, 0xfff0
	.set CALL_LENGTH, 3

	.include "save32.inc"

	.code16
	.text
	.globl _start
_start:
	save32	%eax, 0x00
	/* before the SUB below changes the arithmetic flags (the CALL left them alone) */
	pushfl
	popl	SEEN + 0x88
	movl	$0, SEEN + 0x8c
	popw	%ax			/* return IP of the call at the reset vector */
	sub	$CALL_LENGTH, %ax
	movzwl	%ax, %eax
	save32	%eax, 0x80
	save32	%ecx, 0x08
	movl	EXPECT + 0x10, %eax	/* EDX is the CPUID signature: not compared */
	save32	%eax, 0x10
	save32	%ebx, 0x18
	save32	%esp, 0x20
	save32	%ebp, 0x28
	save32	%esi, 0x30
	save32	%edi, 0x38
	sidtl	PSEUDO
	movw	PSEUDO, %ax
	movw	%ax, SEEN + 0x98
	movl	PSEUDO + 2, %eax
	save32	%eax, 0x90
	sgdtl	PSEUDO
	movw	PSEUDO, %ax
	movw	%ax, SEEN + 0x9e
	movl	PSEUDO + 2, %eax
	save32	%eax, 0xa0
	save_system32

	/* to protected mode: flat 32-bit code at selector 0x18 of the file's GDT */
	movw	$GDT_LIMIT, PSEUDO
	movl	$GDT_BASE, PSEUDO + 2
	lgdtl	PSEUDO
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	$0x18, $protected

	.code32
protected:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$0x80000, %esp
	/* this page (below 4 GiB) stays mapped once paging is on: the file's tables map all 4 GiB */
	jmp	enter64_and_check

	/* the reset vector: the last 16 bytes of the 4 GiB address space */
	.code16
	.section .reset_vector, "ax"
reset_vector:
	call	_start
1:	hlt
	jmp	1b
